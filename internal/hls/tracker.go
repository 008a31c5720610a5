package hls

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// Observation is one fetch of a media playlist, as the fetcher saw it.
type Observation struct {
	// At is when the response arrived. Observations must come in time order.
	At time.Time
	// Status is the HTTP status code; 0 when the body did not come over HTTP (an S3 GetObject
	// that succeeded, a file). Only 2xx bodies are read; 304 Not Modified repeats the last good
	// playlist.
	Status int
	// Err is a transport failure (timeout, refused connection), or ReadLimited's *TooLargeError,
	// which leaves the playlist unjudged.
	Err error
	// Body is the response body. The tracker does not keep a reference to it.
	Body []byte
}

// Report is a Tracker's conclusion after one observation.
type Report struct {
	// Health is "" when the observation cannot be judged: a body over the limit, which is a
	// configuration error (the limit is too small for the playlist), not a health failure.
	Health state.Health
	// Reason says why, for people: what changed, for how long nothing has, what failed.
	Reason string
	// Changed reports progress since the previous good observation: a new segment at the live
	// edge, or a new LL-HLS part.
	Changed bool
	// Restart reports that the media or discontinuity sequence went backwards: the encoder or
	// packager restarted, or two copies of the playlist answer in turn. It is progress only once
	// the restarted playlist itself advances to a live edge other than the one before the
	// restart, so two frozen copies in turn go stale on time.
	Restart bool
	// Err says why this observation failed (*HTTPStatusError, *TooLargeError, an error wrapping
	// ErrNotMediaPlaylist or the fetcher's transport error) or was ignored (ErrOutOfOrder); nil for
	// a good observation.
	Err      error
	Evidence Evidence
}

// Evidence is what the conclusion rests on: the last good observation's playlist facts and the
// tracker's timing.
type Evidence struct {
	MediaSequence         uint64
	DiscontinuitySequence uint64
	Segments              int
	LastSegmentURI        string
	// LastPartURI is the newest LL-HLS part (EXT-X-PART), "" without parts.
	LastPartURI string
	// TrailingGaps counts segments marked EXT-X-GAP at the live edge.
	TrailingGaps int
	// TargetDuration is what staleness is judged by (Media.JudgedTargetDuration: the tag's
	// value, or the longest recent EXTINF rounded if that is longer), and Threshold the
	// multiplier times it.
	TargetDuration time.Duration
	Threshold      time.Duration
	// LastChange is when progress was last seen, LastGood when the playlist was last read.
	LastChange time.Time
	LastGood   time.Time
	// StaleFor is how long the playlist has shown no progress, as of this observation.
	StaleFor            time.Duration
	ConsecutiveFailures int
}

// HTTPStatusError is a response whose status is not 2xx (or a 304 with nothing to repeat).
// Its body is never read.
type HTTPStatusError struct {
	Status int
}

func (e *HTTPStatusError) Error() string { return fmt.Sprintf("HTTP status %d", e.Status) }

// ErrOutOfOrder is an observation older than the previous one (or with no time). It is ignored.
var ErrOutOfOrder = errors.New("observation out of order")

// DefaultMultiplier is the staleness multiplier when none is set: RFC 8216bis 6.2.1 and 6.3.4 let
// a live playlist go 1.5 target durations without a change.
const DefaultMultiplier = 1.5

// StaleAfter is the one staleness rule: a playlist whose judged target duration is td
// (Media.JudgedTargetDuration) is stale, or unreachable, once it has gone longer than
// multiplier x td without progress, or without an answer. The tracker, the detector, the
// Confirm task and the sweeper all judge by it.
func StaleAfter(multiplier float64, td time.Duration) time.Duration {
	return time.Duration(multiplier * float64(td))
}

// TrackerConfig tunes a Tracker. The zero value means the defaults.
type TrackerConfig struct {
	// Multiplier times EXT-X-TARGETDURATION is how long a playlist may stay unchanged, or
	// unreadable, before it is stale, or unreachable (StaleAfter). Default DefaultMultiplier.
	Multiplier float64
	// MaxBody is the largest body read, in bytes. Default DefaultMaxBody.
	MaxBody int64
	// MinFailures is how many consecutive failed observations it takes to be unreachable, on
	// top of the time threshold. Default 2: a single failure changes nothing.
	MinFailures int
}

