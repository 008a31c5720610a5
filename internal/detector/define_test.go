package detector_test

import (
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// TestMasterVariablesAreResolved: a master whose URIs use EXT-X-DEFINE variables has its
// variants polled where a player loads them, never at a literal (or percent-encoded) {$name}
// that would answer 404 and make a healthy region unreachable; a reference nothing defines
// is the master's error, named.
func TestMasterVariablesAreResolved(t *testing.T) {
	const master = "#EXTM3U\n#EXT-X-DEFINE:NAME=\"origin\",VALUE=\"http://origin-eu.test\"\n#EXT-X-DEFINE:NAME=\"lo\",VALUE=\"v360\"\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720\n{$origin}/v720.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n{$lo}.m3u8\n"
	t.Run("defined", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			o.SetMaster(master)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			e.run(t, "run-1", 70*time.Second)
			if diff := cmp.Diff(kinds(state.HealthFresh), e.events(t, "d1.example.com")); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
			for _, p := range []string{"/v720.m3u8", "/v360.m3u8"} {
				if n, _ := o.Requests(p); n == 0 {
					t.Errorf("%s never polled", p)
				}
			}
			for _, p := range e.messages(t, "d1.example.com")[0].Event.Playlists {
				if strings.Contains(p.URL, "$") || strings.Contains(strings.ToLower(p.URL), "%7b") {
					t.Errorf("event lists %s", p.URL)
				}
			}
		})
	})
	t.Run("undefined", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			var logs lockedBuffer
			e.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			o.SetMaster(strings.Replace(master, "#EXT-X-DEFINE:NAME=\"lo\",VALUE=\"v360\"\n", "", 1))
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			e.run(t, "run-1", 70*time.Second)
			msgs := e.messages(t, "d1.example.com")
			if len(msgs) != 1 || msgs[0].Event.Event != state.HealthUnreachable || !strings.Contains(msgs[0].Event.Playlists[0].URL, "master.m3u8") {
				t.Fatalf("events %v, want the master unreachable", e.events(t, "d1.example.com"))
			}
			if !strings.Contains(logs.String(), "{$lo} is not defined by any EXT-X-DEFINE") {
				t.Errorf("logs %q, want the unresolved variable named", logs.String())
			}
		})
	})
}
