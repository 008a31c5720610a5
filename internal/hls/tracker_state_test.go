package hls

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/google/go-cmp/cmp"
)

// Every case of the table, run again with the tracker serialized to JSON and restored before
// every observation, must report exactly the same: nothing the conclusions rest on is lost, and
// the identical-body fast path (which a restored tracker cannot take) changes nothing.
func TestTrackerSnapshotRoundTrip(t *testing.T) {
	for _, c := range mediaCases {
		t.Run(c.name, func(t *testing.T) {
			want := mediaViews(c, mediaRun(t, c, false))
			got := mediaViews(c, mediaRun(t, c, true))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("restored at every step, reports differ (-straight +restored):\n%s", diff)
			}
		})
	}
}

func TestTrackerSnapshot(t *testing.T) {
	restore := func(t *testing.T, tr *Tracker) *Tracker {
		t.Helper()
		b, err := json.Marshal(tr.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		var s TrackerState
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		restored, err := RestoreTracker(TrackerConfig{}, s)
		if err != nil {
			t.Fatalf("restore %s: %v", b, err)
		}
		return restored
	}
	observe := func(t *testing.T, tr *Tracker, at time.Duration, file string) Report {
		t.Helper()
		return tr.Observe(Observation{At: mediaT0.Add(at), Status: 200, Body: mediaBody(t, file)})
	}

	t.Run("playlist stalled before the snapshot goes stale on time after restore", func(t *testing.T) {
		tr, err := NewTracker(TrackerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		observe(t, tr, 0, "mediapackage-ts-100.m3u8")
		observe(t, tr, sec(6), "mediapackage-ts-101.m3u8") // last change at 6s
		observe(t, tr, sec(8), "mediapackage-ts-101.m3u8")
		tr = restore(t, tr) // a new Lambda invocation
		if got, want := observe(t, tr, sec(15), "mediapackage-ts-101.m3u8").Health, state.HealthFresh; got != want {
			t.Fatalf("9s after the last change: health %s, want %s", got, want)
		}
		tr = restore(t, tr)
		r := observe(t, tr, sec(15.001), "mediapackage-ts-101.m3u8")
		if got, want := r.Health, state.HealthStale; got != want {
			t.Fatalf("9.001s after the last change: health %s, want %s (%s)", got, want, r.Reason)
		}
		if got, want := r.Evidence.LastChange, mediaT0.Add(sec(6)); !got.Equal(want) {
			t.Errorf("last change %s, want %s", got, want)
		}
	})

	t.Run("failures before the snapshot count after restore", func(t *testing.T) {
		tr, err := NewTracker(TrackerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		observe(t, tr, 0, "mediapackage-ts-100.m3u8")
		tr.Observe(Observation{At: mediaT0.Add(sec(5)), Status: 503})
		tr = restore(t, tr)
		r := tr.Observe(Observation{At: mediaT0.Add(sec(9.5)), Status: 503})
		if got, want := r.Health, state.HealthUnreachable; got != want {
			t.Fatalf("health %s, want %s (%s)", got, want, r.Reason)
		}
		if got, want := r.Evidence.ConsecutiveFailures, 2; got != want {
			t.Errorf("consecutive failures %d, want %d", got, want)
		}
	})

	t.Run("snapshot of a live playlist is small", func(t *testing.T) {
		tr, err := NewTracker(TrackerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		observe(t, tr, 0, "llhls-272-part1.m3u8")
		b, err := json.Marshal(tr.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d bytes: %s", len(b), b)
		if len(b) > 512 {
			t.Errorf("snapshot is %d bytes, want at most 512", len(b))
		}
	})

	t.Run("zero state restores a tracker that has seen nothing", func(t *testing.T) {
		tr, err := RestoreTracker(TrackerConfig{}, TrackerState{})
		if err != nil {
			t.Fatal(err)
		}
		r := observe(t, tr, 0, "mediapackage-ts-100.m3u8")
		if r.Health != state.HealthFresh || r.Changed || r.Evidence.LastChange != mediaT0 {
			t.Errorf("first observation after a zero restore: %+v", r)
		}
	})
}

func TestRestoreTrackerRefusesImpossibleStates(t *testing.T) {
	good := func() TrackerState {
		tr, err := NewTracker(TrackerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		tr.Observe(Observation{At: mediaT0, Status: 200, Body: mediaBody(t, "mediapackage-ts-100.m3u8")})
		return tr.Snapshot()
	}
	if _, err := RestoreTracker(TrackerConfig{}, good()); err != nil {
		t.Fatalf("a real snapshot is refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*TrackerState)
	}{
		{"unknown version", func(s *TrackerState) { s.Version = 2 }},
		{"unknown health", func(s *TrackerState) { s.Health = "purple" }},
		{"unknown good health", func(s *TrackerState) { s.GoodHealth = state.HealthUnreachable }},
		{"negative failures", func(s *TrackerState) { s.Failures = -1 }},
		{"more gaps than segments", func(s *TrackerState) { s.TrailingGaps = s.Segments + 1 }},
		{"no target duration", func(s *TrackerState) { s.TargetDurationMS = 0 }},
		{"last change after last good", func(s *TrackerState) { s.LastChange = s.LastGood.Add(time.Second) }},
		{"last good after last observed", func(s *TrackerState) { s.LastGood = s.LastObserved.Add(time.Second) }},
		{"facts without a good observation", func(s *TrackerState) { s.LastGood, s.LastChange = time.Time{}, time.Time{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.mutate(&s)
			if _, err := RestoreTracker(TrackerConfig{}, s); err == nil {
				t.Errorf("restored %+v, want an error", s)
			}
		})
	}
}

func TestNewTrackerRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  TrackerConfig
	}{
		{"negative multiplier", TrackerConfig{Multiplier: -1}},
		{"NaN multiplier", TrackerConfig{Multiplier: math.NaN()}},
		{"huge multiplier", TrackerConfig{Multiplier: 1000}},
		{"negative max body", TrackerConfig{MaxBody: -1}},
		{"negative min failures", TrackerConfig{MinFailures: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTracker(tc.cfg); err == nil {
				t.Errorf("NewTracker(%+v) succeeded, want an error", tc.cfg)
			}
		})
	}
}
