package contract

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// edgePlaylist writes a media playlist of target duration 6 s from media sequence msn: n
// segments, then gaps segments marked EXT-X-GAP. Options: "event" (EXT-X-PLAYLIST-TYPE:EVENT),
// "token=X" (a query on every URI), "dsn=N" (EXT-X-DISCONTINUITY-SEQUENCE), "part=X" (an
// LL-HLS part after the segments).
func edgePlaylist(msn uint64, n, gaps int, opts ...string) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:6\n")
	query, part := "", ""
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "event":
			b.WriteString("#EXT-X-PLAYLIST-TYPE:EVENT\n")
		case "token":
			query = "?token=" + v
		case "dsn":
			b.WriteString("#EXT-X-DISCONTINUITY-SEQUENCE:" + v + "\n")
		case "part":
			part = v
			b.WriteString("#EXT-X-PART-INF:PART-TARGET=1.0\n")
		}
	}
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", msn)
	for i := range n + gaps {
		if i >= n {
			b.WriteString("#EXT-X-GAP\n")
		}
		fmt.Fprintf(&b, "#EXTINF:6.000,\nseg%d.ts%s\n", msn+uint64(i), query)
	}
	if part != "" {
		fmt.Fprintf(&b, "#EXT-X-PART:DURATION=1.0,URI=\"%s%s\"\n", part, query)
	}
	return []byte(b.String())
}

// TestLiveEdgeCarriesTheTrackersRule checks that a tracker restored from an event's evidence,
// the way Confirm restores it (media sequence, target duration and times from the event, the
// live edge from live_edge after a JSON round trip), judges the next read as the detector's
// own tracker, which saw the previous read, does.
func TestLiveEdgeCarriesTheTrackersRule(t *testing.T) {
	tests := []struct {
		name          string
		before, after []byte
		changed       bool
		restart       bool
	}{
		{"sliding window moved", edgePlaylist(100, 5, 0), edgePlaylist(101, 5, 0), true, false},
		{"sliding window stood still", edgePlaylist(100, 5, 0), edgePlaylist(100, 5, 0), false, false},
		{"EVENT playlist grew", edgePlaylist(0, 5, 0, "event"), edgePlaylist(0, 6, 0, "event"), true, false},
		{"EVENT playlist did not grow", edgePlaylist(0, 5, 0, "event"), edgePlaylist(0, 5, 0, "event"), false, false},
		{"growing window resumed", edgePlaylist(100, 5, 0), edgePlaylist(100, 7, 0), true, false},
		{"only GAP segments added", edgePlaylist(100, 5, 0), edgePlaylist(100, 5, 2), false, false},
		{"GAP segments replaced by media", edgePlaylist(100, 5, 2), edgePlaylist(100, 8, 0), true, false},
		{"every segment a gap, then media", edgePlaylist(100, 0, 3), edgePlaylist(100, 1, 3), true, false},
		{"only the token changed", edgePlaylist(100, 5, 0, "token=a"), edgePlaylist(100, 5, 0, "token=b"), false, false},
		{"new LL-HLS part", edgePlaylist(100, 5, 0, "part=p105.0.mp4"), edgePlaylist(100, 5, 0, "part=p105.1.mp4"), true, false},
		{"same LL-HLS part, new token", edgePlaylist(100, 5, 0, "part=p105.0.mp4", "token=a"), edgePlaylist(100, 5, 0, "part=p105.0.mp4", "token=b"), false, false},
		{"discontinuity sequence went back", edgePlaylist(100, 5, 0, "dsn=3"), edgePlaylist(100, 5, 0, "dsn=1"), false, true},
		{"media sequence went back", edgePlaylist(100, 5, 0), edgePlaylist(0, 3, 0), false, true},
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			detector, err := hls.NewTracker(hls.TrackerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if r := detector.Observe(hls.Observation{At: t0, Status: 200, Body: tt.before}); r.Err != nil {
				t.Fatalf("before: %v", r.Err)
			}
			s := detector.Snapshot()

			// The event as the detector sends it, and as the workflow reads it.
			edge := LiveEdgeOf(s)
			if edge == nil {
				t.Fatal("LiveEdgeOf = nil for a playlist that was read")
			}
			e, err := ParseDetectorEvent(readTestdata(t, "stale-event.json"))
			if err != nil {
				t.Fatal(err)
			}
			e.Playlists = []PlaylistDetail{{URL: e.Playlists[0].URL, State: state.Health(s.Health),
				MediaSequence: s.MediaSequence, TargetDuration: 6, LastChange: s.LastChange, LiveEdge: edge}}
			body, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseDetectorEvent(body)
			if err != nil {
				t.Fatalf("the event does not parse back: %v", err)
			}
			p := back.Playlists[0]
			if diff := cmp.Diff(edge, p.LiveEdge); diff != "" {
				t.Fatalf("live_edge after a round trip (-want +got):\n%s", diff)
			}

			restored := hls.TrackerState{Version: s.Version, Health: p.State, GoodHealth: p.State,
				MediaSequence: p.MediaSequence, TargetDurationMS: int64(p.TargetDuration) * 1000,
				LastChange: p.LastChange, LastGood: t0, LastObserved: t0}
			p.LiveEdge.ApplyTo(&restored)
			confirm, err := hls.RestoreTracker(hls.TrackerConfig{}, restored)
			if err != nil {
				t.Fatal(err)
			}

			next := hls.Observation{At: t0.Add(10 * time.Second), Status: 200, Body: tt.after}
			want, got := detector.Observe(next), confirm.Observe(next)
			if want.Err != nil || got.Err != nil {
				t.Fatalf("after: %v, %v", want.Err, got.Err)
			}
			if want.Changed != tt.changed || want.Restart != tt.restart {
				t.Fatalf("the detector's tracker: changed %v restart %v (%s); the case wants %v %v",
					want.Changed, want.Restart, want.Reason, tt.changed, tt.restart)
			}
			if got.Changed != want.Changed || got.Restart != want.Restart || got.Health != want.Health {
				t.Errorf("restored from the event: changed %v restart %v %s (%s); the detector's tracker: %v %v %s (%s)",
					got.Changed, got.Restart, got.Health, got.Reason, want.Changed, want.Restart, want.Health, want.Reason)
			}
		})
	}
}

