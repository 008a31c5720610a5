package detector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/topic"
)

// publishTimeout bounds one SNS Publish call (the SDK retries transient errors within it).
const publishTimeout = 5 * time.Second

// maxReasonBytes bounds the reason recorded with a health change.
const maxReasonBytes = 1000

// transition claims and delivers an event when the verdict differs from the last transition.
// The claim is a conditional write of the memory with the new sequence and the event as
// pending: an overlapping Run that also saw the transition loses the write and learns of the
// claim instead of publishing. Nothing is published without a claim.
func (w *watcher) transition(ctx context.Context, views []playlistView, v verdict, now time.Time) error {
	if v.Health == state.HealthUnknown {
		return nil
	}
	kind := v.Health
	if kind == w.lastKind() {
		return nil
	}
	// At least the claim time in milliseconds: sequences stay increasing and unique even if
	// the memory is lost, because they name the workflow executions.
	seq := max(w.doc.Sequence+1, now.UnixMilli())
	ev, err := w.event(kind, views, v, seq, now)
	if err == nil {
		err = ev.Validate()
	}
	if err != nil {
		w.fail("cannot build a valid "+string(kind)+" event", err)
		return nil
	}
	prevSeq, prevPending := w.doc.Sequence, w.doc.Pending
	w.doc.Sequence, w.doc.Pending = seq, &pendingEvent{Event: ev, Reason: truncate(v.Reason, maxReasonBytes)}
	if err := w.save(ctx); err != nil {
		w.doc.Sequence, w.doc.Pending = prevSeq, prevPending
		if !errors.Is(err, errLostLease) {
			w.fail("claim the "+string(kind)+" transition (it will be tried again)", err)
		}
		return err
	}
	if prevPending != nil {
		w.log.Warn("detector: unpublished event superseded", "event", prevPending.Event.Event, "sequence", prevPending.Event.Sequence)
	}
	w.log.Info("detector: transition claimed", "event", kind, "sequence", seq, "reason", v.Reason)
	return w.deliver(ctx)
}

// deliver finishes the pending event: publish it, record the health in the table, then mark it
// published in the memory. What fails is retried after RetryInterval, by this Run or the next.
func (w *watcher) deliver(ctx context.Context) error {
	p := w.doc.Pending
	if !p.Sent {
		if err := w.publish(ctx, p.Event); err != nil {
			w.nextRetry = time.Now().Add(w.cfg.RetryInterval)
			w.fail(fmt.Sprintf("publish the %s event, sequence %d (it will be retried)", p.Event.Event, p.Event.Sequence), err)
			return err
		}
		p.Sent = true
		w.res.published++
		w.log.Info("detector: event published", "event", p.Event.Event, "sequence", p.Event.Sequence,
			"stale_for_ms", p.Event.StaleForMS, "detected_at", p.Event.DetectedAt)
	}
	if !p.Recorded {
		reason := truncate(fmt.Sprintf("detector %s event, sequence %d: %s", p.Event.Event, p.Event.Sequence, p.Reason), 2*maxReasonBytes)
		in, err := w.d.registry.RecordHealth(ctx, w.inst.Cluster, w.inst.Domain, p.Event.Event, state.Change{By: w.inv.By, Reason: reason})
		if err != nil {
			w.nextRetry = time.Now().Add(w.cfg.RetryInterval)
			w.fail("record health "+string(p.Event.Event)+" (it will be retried)", err)
			return err
		}
		p.Recorded = true
		w.inst = in
	}
	w.doc.Published = &publishedRef{Event: p.Event.Event, Sequence: p.Event.Sequence, At: time.Now().UTC()}
	w.doc.Pending = nil
	if err := w.save(ctx); err != nil {
		if !errors.Is(err, errLostLease) {
			// The memory still says pending: the next save or Run publishes the same sequence again,
			// which the trigger ignores.
			w.fail("save the published event", err)
		}
		return err
	}
	return nil
}

