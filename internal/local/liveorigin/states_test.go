package liveorigin

import (
	"net/http"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// TestStatesWithinTheThreshold switches the encoder into each state that must not look like a
// failure and has the detector's tracker poll a playlist every 0.1 segment for 20 segments: the
// stream never goes stale or unreachable, and the state does what it says.
func TestStatesWithinTheThreshold(t *testing.T) {
	const d = 2 * time.Second
	cases := []struct {
		name  string
		state State
		// check looks at the observations: the longest time the live edge stood still, the
		// lowest and last media sequence seen after the switch, the failed polls.
		check func(t *testing.T, o observed)
	}{
		{name: "late segments", state: Late, check: func(t *testing.T, o observed) {
			if o.longestStill <= d || o.longestStill > d*5/4 {
				t.Errorf("the live edge stood still for %s at most, want over %s and at most %s", o.longestStill, d, d*5/4)
			}
			if o.failed != 0 || o.wentBack {
				t.Errorf("failed polls %d, edge went back %t", o.failed, o.wentBack)
			}
		}},
		{name: "media sequence restart", state: Restart, check: func(t *testing.T, o observed) {
			if o.restarts != 1 || o.lowest != 0 || o.last < 19 || o.last > 21 {
				t.Errorf("restarts %d, lowest sequence %d, last %d: want one restart from 0, at about 20 after 20 segments", o.restarts, o.lowest, o.last)
			}
			if o.longestStill > d+d/10 {
				t.Errorf("the live edge stood still for %s, want at most one segment", o.longestStill)
			}
		}},
		{name: "a single 5xx", state: ErrorOnce, check: func(t *testing.T, o observed) {
			if o.failed != 1 || o.status != Running {
				t.Errorf("failed polls %d, state %s after: want 1 and running", o.failed, o.status)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock(100.3)
			o := newOrigin(t, clk.config(1))
			tr, err := hls.NewTracker(hls.TrackerConfig{MinFailures: 2})
			if err != nil {
				t.Fatal(err)
			}
			var obs observed
			poll := func() {
				w := get(t, o, http.MethodGet, "/v180.m3u8")
				r := tr.Observe(hls.Observation{At: clk.Now(), Status: w.Code, Body: w.Body.Bytes()})
				if r.Health != state.HealthFresh {
					t.Fatalf("at segment %.1f: health %s: %s", clk.Now().Sub(epoch).Seconds()/2, r.Health, r.Reason)
				}
				if w.Code != http.StatusOK {
					obs.failed++
					return
				}
				m, err := hls.ParseMedia(w.Body.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				obs.see(clk.Now(), m, r.Restart)
			}
			for range 30 { // three segments running first
				poll()
				clk.Add(0.1)
			}
			obs = observed{lowest: ^uint64(0)}
			if err := o.SetState(c.state); err != nil {
				t.Fatal(err)
			}
			for range 200 {
				poll()
				clk.Add(0.1)
			}
			obs.status = o.Status().State
			c.check(t, obs)
		})
	}
}

// observed sums up the playlists a tracker saw.
type observed struct {
	edge             string
	since            time.Time
	edgeSeq          uint64
	longestStill     time.Duration
	lowest, last     uint64
	restarts, failed int
	wentBack         bool
	status           State
}

func (o *observed) see(at time.Time, m *hls.Media, restart bool) {
	if restart {
		o.restarts++
	}
	o.lowest, o.last = min(o.lowest, m.MediaSequence), m.EdgeSequence
	if m.LastSegmentURI != o.edge {
		if o.edge != "" && !restart && m.EdgeSequence < o.edgeSeq {
			o.wentBack = true
		}
		o.edge, o.since, o.edgeSeq = m.LastSegmentURI, at, m.EdgeSequence
	}
	if o.edge != "" {
		o.longestStill = max(o.longestStill, at.Sub(o.since))
	}
}

// TestErrorOnceFailsOnePlaylistOnly: segments and the master do not use up the one 5xx; the
// next media playlist request gets it, the one after that is fine.
func TestErrorOnceFailsOnePlaylistOnly(t *testing.T) {
	clk := newClock(50.5)
	o := newOrigin(t, clk.config(1))
	m, _ := playlist(t, o, "v90")
	if err := o.SetState(ErrorOnce); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/master.m3u8", "/" + m.LastSegmentURI} {
		if w := get(t, o, http.MethodGet, p); w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d, want 200", p, w.Code)
		}
	}
	if o.Status().State != ErrorOnce {
		t.Fatalf("state %s before a playlist request, want error-once", o.Status().State)
	}
	for i, want := range []int{503, 200, 200} {
		if w := get(t, o, http.MethodGet, "/audio.m3u8"); w.Code != want {
			t.Fatalf("playlist request %d: %d, want %d", i+1, w.Code, want)
		}
	}
	if o.Status().State != Running {
		t.Fatalf("state %s after the 5xx, want running", o.Status().State)
	}
}