func (c TrackerConfig) withDefaults() (TrackerConfig, error) {
	if c.Multiplier == 0 {
		c.Multiplier = DefaultMultiplier
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MinFailures == 0 {
		c.MinFailures = 2
	}
	switch {
	case math.IsNaN(c.Multiplier) || c.Multiplier <= 0 || c.Multiplier > 100:
		return c, fmt.Errorf("tracker config: multiplier %g is not in (0, 100]", c.Multiplier)
	case c.MaxBody < 0:
		return c, fmt.Errorf("tracker config: max body %d is negative", c.MaxBody)
	case c.MinFailures < 0:
		return c, fmt.Errorf("tracker config: min failures %d is negative", c.MinFailures)
	}
	return c, nil
}

// Tracker follows one media playlist through successive observations and says whether it is
// fresh, stale, unreachable or ended. It reads time only from the observations. Snapshot and
// RestoreTracker carry its memory across processes. A Tracker is not safe for concurrent use.
type Tracker struct {
	cfg TrackerConfig
	s   TrackerState
	// body is the last good body: an identical one needs no parse. Not part of snapshots.
	body []byte
	// sum stands for a last good body longer than keptBody: a long EVENT playlist is not kept
	// in memory once per playlist.
	sum *[sha256.Size]byte
}

// keptBody is the longest last good body a Tracker keeps; longer ones are remembered by hash.
const keptBody = 256 << 10

// NewTracker returns a Tracker that has observed nothing yet.
func NewTracker(cfg TrackerConfig) (*Tracker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Tracker{cfg: cfg, s: TrackerState{Version: trackerStateVersion}}, nil
}

// Observe takes one observation and reports the conclusion. A failed observation (transport
// error, non-2xx status, oversized body, a body that is not a media playlist) is never parsed
// as a playlist and changes nothing on its own: the playlist becomes unreachable only after
// MinFailures consecutive failures spanning more than the threshold since the last good one.
func (t *Tracker) Observe(o Observation) Report {
	if o.At.IsZero() {
		return t.ignore(fmt.Errorf("%w: no time", ErrOutOfOrder))
	}
	if !t.s.LastObserved.IsZero() && o.At.Before(t.s.LastObserved) {
		return t.ignore(fmt.Errorf("%w: %s is before the previous observation at %s",
			ErrOutOfOrder, o.At.Format(time.RFC3339Nano), t.s.LastObserved.Format(time.RFC3339Nano)))
	}
	t.s.LastObserved = o.At
	m, err := t.read(o)
	if errors.Is(err, ErrTooLarge) {
		return t.unjudged(err)
	}
	if err != nil {
		return t.fail(o.At, err)
	}
	return t.good(o.At, m)
}

// read classifies an observation. It returns the parsed playlist, or nil and no error when the
// playlist is the last good one again (identical body or 304).
func (t *Tracker) read(o Observation) (*Media, error) {
	switch {
	case o.Err != nil:
		return nil, fmt.Errorf("transport: %w", o.Err)
	case o.Status == 304 && t.hasGood():
		return nil, nil
	case o.Status != 0 && (o.Status < 200 || o.Status > 299):
		return nil, &HTTPStatusError{Status: o.Status}
	case int64(len(o.Body)) > t.cfg.MaxBody:
		return nil, &TooLargeError{Limit: t.cfg.MaxBody}
	case t.body != nil && bytes.Equal(o.Body, t.body):
		return nil, nil
	case t.sum != nil && len(o.Body) > keptBody && sha256.Sum256(o.Body) == *t.sum:
		return nil, nil
	}
	m, err := ParseMedia(o.Body)
	if err != nil {
		return nil, err
	}
	if len(o.Body) > keptBody {
		sum := sha256.Sum256(o.Body)
		t.body, t.sum = nil, &sum
	} else {
		t.body, t.sum = append(t.body[:0], o.Body...), nil
	}
	return m, nil
}

func (t *Tracker) hasGood() bool { return !t.s.LastGood.IsZero() }

func (t *Tracker) threshold() time.Duration {
	return StaleAfter(t.cfg.Multiplier, time.Duration(t.s.TargetDurationMS)*time.Millisecond)
}

// good concludes from a good observation; m is nil when the playlist is the last good one.
func (t *Tracker) good(at time.Time, m *Media) Report {
	var r Report
	var what string
	first := !t.hasGood()
	if m != nil {
		prev := t.s
		switch {
		case first:
			what = fmt.Sprintf("first observation, media sequence %d", m.MediaSequence)
		case m.MediaSequence < prev.MediaSequence:
			r.Restart = true
			what = fmt.Sprintf("restart: media sequence went back from %d to %d", prev.MediaSequence, m.MediaSequence)
		case m.DiscontinuitySequence < prev.DiscontinuitySequence:
			r.Restart = true
			what = fmt.Sprintf("restart: discontinuity sequence went back from %d to %d", prev.DiscontinuitySequence, m.DiscontinuitySequence)
		case m.EdgeURI != "" && (prev.EdgeURI == "" || m.EdgeSequence > prev.EdgeSequence ||
			trackerURIKey(m.EdgeURI) != trackerURIKey(prev.EdgeURI)):
			r.Changed = true
			what = fmt.Sprintf("new segment at the live edge, media sequence %d", m.EdgeSequence)
		case m.LastPartURI != "" && trackerURIKey(m.LastPartURI) != trackerURIKey(prev.LastPartURI):
			r.Changed = true
			what = "new partial segment " + m.LastPartURI
		}
		switch {
		case r.Restart:
			// Not progress yet: remember the live edge from before the restart, so that the
			// restarted playlist counts only when it moves on to something else.
			if !prev.Restarted {
				t.s.Restarted, t.s.PreRestartEdge = true, trackerURIKey(prev.EdgeURI)+"#"+trackerURIKey(prev.LastPartURI)
			}
			what += "; not progress until the restarted playlist advances"
		case r.Changed && prev.Restarted:
			if trackerURIKey(m.EdgeURI)+"#"+trackerURIKey(m.LastPartURI) == prev.PreRestartEdge {
				r.Changed = false
				what = fmt.Sprintf("back at the live edge from before the restart (media sequence %d): no progress", m.EdgeSequence)
			}
			t.s.Restarted, t.s.PreRestartEdge = false, ""
		}
		if first || r.Changed {
			// Trailing GAP segments are time that passed without media: progress happened at
			// least their duration ago, but not before the previous good observation showed none.
			since := at.Add(-m.TrailingGapDuration)
			if !first && since.Before(prev.LastGood) {
				since = prev.LastGood
			}
			t.s.LastChange = since
		}
		t.setFacts(m)
	}
	t.s.LastGood = at
	t.s.Failures = 0

	staleFor, threshold := at.Sub(t.s.LastChange), t.threshold()
	var parts []string
	if what != "" {
		parts = append(parts, what)
	}
	switch {
	case t.s.Ended:
		r.Health = state.HealthEnded
		parts = append(parts, "#EXT-X-ENDLIST: the stream has ended")
	case staleFor > threshold:
		r.Health = state.HealthStale
		parts = append(parts, fmt.Sprintf("no progress for %s, over %s (%g x target duration %s)",
			staleFor, threshold, t.cfg.Multiplier, time.Duration(t.s.TargetDurationMS)*time.Millisecond))
	default:
		r.Health = state.HealthFresh
		if !r.Changed && !first {
			parts = append(parts, fmt.Sprintf("no progress for %s, within %s", staleFor, threshold))
		}
	}
	if t.s.TrailingGaps > 0 && !t.s.Ended {
		parts = append(parts, fmt.Sprintf("%d GAP segment(s) at the live edge", t.s.TrailingGaps))
	}
	r.Reason = strings.Join(parts, "; ")
	t.s.GoodHealth, t.s.Health = r.Health, r.Health
	r.Evidence = t.evidence(at)
	return r
}

func (t *Tracker) setFacts(m *Media) {
	t.s.MediaSequence = m.MediaSequence
	t.s.DiscontinuitySequence = m.DiscontinuitySequence
	t.s.Segments = m.Segments
	t.s.LastSegmentURI = m.LastSegmentURI
	t.s.TrailingGaps = m.TrailingGaps
	t.s.EdgeSequence = m.EdgeSequence
	t.s.EdgeURI = m.EdgeURI
	t.s.LastPartURI = m.LastPartURI
	t.s.TargetDurationMS = m.JudgedTargetDuration.Milliseconds()
	t.s.Ended = m.Ended
}

// fail concludes from a failed observation.
func (t *Tracker) fail(at time.Time, err error) Report {
	t.s.Failures++
	r := Report{Err: err}
	if !t.hasGood() {
		r.Health = state.HealthUnreachable
		r.Reason = "no good observation yet: " + err.Error()
	} else {
		since, threshold := at.Sub(t.s.LastGood), t.threshold()
		switch {
		case t.s.GoodHealth == state.HealthEnded:
			// An origin that removes an ended playlist is not an outage.
			r.Health = state.HealthEnded
			r.Reason = fmt.Sprintf("the stream has ended (#EXT-X-ENDLIST); failure %d: %s", t.s.Failures, err)
		case t.s.Failures >= t.cfg.MinFailures && since > threshold:
			r.Health = state.HealthUnreachable
			r.Reason = fmt.Sprintf("%d consecutive failures, no good observation for %s, over %s: %s",
				t.s.Failures, since, threshold, err)
		default:
			r.Health = t.s.GoodHealth
			r.Reason = fmt.Sprintf("failure %d, last good observation %s ago, still %s: %s",
				t.s.Failures, since, t.s.GoodHealth, err)
		}
	}
	t.s.Health = r.Health
	r.Evidence = t.evidence(at)
	return r
}

// unjudged reports a body over the limit: a configuration error, not the origin's failure, so
// it counts neither as a failure nor as a good observation, and the playlist is not judged.
func (t *Tracker) unjudged(err error) Report {
	t.s.Health = ""
	return Report{Reason: "not judged: " + err.Error() + ": a configuration error (raise the playlist size limit), not a health failure",
		Err: err, Evidence: t.evidence(t.s.LastObserved)}
}

// ignore reports the current conclusion for an observation that changes nothing.
func (t *Tracker) ignore(err error) Report {
	h := t.s.Health
	if h == "" && t.s.LastObserved.IsZero() {
		h = state.HealthUnreachable
	}
	return Report{Health: h, Reason: "observation ignored: " + err.Error(), Err: err, Evidence: t.evidence(t.s.LastObserved)}
}

func (t *Tracker) evidence(at time.Time) Evidence {
	e := Evidence{
		MediaSequence:         t.s.MediaSequence,
		DiscontinuitySequence: t.s.DiscontinuitySequence,
		Segments:              t.s.Segments,
		LastSegmentURI:        t.s.LastSegmentURI,
		LastPartURI:           t.s.LastPartURI,
		TrailingGaps:          t.s.TrailingGaps,
		TargetDuration:        time.Duration(t.s.TargetDurationMS) * time.Millisecond,
		Threshold:             t.threshold(),
		LastChange:            t.s.LastChange,
		LastGood:              t.s.LastGood,
		ConsecutiveFailures:   t.s.Failures,
	}
	if !t.s.LastChange.IsZero() {
		e.StaleFor = at.Sub(t.s.LastChange)
	}
	return e
}

// SegmentKey is what a Tracker compares of a segment or part URI to tell a new one from the
// last: the URI without query and fragment. Evidence carried elsewhere (a detector event) may
// keep only the key and still be judged by the same rule.
func SegmentKey(uri string) string { return trackerURIKey(uri) }

// trackerURIKey is the part of a URI that names a segment: without query and fragment, which
// some origins vary per response (tokens), so that they would make a stalled playlist look new.
func trackerURIKey(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}