// event builds the detector event of a transition (design.md 4.2). Playlists whose state is not
// known yet are left out. Each playlist read at least once carries its tracker's live edge, so
// that Confirm judges a fresh probe by the same rule as the tracker here, and its class, for the
// tolerances. The event stays within what the trigger accepts (see fitPlaylists).
func (w *watcher) event(kind state.Health, views []playlistView, v verdict, seq int64, now time.Time) (contract.DetectorEvent, error) {
	ev := contract.DetectorEvent{
		Version:           contract.EventVersion,
		Event:             kind,
		Cluster:           w.inst.Cluster,
		Domain:            w.inst.Domain,
		Region:            w.inst.Region,
		OriginPlaylistURL: w.inst.OriginPlaylistURL,
		Playlists:         []contract.PlaylistDetail{},
		DetectedAt:        now.UTC(),
		Sequence:          seq,
	}
	if kind == state.HealthStale || kind == state.HealthUnreachable {
		ev.StaleForMS = max(v.StaleFor.Milliseconds(), 0)
		if kind == state.HealthStale && ev.StaleForMS == 0 {
			ev.StaleForMS = 1
		}
	}
	var details []contract.PlaylistDetail
	for _, p := range views {
		if p.Health == state.HealthUnknown {
			continue
		}
		d := contract.PlaylistDetail{URL: p.URL, State: p.Health, MediaSequence: p.MediaSequence,
			TargetDuration: int(math.Ceil(p.TargetDuration.Seconds())), LiveEdge: p.LiveEdge, Class: p.Class}
		if !p.LastChange.IsZero() {
			d.LastChange = p.LastChange.UTC()
		}
		details = append(details, d)
	}
	err := fitPlaylists(&ev, details)
	ev.OmittedPlaylists += w.doc.Unwatched
	return ev, err
}

// fitPlaylists lists details in ev so that its JSON stays within contract.MaxEventBodyLen and
// contract.MaxPlaylists, which the trigger enforces. The stale and unreachable playlists (what
// the event is about) are kept first, then the others, each in the given order, as many as fit;
// the kept ones are listed in the given order and OmittedPlaylists counts the rest. Any one
// playlist fits (its URL is at most contract.MaxURLLen, its live edge URIs at most
// contract.MaxEdgeURILen each).
func fitPlaylists(ev *contract.DetectorEvent, details []contract.PlaylistDetail) error {
	var order []int // indexes of details, failing first
	for pass := range 2 {
		for i, d := range details {
			if failing := d.State == state.HealthStale || d.State == state.HealthUnreachable; failing == (pass == 0) {
				order = append(order, i)
			}
		}
	}
	// The event without playlists, with the widest count it could carry.
	ev.Playlists, ev.OmittedPlaylists = []contract.PlaylistDetail{}, len(details)
	base, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode the event: %w", err)
	}
	size, kept, n := len(base), make([]bool, len(details)), 0
	for _, i := range order {
		b, err := json.Marshal(details[i])
		if err != nil {
			return fmt.Errorf("encode playlist %s: %w", details[i].URL, err)
		}
		if n == contract.MaxPlaylists || size+len(b)+1 > contract.MaxEventBodyLen {
			continue // a shorter one later may still fit
		}
		kept[i], n, size = true, n+1, size+len(b)+1 // and a comma
	}
	for i, d := range details {
		if kept[i] {
			ev.Playlists = append(ev.Playlists, d)
		}
	}
	ev.OmittedPlaylists = len(details) - len(ev.Playlists)
	return nil
}

// publish sends the event to the region's topic with the message attributes subscribers filter
// on: event, cluster and region.
func (w *watcher) publish(ctx context.Context, ev contract.DetectorEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	_, err = w.d.publisher.Publish(ctx, EventMessage(w.cfg.TopicARN, ev, body))
	if err != nil {
		return fmt.Errorf("publish to %s: %w", w.cfg.TopicARN, err)
	}
	return nil
}

// EventMessage is the SNS message of a detector event whose JSON is body, with the attributes
// subscribers filter on (design.md 4.2).
func EventMessage(topicARN string, ev contract.DetectorEvent, body []byte) topic.Message {
	return topic.Message{TopicARN: topicARN, Body: string(body), Attributes: map[string]string{
		"event":   string(ev.Event),
		"cluster": ev.Cluster,
		"region":  ev.Region,
	}}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
