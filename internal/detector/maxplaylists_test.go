package detector_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// lockedBuffer is a log destination shared by the detector's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMaxPlaylistsKeepsEveryClass: with more playlists than MaxPlaylists, the audio rendition
// is still watched (a stalled audio is detected), the cut is logged, and every event counts the
// playlists left out in omitted_playlists.
func TestMaxPlaylistsKeepsEveryClass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{MaxPlaylists: 2})
		var logs lockedBuffer
		e.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...) // v720, v360, audio aen
		e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
		o.Stall("aen", time.Now().Add(20*time.Second))
		e.run(t, "run-1", 70*time.Second)

		if diff := cmp.Diff(kinds(state.HealthFresh, state.HealthStale), e.events(t, "d1.example.com")); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		for _, m := range e.messages(t, "d1.example.com") {
			var urls []string
			for _, p := range m.Event.Playlists {
				urls = append(urls, p.URL+" "+string(p.State))
			}
			if got, want := m.Event.OmittedPlaylists, 1; got != want {
				t.Errorf("%s event: omitted_playlists %d, want %d (playlists %v)", m.Event.Event, got, want, urls)
			}
			if m.Event.Event == state.HealthStale && !strings.Contains(strings.Join(urls, ";"), "aen.m3u8 stale") {
				t.Errorf("stale event lists %v, want the stalled audio rendition", urls)
			}
		}
		if !strings.Contains(logs.String(), "more playlists than MAX_PLAYLISTS") || !strings.Contains(logs.String(), "omitted=1") {
			t.Errorf("logs %q, want the cut logged with its count", logs.String())
		}
	})
}
