package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/metric"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// Fetcher GETs a playlist (*origin.Fetcher is one). Confirm asks for origin.CacheBust.
type Fetcher interface {
	Get(ctx context.Context, rawURL string, opts ...origin.Option) (*origin.Response, error)
}

// DefaultProbeConcurrency is how many playlists Confirm fetches at once by default: all an
// event can list, so that an origin that hangs costs one fetch timeout, not one per round,
// within the task's time limit.
const DefaultProbeConcurrency = contract.MaxPlaylists

// MaxClockSkew is how far this task's clock may lag the detector's: a probe that seems to come
// before the event's detected_at by at most this much counts as made at detected_at. A larger
// lag is an *contract.OriginProbeError.
const MaxClockSkew = 5 * time.Second

// Confirmer is the Confirm task: it does not trust the detector's verdict but probes the origin
// playlists itself, bypassing caches, and judges each fresh fetch with an hls.Tracker restored
// from the event's evidence (each playlist's media sequence, last change and live edge), so
// the same rule decides as in the detector: progress is a new segment at the live edge or a new
// LL-HLS part, trailing GAP segments are none. The instance's verdict is the detector's too
// (health.Decide with the same tolerances), made stricter where closing or reopening would be
// the mistake.
type Confirmer struct {
	Fetcher Fetcher
	// History is the state table's audit trail, read in fresh mode to check that the instance's
	// recorded health stayed fresh since the event.
	History HistoryReader
	// Policy is the health rule's settings: the trackers' staleness multiplier and failures to
	// be unreachable, and the stale or unreachable playlists tolerated per class. It must be the
	// detector's: health.PolicyFromEnv reads both from the same environment variables. Zero
	// fields mean the defaults.
	Policy health.Policy
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
	class   health.Class
	health  state.Health // "" when the probe cannot be judged (unjudged)
	reason  string
	good    bool // the fetch gave a readable playlist
	restart bool
}

