package detector_test

import (
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// TestPlaylistsOverTheSizeLimitAreUnjudged: media playlists longer than the size limit (a long
// DVR window) are a configuration error: logged once each with the PlaylistTooLarge metric,
// left unjudged, and the instance is never called unreachable for it.
func TestPlaylistsOverTheSizeLimitAreUnjudged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{Tracker: hls.TrackerConfig{MaxBody: 2000}})
		var logs lockedBuffer
		e.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		o := detectortest.NewOrigin(td, 200, detectortest.StandardVariants()...) // media playlists of about 6 KB, a master of a few hundred bytes
		e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
		sum := e.run(t, "run-1", 70*time.Second)

		if got := e.events(t, "d1.example.com"); len(got) != 0 {
			t.Errorf("events %v, want none: an oversized playlist is neither stale nor unreachable", got)
		}
		if got := sum.Health["news/d1.example.com"]; got != state.HealthUnknown {
			t.Errorf("instance health %s, want unknown", got)
		}
		if got := strings.Count(logs.String(), "PlaylistTooLarge=1"); got != 3 {
			t.Errorf("%d PlaylistTooLarge metric lines, want one per playlist (3):\n%s", got, logs.String())
		}
		if !strings.Contains(logs.String(), "left unjudged") || !strings.Contains(logs.String(), "limit_bytes=2000") {
			t.Errorf("logs %q, want the unjudged playlist and the limit", logs.String())
		}
	})
}
