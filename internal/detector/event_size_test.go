package detector

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// bigViews are n playlists of an instance with URLs of about urlLen bytes and the longest live
// edge URIs an event carries; the ones whose index is in stale are stale, the others fresh.
func bigViews(n, urlLen int, stale map[int]bool) []playlistView {
	views := make([]playlistView, n)
	for i := range views {
		u := fmt.Sprintf("https://origin-eu.example.com/%s/v%02d.m3u8", strings.Repeat("p", urlLen-40), i)
		h, c := state.HealthFresh, classVideo
		if i%4 == 3 {
			c = classAudio
		}
		if stale[i] {
			h = state.HealthStale
		}
		views[i] = playlistView{URL: u, Class: c, Health: h, Reason: "test", StaleFor: 10 * time.Second,
			MediaSequence: 18234, TargetDuration: 6 * time.Second, LastChange: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
			LiveEdge: &contract.LiveEdge{Sequence: 18238, SegmentURI: strings.Repeat("s", contract.MaxEdgeURILen),
				PartURI: strings.Repeat("q", contract.MaxEdgeURILen), DiscontinuitySequence: 3}}
	}
	return views
}

// TestEventsStayWithinTheLimit: an instance with the most playlists an event lists, all with
// long URLs, still gives an event the trigger accepts (contract.MaxEventBodyLen): it keeps the
// failing playlists, then the others as long as they fit, and counts those left out.
func TestEventsStayWithinTheLimit(t *testing.T) {
	w := &watcher{inst: state.Instance{Cluster: "news", Domain: "d1.example.com", Region: "eu-west-1",
		OriginPlaylistURL: "https://origin-eu.example.com/master.m3u8"}}
	now := time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC)
	every := map[int]bool{}
	for i := range contract.MaxPlaylists {
		every[i] = true
	}
	tests := []struct {
		name    string
		kind    state.Health
		views   []playlistView
		listed  int // playlists listed, -1: as many as fit
		failing []int
	}{
		{"a stale instance of 64 playlists with 2 KiB URLs", state.HealthStale,
			bigViews(contract.MaxPlaylists, contract.MaxURLLen, map[int]bool{5: true, 40: true, 63: true}), -1, []int{5, 40, 63}},
		{"every one of them stale", state.HealthStale, bigViews(contract.MaxPlaylists, contract.MaxURLLen, every), -1, nil},
		{"a fresh instance of 64 playlists with 2 KiB URLs", state.HealthFresh, bigViews(contract.MaxPlaylists, contract.MaxURLLen, nil), -1, nil},
		{"a stale instance of 64 playlists with short URLs lists them all", state.HealthStale,
			bigViews(contract.MaxPlaylists, 100, map[int]bool{7: true}), contract.MaxPlaylists, []int{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := w.event(tt.kind, tt.views, verdict{Health: state.Health(tt.kind), StaleFor: 10 * time.Second}, 42, now)
			if err != nil {
				t.Fatal(err)
			}
			body, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d bytes, %d playlists listed, %d omitted", len(body), len(ev.Playlists), ev.OmittedPlaylists)
			if len(body) > contract.MaxEventBodyLen {
				t.Fatalf("event is %d bytes, more than the %d the trigger accepts", len(body), contract.MaxEventBodyLen)
			}
			back, err := contract.ParseDetectorEvent(body)
			if err != nil {
				t.Fatalf("the trigger refuses the event: %v", err)
			}
			if tt.listed >= 0 && len(back.Playlists) != tt.listed {
				t.Errorf("%d playlists listed, want %d", len(back.Playlists), tt.listed)
			}
			if got, want := back.OmittedPlaylists, len(tt.views)-len(back.Playlists); got != want {
				t.Errorf("omitted_playlists %d, want %d", got, want)
			}
			if back.OmittedPlaylists == 0 && strings.Contains(string(body), "omitted_playlists") {
				t.Error("an event that omits nothing says omitted_playlists")
			}
			// Every failing playlist is kept, the others as space allows, all in the instance's order.
			var want []string
			room := len(back.Playlists) - len(tt.failing)
			for i, v := range tt.views {
				if slices.Contains(tt.failing, i) {
					want = append(want, v.URL)
				} else if room > 0 {
					want = append(want, v.URL)
					room--
				}
			}
			var got []string
			for _, p := range back.Playlists {
				got = append(got, p.URL)
			}
			if !slices.Equal(want, got) {
				t.Errorf("listed %d playlists: not every failing one and then the first others, in order", len(got))
			}
			// A listed playlist is whole: its live edge and class came along.
			for _, p := range back.Playlists {
				if p.LiveEdge == nil || p.Class == "" {
					t.Fatalf("%s listed without its live edge or class", p.URL)
				}
			}
		})
	}
}
