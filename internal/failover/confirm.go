package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/grafov/m3u8"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/workflow"
)

// Fetcher GETs a playlist (*origin.Fetcher is one). Confirm asks for origin.CacheBust.
type Fetcher interface {
	Get(ctx context.Context, rawURL string, opts ...origin.Option) (*origin.Response, error)
}

// DefaultProbeConcurrency is how many playlists Confirm fetches at once by default: all an
// event can list, so that an origin that hangs costs one fetch timeout, not one per round,
// within the task's time limit.
const DefaultProbeConcurrency = workflow.MaxPlaylists

// MaxClockSkew is how far this task's clock may lag the detector's: a probe that seems to come
// before the event's detected_at by at most this much counts as made at detected_at. A larger
// lag is an *workflow.OriginProbeError.
const MaxClockSkew = 5 * time.Second

// Confirmer is the Confirm task: it does not trust the detector's verdict but probes the origin
// playlists itself, bypassing caches, and judges each fresh fetch with an hls.Tracker restored
// from the event's evidence (each playlist's media sequence, last change and live edge), so
// the same rule decides as in the detector: progress is a new segment at the live edge or a new
// LL-HLS part, trailing GAP segments are none.
type Confirmer struct {
	Fetcher Fetcher
	// History is the state table's audit trail, read in fresh mode to check that the instance's
	// recorded health stayed fresh since the event.
	History HistoryReader
	// Tracker configures the trackers; it should match the detector's.
	Tracker hls.TrackerConfig
	// Concurrency bounds parallel fetches; 0 means DefaultProbeConcurrency.
	Concurrency int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives one line per verdict; nil means slog.Default().
	Log *slog.Logger
}

// probe is one playlist's verdict.
type probe struct {
	url     string
	health  hls.Health
	reason  string
	good    bool // the fetch gave a readable playlist
	restart bool
}

// Confirm probes every playlist of the event now and reports whether the event still holds.
//
// In stale mode, confirmed means at least one playlist is still stale or unreachable by the
// tracker's rules, and none has ended or restarted (an ended stream or a restarted media
// sequence is never a failure). In fresh mode, confirmed means every playlist was read and is
// fresh, and the audit trail records no stale or unreachable health for the instance since the
// event's detected_at. An unreachable origin is a verdict; *workflow.OriginProbeError means no
// verdict could be reached (the task ran out of time, the evidence cannot judge the playlist).
// Errors are workflow's named errors, returned unwrapped.
func (c *Confirmer) Confirm(ctx context.Context, in workflow.ConfirmInput) (workflow.ConfirmOutput, error) {
	if err := in.Validate(); err != nil {
		return workflow.ConfirmOutput{}, err
	}
	probes, err := c.probeAll(ctx, in.Event)
	if err != nil {
		return workflow.ConfirmOutput{}, err
	}
	var out workflow.ConfirmOutput
	if in.Mode == workflow.ConfirmStale {
		out = verdictStale(probes)
	} else {
		out = verdictFresh(probes)
		if out.Confirmed {
			relapse, err := c.relapse(ctx, in.Event)
			if err != nil {
				return workflow.ConfirmOutput{}, err
			}
			if relapse != nil {
				out = workflow.ConfirmOutput{Health: state.Health(relapse.After), Reason: fmt.Sprintf(
					"the origin answers fresh now, but its recorded health went %s at %s (%s) after the fresh event",
					relapse.After, relapse.At.UTC().Format(time.RFC3339), relapse.Reason)}
			}
		}
	}
	out.Reason = limitReason(out.Reason)
	out.ProbedAt = now(c.Now).UTC()
	logger(c.Log).Info("confirm", "mode", in.Mode, "cluster", in.Event.Cluster, "domain", in.Event.Domain,
		"sequence", in.Event.Sequence, "confirmed", out.Confirmed, "health", out.Health, "reason", out.Reason)
	return out, nil
}

// verdictStale: confirmed while a playlist is still stale or unreachable, unless one has ended
// or restarted.
func verdictStale(probes []probe) workflow.ConfirmOutput {
	for _, p := range probes {
		if p.restart || p.health == hls.HealthEnded {
			return workflow.ConfirmOutput{Health: state.Health(p.health), Reason: p.url + ": " + p.reason}
		}
	}
	var failing []string
	health := hls.HealthFresh
	for _, p := range probes {
		if p.health == hls.HealthStale || p.health == hls.HealthUnreachable {
			if health == hls.HealthFresh {
				health = p.health
			}
			failing = append(failing, p.url+": "+string(p.health)+": "+p.reason)
		}
	}
	if len(failing) > 0 {
		return workflow.ConfirmOutput{Confirmed: true, Health: state.Health(health), Reason: strings.Join(failing, "; ")}
	}
	return workflow.ConfirmOutput{Health: state.HealthFresh, Reason: joinProbes(probes)}
}

