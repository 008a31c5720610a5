package hls

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/google/go-cmp/cmp"
)

// FuzzTrackerObserve feeds a tracker two observations: a first body (status 200) and a second
// one with any status, some time later. Seeds: every pair of consecutive steps of mediaCases.
// Invariants: no panic; health always one of the four; a good observation is never
// unreachable; a body that is not even #EXTM3U, or a non-2xx status, is a failure that changes
// no evidence and never makes a new tracker fresh; restoring from the JSON snapshot (which has
// no body, so no fast path) reports exactly what the original tracker reports.
func FuzzTrackerObserve(f *testing.F) {
	for _, c := range mediaCases {
		for i := 1; i < len(c.steps); i++ {
			a, b := c.steps[i-1].observation(f), c.steps[i].observation(f)
			f.Add(a.Body, b.Body, b.Status, int64(b.At.Sub(a.At)/time.Millisecond))
		}
		if len(c.steps) == 1 {
			o := c.steps[0].observation(f)
			f.Add(o.Body, o.Body, 200, int64(6000))
		}
	}
	f.Fuzz(func(t *testing.T, first, second []byte, status int, afterMS int64) {
		if afterMS < 0 {
			afterMS = -afterMS
		}
		after := time.Duration(afterMS%(48*3600*1000)) * time.Millisecond
		tr, err := NewTracker(TrackerConfig{})
		if err != nil {
			t.Fatal(err)
		}

		r1 := tr.Observe(Observation{At: mediaT0, Status: 200, Body: first})
		fuzzCheck(t, "first", r1)
		if !bytes.HasPrefix(first, mediaTagM3U) {
			if r1.Err == nil || r1.Health == state.HealthFresh {
				t.Fatalf("first body %q is not a playlist, yet: health %s, err %v", first, r1.Health, r1.Err)
			}
		}

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

		o := Observation{At: mediaT0.Add(after), Status: status, Body: second}
		r2 := tr.Observe(o)
		fuzzCheck(t, "second", r2)
		var failed bool
		switch {
		case status == 304: // repeats the last good playlist, if there is one
			failed = r1.Err != nil
		case status != 0 && (status < 200 || status > 299):
			failed = true
		default:
			failed = !bytes.HasPrefix(second, mediaTagM3U)
		}
		if failed {
			if r2.Err == nil {
				t.Fatalf("status %d, body %q: no error", status, second)
			}
			if diff := cmp.Diff(fuzzFacts(r1.Evidence), fuzzFacts(r2.Evidence)); diff != "" {
				t.Fatalf("a failed observation changed the evidence (-before +after):\n%s", diff)
			}
		}

		r2r := restored.Observe(o)
		if diff := cmp.Diff(fuzzView(r2), fuzzView(r2r)); diff != "" {
			t.Fatalf("restored tracker reports differently (-original +restored):\n%s", diff)
		}
	})
}

func fuzzCheck(t *testing.T, which string, r Report) {
	t.Helper()
	if !r.Health.Valid() {
		t.Fatalf("%s observation: health %q", which, r.Health)
	}
	if r.Err == nil && r.Health == state.HealthUnreachable {
		t.Fatalf("%s observation: good, yet unreachable (%s)", which, r.Reason)
	}
	if r.Reason == "" {
		t.Fatalf("%s observation: no reason", which)
	}
}

// fuzzFacts is the part of the evidence a failed observation must leave alone.
func fuzzFacts(e Evidence) Evidence {
	e.StaleFor, e.ConsecutiveFailures = 0, 0
	return e
}

type fuzzReport struct {
	Health           state.Health
	Reason, Err      string
	Changed, Restart bool
	Evidence         Evidence
}

func fuzzView(r Report) fuzzReport {
	v := fuzzReport{Health: r.Health, Reason: r.Reason, Changed: r.Changed, Restart: r.Restart, Evidence: r.Evidence}
	if r.Err != nil {
		v.Err = r.Err.Error()
	}
	return v
}
