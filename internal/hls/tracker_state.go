package hls

import (
	"errors"
	"fmt"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// trackerStateVersion is TrackerState.Version as this package writes it.
const trackerStateVersion = 1

// TrackerState is a Tracker's memory, small and JSON-able, so that a detector invoked every
// minute can carry the last-change evidence across invocations (in the state table). It does
// not hold the last body: the first observation after RestoreTracker parses in full.
type TrackerState struct {
	Version int `json:"v"`
	// Health is the last reported conclusion, GoodHealth the one of the last good observation.
	Health     state.Health `json:"health,omitempty"`
	GoodHealth state.Health `json:"good_health,omitempty"`
	// The last good observation's playlist facts.
	MediaSequence         uint64 `json:"msn,omitempty"`
	DiscontinuitySequence uint64 `json:"dsn,omitempty"`
	Segments              int    `json:"segments,omitempty"`
	LastSegmentURI        string `json:"last_uri,omitempty"`
	TrailingGaps          int    `json:"gaps,omitempty"`
	EdgeSequence          uint64 `json:"edge_msn,omitempty"`
	EdgeURI               string `json:"edge_uri,omitempty"`
	LastPartURI           string `json:"part_uri,omitempty"`
	TargetDurationMS      int64  `json:"td_ms,omitempty"` // Media.JudgedTargetDuration
	Ended                 bool   `json:"ended,omitempty"`
	// Restarted says the last change of sequence was a restart not yet followed by progress,
	// and PreRestartEdge is the live edge (segment and part keys) from before it: going back to
	// it is no progress.
	Restarted      bool   `json:"restarted,omitempty"`
	PreRestartEdge string `json:"pre_restart_edge,omitempty"`
	// Timing.
	LastChange   time.Time `json:"last_change,omitzero"`
	LastGood     time.Time `json:"last_good,omitzero"`
	LastObserved time.Time `json:"last_observed,omitzero"`
	Failures     int       `json:"failures,omitempty"`
}

// Snapshot returns the tracker's memory.
func (t *Tracker) Snapshot() TrackerState { return t.s }

// RestoreTracker returns a Tracker that continues from s, as returned by Snapshot. The zero
// TrackerState restores a tracker that has observed nothing. A state that cannot come from a
// Tracker is refused.
func RestoreTracker(cfg TrackerConfig, s TrackerState) (*Tracker, error) {
	t, err := NewTracker(cfg)
	if err != nil {
		return nil, err
	}
	if s == (TrackerState{}) {
		return t, nil
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("restore tracker: %w", err)
	}
	t.s = s
	return t, nil
}

func (s TrackerState) check() error {
	switch {
	case s.Version != trackerStateVersion:
		return fmt.Errorf("state version %d, want %d", s.Version, trackerStateVersion)
	case s.Health != "" && !s.Health.Judged():
		return fmt.Errorf("unknown health %q", s.Health)
	case s.Failures < 0 || s.Segments < 0 || s.TrailingGaps < 0 || s.TrailingGaps > s.Segments:
		return errors.New("negative or inconsistent counts")
	case s.LastObserved.IsZero() && (s.Health != "" || !s.LastGood.IsZero() || s.Failures != 0):
		return errors.New("a conclusion without an observation")
	}
	if s.LastGood.IsZero() {
		if s.GoodHealth != "" || s.TargetDurationMS != 0 || !s.LastChange.IsZero() {
			return errors.New("playlist facts without a good observation")
		}
		return nil
	}
	switch {
	case s.GoodHealth != state.HealthFresh && s.GoodHealth != state.HealthStale && s.GoodHealth != state.HealthEnded:
		return fmt.Errorf("good observation concluded %q", s.GoodHealth)
	case s.TargetDurationMS <= 0 || s.TargetDurationMS > mediaMaxSeconds*1000:
		return fmt.Errorf("target duration %d ms out of range", s.TargetDurationMS)
	case s.LastChange.IsZero() || s.LastChange.After(s.LastGood) || s.LastGood.After(s.LastObserved):
		return errors.New("times out of order: want last change <= last good <= last observed")
	}
	return nil
}