// verdictFresh: confirmed when every playlist was read and is fresh.
func verdictFresh(probes []probe) workflow.ConfirmOutput {
	for _, p := range probes {
		if !p.good || p.health != hls.HealthFresh {
			return workflow.ConfirmOutput{Health: state.Health(p.health), Reason: p.url + ": " + string(p.health) + ": " + p.reason}
		}
	}
	return workflow.ConfirmOutput{Confirmed: true, Health: state.HealthFresh, Reason: joinProbes(probes)}
}

func joinProbes(probes []probe) string {
	parts := make([]string, len(probes))
	for i, p := range probes {
		parts[i] = p.url + ": " + string(p.health) + ": " + p.reason
	}
	return strings.Join(parts, "; ")
}

// relapse returns the first stale or unreachable health record of the instance at or after
// the event's detected_at, or nil.
func (c *Confirmer) relapse(ctx context.Context, e workflow.DetectorEvent) (*state.AuditRecord, error) {
	if c.History == nil {
		return nil, &workflow.StateStoreError{Op: "read", Err: errors.New("confirm in fresh mode needs the state table's audit trail, and none is configured")}
	}
	q := state.HistoryQuery{Cluster: e.Cluster, Domain: e.Domain, Limit: historyPage}
	var found *state.AuditRecord
	for read := 0; read < maxHistoryRead; {
		page, err := c.History.History(ctx, q)
		if err != nil {
			return nil, storeError("read", e.Cluster, e.Domain, err)
		}
		for i := range page.Records {
			r := page.Records[i]
			if r.At.Before(e.DetectedAt) {
				return found, nil
			}
			if r.Field == state.FieldHealth && state.Health(r.After).IsStale() {
				found = &r // newest first: keep going to report the first one
			}
		}
		read += len(page.Records)
		if page.Next == "" || len(page.Records) == 0 {
			break
		}
		q.Cursor = page.Next
	}
	return found, nil
}