func TestLiveEdgeOf(t *testing.T) {
	read := func(body []byte) hls.TrackerState {
		t.Helper()
		tr, err := hls.NewTracker(hls.TrackerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if r := tr.Observe(hls.Observation{At: time.Unix(1e9, 0), Status: 200, Body: body}); r.Err != nil {
			t.Fatal(r.Err)
		}
		return tr.Snapshot()
	}
	long := edgePlaylist(7, 1, 0, "token=x")
	long = []byte(strings.Replace(string(long), "seg7.ts", strings.Repeat("s", MaxEdgeURILen)+".ts", 1))
	tests := []struct {
		name string
		s    hls.TrackerState
		want *LiveEdge
	}{
		{"never read", hls.TrackerState{}, nil},
		{"segments", read(edgePlaylist(100, 5, 0, "dsn=2")), &LiveEdge{Sequence: 104, SegmentURI: "seg104.ts", DiscontinuitySequence: 2}},
		{"the newest segment that is not a gap", read(edgePlaylist(100, 5, 2)), &LiveEdge{Sequence: 104, SegmentURI: "seg104.ts"}},
		{"every segment a gap", read(edgePlaylist(100, 0, 3)), &LiveEdge{}},
		{"queries are left out", read(edgePlaylist(100, 2, 0, "token=secret", "part=p102.0.mp4")),
			&LiveEdge{Sequence: 101, SegmentURI: "seg101.ts", PartURI: "p102.0.mp4"}},
		{"an overlong URI leaves the edge out", read(long), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, LiveEdgeOf(tt.s)); diff != "" {
				t.Errorf("LiveEdgeOf (-want +got):\n%s", diff)
			}
		})
	}
}