// Confirm probes every playlist of the event now and reports whether the event still holds.
//
// In stale mode, confirmed means the instance is stale or unreachable by the detector's rule
// (health.Decide: in some class, more playlists than the policy tolerates are stale or
// unreachable), judged from the probes, and no playlist has ended or restarted (an ended stream
// or a restarted media sequence is never a failure). In fresh mode, confirmed means no playlist
// has ended, the instance is fresh by the same rule, with every playlist that failed to be
// read counted as unreachable, and the audit trail records no stale or unreachable health for
// the instance since the event's detected_at.
//
// Confirm probes the playlists the event lists. Those an event leaves out to stay small
// (OmittedPlaylists) were fresh or ended at detection; in fresh mode, the audit trail check
// covers them: the detector, which watches every playlist, records the instance stale or
// unreachable when one of them fails beyond the tolerance.
//
// An unreachable origin is a verdict; *contract.OriginProbeError means no verdict could be
// reached: the task ran out of time, or, in stale mode, the playlists that cannot be judged
// (see evidence) could decide it. Errors are workflow's named errors, returned unwrapped.
func (c *Confirmer) Confirm(ctx context.Context, in contract.ConfirmInput) (contract.ConfirmOutput, error) {
	if err := in.Validate(); err != nil {
		return contract.ConfirmOutput{}, err
	}
	pol, err := c.Policy.WithDefaults()
	if err != nil {
		return contract.ConfirmOutput{}, &contract.OriginProbeError{URL: in.Event.OriginPlaylistURL, Err: fmt.Errorf("confirm settings: %w", err)}
	}
	probes, err := c.probeAll(ctx, in.Mode, in.Event, pol)
	if err != nil {
		return contract.ConfirmOutput{}, err
	}
	var out contract.ConfirmOutput
	if in.Mode == contract.ConfirmStale {
		if out, err = verdictStale(probes, pol.Tolerance()); err != nil {
			return contract.ConfirmOutput{}, err
		}
	} else {
		out = verdictFresh(probes, pol.Tolerance())
		if out.Confirmed {
			relapse, err := c.relapse(ctx, in.Event)
			if err != nil {
				return contract.ConfirmOutput{}, err
			}
			if relapse != nil {
				out = contract.ConfirmOutput{Health: state.Health(relapse.After), Reason: fmt.Sprintf(
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

// verdictStale: confirmed while the instance is stale or unreachable by health.Decide, unless
// a playlist has ended or restarted. When unjudged playlists leave the rule undecided, no
// verdict is reached: an *OriginProbeError (not closing is the safe side, and operators are
// told to check, where a false alarm would tell them all is well).
func verdictStale(probes []probe, tol health.Tolerance) (contract.ConfirmOutput, error) {
	for _, p := range probes {
		switch {
		case p.health == state.HealthEnded:
			return contract.ConfirmOutput{Health: state.HealthEnded, Reason: p.url + ": " + p.reason}, nil
		case p.restart:
			// The tracker counts a restart as progress only once it advances, which one probe
			// cannot see; a restart is never a reason to close, so the origin counts as fresh.
			return contract.ConfirmOutput{Health: state.HealthFresh, Reason: p.url + ": " + p.reason}, nil
		}
	}
	v := health.Decide(playlists(probes, false), tol)
	switch v.Health {
	case state.HealthStale, state.HealthUnreachable:
		return contract.ConfirmOutput{Confirmed: true, Health: v.Health, Reason: v.Reason}, nil
	case state.HealthUnknown:
		var unjudged []string
		first := ""
		for _, p := range probes {
			if p.health == "" {
				unjudged = append(unjudged, p.url+": "+p.reason)
				first = cmp.Or(first, p.url)
			}
		}
		return contract.ConfirmOutput{}, &contract.OriginProbeError{URL: first, Err: fmt.Errorf(
			"%d playlist(s) cannot be judged and could decide the verdict (%s): %s; not closing",
			len(unjudged), v.Reason, strings.Join(unjudged, "; "))}
	}
	return contract.ConfirmOutput{Health: v.Health, Reason: v.Reason + ": " + joinProbes(probes)}, nil
}

// verdictFresh: confirmed when no playlist has ended and the instance is fresh by
// health.Decide, every playlist that could not be read counting as unreachable.
func verdictFresh(probes []probe, tol health.Tolerance) contract.ConfirmOutput {
	for _, p := range probes {
		if p.health == state.HealthEnded {
			return contract.ConfirmOutput{Health: state.HealthEnded, Reason: p.url + ": " + p.reason}
		}
	}
	v := health.Decide(playlists(probes, true), tol)
	if v.Health != state.HealthFresh {
		return contract.ConfirmOutput{Health: v.Health, Reason: v.Reason}
	}
	return contract.ConfirmOutput{Confirmed: true, Health: state.HealthFresh, Reason: v.Reason + ": " + joinProbes(probes)}
}

// playlists are the probes as health.Decide sees them; an unjudged probe's health is unknown.
// With failedIsUnreachable, a playlist that could not be read counts as unreachable (even
// after a single failure, which its tracker alone would forgive).
func playlists(probes []probe, failedIsUnreachable bool) []health.Playlist {
	out := make([]health.Playlist, len(probes))
	for i, p := range probes {
		h := p.health
		reason := p.reason
		switch {
		case p.health == "":
			h = state.HealthUnknown
		case failedIsUnreachable && !p.good:
			h = state.HealthUnreachable
			reason = "not read: " + reason
		}
		out[i] = health.Playlist{URL: p.url, Class: p.class, Health: h, Reason: reason}
	}
	return out
}

func joinProbes(probes []probe) string {
	parts := make([]string, len(probes))
	for i, p := range probes {
		h := string(p.health)
		if h == "" {
			h = "not judged"
		}
		parts[i] = p.url + ": " + h + ": " + p.reason
	}
	return strings.Join(parts, "; ")
}

// relapse returns the first stale or unreachable health record of the instance at or after
// the event's detected_at, or nil.
func (c *Confirmer) relapse(ctx context.Context, e contract.DetectorEvent) (*state.AuditRecord, error) {
	if c.History == nil {
		return nil, &contract.StateStoreError{Op: "read", Err: errors.New("confirm in fresh mode needs the state table's audit trail, and none is configured")}
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
func (c *Confirmer) probeAll(ctx context.Context, mode contract.ConfirmMode, e contract.DetectorEvent, pol health.Policy) ([]probe, error) {
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
			probes[i], errs[i] = c.probe(ctx, mode, e, p, pol)
		}()
	}
	wg.Wait()
	// The first error in event order, as a named error: an invalid input wins over a probe error
	// (it is not retried).
	var first error
	for _, err := range errs {
		var invalid *contract.InvalidInputError
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
func (c *Confirmer) probe(ctx context.Context, mode contract.ConfirmMode, e contract.DetectorEvent, p contract.PlaylistDetail, pol health.Policy) (probe, error) {
	class := p.Class
	if class == "" {
		class = health.Video // an event from before class: the detector's rule for unknown content
	}
	if hls.HasVariableReference(p.URL) {
		// Its 404 would confirm a failure that is not the origin's.
		return probe{}, &contract.InvalidInputError{What: "confirm input", Problems: []string{
			fmt.Sprintf("event.playlists %s: holds an EXT-X-DEFINE variable reference ({$name}), which is never polled", p.URL)}}
	}
	resp, err := c.Fetcher.Get(ctx, p.URL, origin.CacheBust())
	at := now(c.Now)
	if at.Before(e.DetectedAt) && e.DetectedAt.Sub(at) <= MaxClockSkew {
		at = e.DetectedAt
	}
	if ctx.Err() != nil {
		// Our own deadline ran out: that says nothing about the origin.
		return probe{}, &contract.OriginProbeError{URL: p.URL, Err: ctx.Err()}
	}
	obs := hls.Observation{At: at}
	var media *hls.Media
	var status *origin.StatusError
	switch {
	case errors.As(err, &status):
		obs.Status = status.StatusCode
	case errors.Is(err, origin.ErrTooLarge):
		obs.Err = &hls.TooLargeError{Limit: pol.Tracker.MaxBody} // the tracker leaves it unjudged
	case err != nil:
		obs.Err = err
	default:
		obs.Status, obs.Body = resp.StatusCode, resp.Body
		if media, err = hls.ParseMedia(resp.Body); err != nil && p.TargetDuration == 0 {
			// The entry of an origin that never answered may be its master playlist.
			if _, merr := hls.ParseMaster(resp.Body); merr == nil {
				return probe{url: p.URL, class: class, health: state.HealthFresh, good: true,
					reason: fmt.Sprintf("the master playlist answers again (HTTP %d)", resp.StatusCode)}, nil
			}
		}
	}
	st, judged, err := evidence(mode, e, p, media, pol)
	if err != nil {
		return probe{}, err
	}
	if !judged {
		return probe{url: p.URL, class: class, good: true, reason: fmt.Sprintf(
			"no live-edge evidence to compare: still at media sequence %d, as in the event, which carries no live_edge for it, so whether it got new segments since (a window that grows without sliding, an EVENT playlist) cannot be told", p.MediaSequence)}, nil
	}
	tr, err := hls.RestoreTracker(pol.Tracker, st)
	if err != nil {
		return probe{}, &contract.InvalidInputError{What: "confirm input", Problems: []string{
			fmt.Sprintf("event.playlists %s: evidence does not restore a tracker: %v", p.URL, err)}}
	}
	r := tr.Observe(obs)
	if errors.Is(r.Err, hls.ErrTooLarge) {
		metric.TooLarge(logger(c.Log), at, p.URL, pol.Tracker.MaxBody, "confirm: playlist over the size limit left unjudged (neither stale nor unreachable)")
	}
	if errors.Is(r.Err, hls.ErrOutOfOrder) {
		return probe{}, &contract.OriginProbeError{URL: p.URL, Err: fmt.Errorf("probe time %s is more than %s before the event's detected_at %s (clock skew?): %w",
			at.UTC().Format(time.RFC3339Nano), MaxClockSkew, e.DetectedAt.UTC().Format(time.RFC3339Nano), r.Err)}
	}
	return probe{url: p.URL, class: class, health: r.Health, reason: r.Reason, good: r.Err == nil, restart: r.Restart}, nil
}

// evidence restores what the detector's tracker knew of playlist p when it sent the event, and
// whether the probe can be judged against it.
//
// The live edge (newest non-GAP segment, newest LL-HLS part, discontinuity sequence) comes from
// the event's live_edge, the detector's tracker memory itself: the restored tracker then judges
// the probe by its one rule, so an EVENT playlist or a growing window that got a new segment is
// progress, and one that did not (or only got GAP segments) is none.
//
// An event without live_edge for p (sent before the field existed, or p's URIs were too long
// to carry) has only the media sequence. A probe at another media sequence is judged from that
// (a window that moved got new segments; one that went back restarted), as is one that has
// ended. A probe still at the event's media sequence cannot be judged: a sliding window that
// stalled looks the same as a window that grows without sliding (an EVENT playlist, the first
// minutes of a live stream, a packager that keeps every segment) and resumed after the event.
// In stale mode that probe is reported unjudged (judged false), never taken as no progress,
// because a false alarm must never close a distribution. In fresh mode its own live edge is
// taken as the event's, so it counts as no progress since the event: the failback's safe side
// (the distribution is not reopened).
func evidence(mode contract.ConfirmMode, e contract.DetectorEvent, p contract.PlaylistDetail, probe *hls.Media, pol health.Policy) (hls.TrackerState, bool, error) {
	fresh, err := hls.NewTracker(pol.Tracker)
	if err != nil {
		return hls.TrackerState{}, false, &contract.OriginProbeError{URL: p.URL, Err: err}
	}
	st := hls.TrackerState{Version: fresh.Snapshot().Version, LastObserved: e.DetectedAt}
	minFailures := pol.Tracker.MinFailures
	if p.TargetDuration == 0 {
		// Never read: the detector has seen nothing but failures.
		st.Health, st.Failures = state.HealthUnreachable, minFailures
		return st, true, nil
	}
	lastChange := p.LastChange
	if lastChange.IsZero() {
		lastChange = e.DetectedAt.Add(-time.Duration(e.StaleForMS) * time.Millisecond)
	}
	if lastChange.After(e.DetectedAt) {
		return st, false, &contract.InvalidInputError{What: "confirm input", Problems: []string{
			fmt.Sprintf("event.playlists %s: last_change %s is after detected_at %s", p.URL,
				lastChange.UTC().Format(time.RFC3339Nano), e.DetectedAt.UTC().Format(time.RFC3339Nano))}}
	}
	st.MediaSequence = p.MediaSequence
	st.TargetDurationMS = int64(p.TargetDuration) * 1000
	st.LastChange = lastChange
	st.Health = p.State
	st.GoodHealth = st.Health
	st.LastGood = e.DetectedAt
	st.Ended = p.State == state.HealthEnded
	if p.State == state.HealthUnreachable {
		// Read before, failing since: the last good read is at least as old as the last change.
		st.GoodHealth, st.LastGood, st.Failures = state.HealthFresh, lastChange, minFailures
	}
	switch {
	case p.LiveEdge != nil:
		p.LiveEdge.ApplyTo(&st)
	case probe != nil && probe.MediaSequence == p.MediaSequence && !probe.Ended:
		if mode == contract.ConfirmStale {
			return st, false, nil
		}
		st.DiscontinuitySequence = probe.DiscontinuitySequence
		st.Segments = probe.Segments
		st.LastSegmentURI = probe.LastSegmentURI
		st.TrailingGaps = probe.TrailingGaps
		st.EdgeSequence = probe.EdgeSequence
		st.EdgeURI = probe.EdgeURI
		st.LastPartURI = probe.LastPartURI
	}
	return st, true, nil
}