// probeAll probes the event's playlists, at most Concurrency at a time, in event order.
func (c *Confirmer) probeAll(ctx context.Context, e workflow.DetectorEvent) ([]probe, error) {
	n := c.Concurrency
	if n <= 0 {
		n = DefaultProbeConcurrency
	}
	probes := make([]probe, len(e.Playlists))
	errs := make([]error, len(e.Playlists))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, p := range e.Playlists {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			probes[i], errs[i] = c.probe(ctx, e, p)
		}()
	}
	wg.Wait()
	// The first error in event order, as a named error: an invalid input wins over a probe error
	// (it is not retried).
	var first error
	for _, err := range errs {
		var invalid *workflow.InvalidInputError
		if errors.As(err, &invalid) {
			return nil, invalid
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return probes, nil
}

// probe fetches one playlist, cache-busted, and judges it with a tracker restored from the
// event's evidence.
func (c *Confirmer) probe(ctx context.Context, e workflow.DetectorEvent, p workflow.PlaylistDetail) (probe, error) {
	resp, err := c.Fetcher.Get(ctx, p.URL, origin.CacheBust())
	at := now(c.Now)
	if at.Before(e.DetectedAt) && e.DetectedAt.Sub(at) <= MaxClockSkew {
		at = e.DetectedAt
	}
	if ctx.Err() != nil {
		// Our own deadline ran out: that says nothing about the origin.
		return probe{}, &workflow.OriginProbeError{URL: p.URL, Err: ctx.Err()}
	}
	obs := hls.Observation{At: at}
	var media *hls.Media
	var status *origin.StatusError
	switch {
	case errors.As(err, &status):
		obs.Status = status.StatusCode
	case err != nil:
		obs.Err = err
	default:
		obs.Status, obs.Body = resp.StatusCode, resp.Body
		if media, err = hls.ParseMedia(resp.Body); err != nil && p.TargetDuration == 0 {
			// The entry of an origin that never answered may be its master playlist.
			if _, merr := hls.ParseMaster(resp.Body); merr == nil {
				return probe{url: p.URL, health: hls.HealthFresh, good: true,
					reason: fmt.Sprintf("the master playlist answers again (HTTP %d)", resp.StatusCode)}, nil
			}
		}
	}
	st, err := c.evidence(e, p, media)
	if err != nil {
		return probe{}, err
	}
	tr, err := hls.RestoreTracker(c.Tracker, st)
	if err != nil {
		return probe{}, &workflow.InvalidInputError{What: "confirm input", Problems: []string{
			fmt.Sprintf("event.playlists %s: evidence does not restore a tracker: %v", p.URL, err)}}
	}
	r := tr.Observe(obs)
	if errors.Is(r.Err, hls.ErrOutOfOrder) {
		return probe{}, &workflow.OriginProbeError{URL: p.URL, Err: fmt.Errorf("probe time %s is more than %s before the event's detected_at %s (clock skew?): %w",
			at.UTC().Format(time.RFC3339Nano), MaxClockSkew, e.DetectedAt.UTC().Format(time.RFC3339Nano), r.Err)}
	}
	return probe{url: p.URL, health: r.Health, reason: r.Reason, good: r.Err == nil, restart: r.Restart}, nil
}

// evidence restores what the detector's tracker knew of playlist p when it sent the event.
//
// The live edge (newest non-GAP segment, newest LL-HLS part, discontinuity sequence) comes from
// the event's live_edge, the detector's tracker memory itself: the restored tracker then judges
// the probe by its one rule, so an EVENT playlist or a growing window that got a new segment is
// progress, and one that did not (or only got GAP segments) is none.
//
// An event without live_edge (sent before the field existed) carries only the media sequence.
// Then the live edge is taken from the fresh fetch when its media sequence is the evidence's
// (taken as: the sliding window has not moved, no new segment), and left unknown otherwise (the
// window moved, or the sequence went back: a restart). An EVENT playlist never moves its window,
// so its progress cannot be judged that way: that is an *OriginProbeError.
func (c *Confirmer) evidence(e workflow.DetectorEvent, p workflow.PlaylistDetail, probe *hls.Media) (hls.TrackerState, error) {
	fresh, err := hls.NewTracker(c.Tracker)
	if err != nil {
		return hls.TrackerState{}, &workflow.OriginProbeError{URL: p.URL, Err: err}
	}
	st := hls.TrackerState{Version: fresh.Snapshot().Version, LastObserved: e.DetectedAt}
	minFailures := c.Tracker.MinFailures
	if minFailures == 0 {
		minFailures = 2 // the tracker's default
	}
	if p.TargetDuration == 0 {
		// Never read: the detector has seen nothing but failures.
		st.Health, st.Failures = hls.HealthUnreachable, minFailures
		return st, nil
	}
	lastChange := p.LastChange
	if lastChange.IsZero() {
		lastChange = e.DetectedAt.Add(-time.Duration(e.StaleForMS) * time.Millisecond)
	}
	if lastChange.After(e.DetectedAt) {
		return st, &workflow.InvalidInputError{What: "confirm input", Problems: []string{
			fmt.Sprintf("event.playlists %s: last_change %s is after detected_at %s", p.URL,
				lastChange.UTC().Format(time.RFC3339Nano), e.DetectedAt.UTC().Format(time.RFC3339Nano))}}
	}
	st.MediaSequence = p.MediaSequence
	st.TargetDurationMS = int64(p.TargetDuration) * 1000
	st.LastChange = lastChange
	st.Health = hls.Health(p.State)
	st.GoodHealth = st.Health
	st.LastGood = e.DetectedAt
	st.Ended = p.State == state.HealthEnded
	if p.State == state.HealthUnreachable {
		// Read before, failing since: the last good read is at least as old as the last change.
		st.GoodHealth, st.LastGood, st.Failures = hls.HealthFresh, lastChange, minFailures
	}
	switch {
	case p.LiveEdge != nil:
		p.LiveEdge.ApplyTo(&st)
	case probe != nil && probe.MediaSequence == p.MediaSequence:
		if probe.Playlist != nil && probe.Playlist.MediaType == m3u8.EVENT {
			return st, &workflow.OriginProbeError{URL: p.URL, Err: errors.New(
				"an EVENT playlist keeps its media sequence while it grows, and the event carries no live_edge, so its evidence (media sequence only) cannot tell whether it advanced")}
		}
		st.DiscontinuitySequence = probe.DiscontinuitySequence
		st.Segments = probe.Segments
		st.LastSegmentURI = probe.LastSegmentURI
		st.TrailingGaps = probe.TrailingGaps
		st.EdgeSequence = probe.EdgeSequence
		st.EdgeURI = probe.EdgeURI
		st.LastPartURI = probe.LastPartURI
	}
	return st, nil
}
