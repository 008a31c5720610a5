package liveorigin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// page plays the master given in the query with hls.js and keeps what happened in window.seen.
const page = `<!doctype html><meta charset="utf-8"><video width="320" height="180" muted></video>
<script src="/hls.min.js"></script><script>
window.seen = {waiting: 0, errors: [], fatal: "", start: -1};
const v = document.querySelector("video"), hls = new Hls();
v.addEventListener("playing", () => { if (seen.start < 0) seen.start = v.currentTime; });
v.addEventListener("waiting", () => { if (seen.start >= 0) seen.waiting++; });
hls.on(Hls.Events.ERROR, (e, d) => { seen.errors.push(d.details + (d.frag ? " " + d.frag.type + " sn " + d.frag.sn + " level " + d.frag.level + " start " + d.frag.start.toFixed(3) : "")); if (d.fatal) seen.fatal = d.details; });
hls.on(Hls.Events.MANIFEST_PARSED, () => v.play());
hls.loadSource(new URLSearchParams(location.search).get("src"));
hls.attachMedia(v);
window.hls = hls;
</script>`

// TestHLSJSPlays plays the origin's master with hls.js in Chromium, from a page of another
// origin (so CORS is exercised), and checks that MSE decodes video and audio and that playback
// advances with no fatal error and no stall after start-up.
func TestHLSJSPlays(t *testing.T) {
	chromium := testenv.Command(t, "chromium", "the hls.js playback test")
	hlsJS := filepath.Join(testenv.RepoRoot(t), "node_modules", "hls.js", "dist", "hls.min.js")
	if _, err := os.Stat(hlsJS); err != nil {
		testenv.Unavailable(t, "node_modules/hls.js is missing (run make test, which runs npm ci)")
	}
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hls.min.js" {
			http.ServeFile(w, r, hlsJS)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
	}))
	defer pages.Close()

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	for _, d := range []time.Duration{2 * time.Second, 6 * time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			now := time.Now()
			o, err := New(Config{Label: 2, SegmentDuration: d, Epoch: now.Truncate(d).Add(-20 * d)})
			if err != nil {
				t.Fatal(err)
			}
			origin := httptest.NewServer(o)
			defer origin.Close()

			tab, cancelTab := chromedp.NewContext(browser)
			defer cancelTab()
			ctx, cancel := context.WithTimeout(tab, 60*time.Second)
			defer cancel()
			const playFor = 8 // seconds of media: more than one segment at 2 s, across one at 6 s
			if err := chromedp.Do(ctx,
				chromedp.Navigate(pages.URL+"/?src="+origin.URL+"/master.m3u8"),
				chromedp.Poll[chromedp.Void](`(() => { const v = document.querySelector("video"); return seen.fatal !== "" || seen.start >= 0 && v.currentTime - seen.start >= 8; })()`,
					chromedp.WithPollingTimeout(45*time.Second)),
			); err != nil {
				t.Fatalf("play %s/master.m3u8: %v", origin.URL, err)
			}
			type result struct {
				Fatal        string   `json:"fatal"`
				Errors       []string `json:"errors"`
				Waiting      int      `json:"waiting"`
				Played       float64  `json:"played"`
				Width        int      `json:"width"`
				Frames       int      `json:"frames"`
				AudioBytes   int      `json:"audioBytes"`
				Levels       int      `json:"levels"`
				AudioTracks  int      `json:"audioTracks"`
				Version      string   `json:"version"`
				BrowserAgent string   `json:"agent"`
			}
			got, err := chromedp.Run(ctx, chromedp.Evaluate[result](`(() => { const v = document.querySelector("video"); return {
				fatal: seen.fatal, errors: seen.errors, waiting: seen.waiting, played: v.currentTime - seen.start,
				width: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames,
				audioBytes: v.webkitAudioDecodedByteCount || 0, levels: hls.levels.length,
				audioTracks: hls.audioTracks.length, version: Hls.version, agent: navigator.userAgent}; })()`))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("hls.js %s: %+v", got.Version, got)
			if got.Fatal != "" || got.Played < playFor {
				t.Fatalf("playback: fatal error %q, played %.2f s, errors %v", got.Fatal, got.Played, got.Errors)
			}
			if got.Levels != 2 || got.AudioTracks != 1 {
				t.Errorf("hls.js sees %d levels and %d audio tracks, want 2 and 1", got.Levels, got.AudioTracks)
			}
			if got.Width != 320 && got.Width != 160 || got.Frames < 25*playFor/2 {
				t.Errorf("video %d px wide, %d frames decoded", got.Width, got.Frames)
			}
			if got.AudioBytes == 0 {
				t.Errorf("no audio decoded")
			}
			if got.Waiting != 0 {
				t.Errorf("%d waiting events after start-up", got.Waiting)
			}
		})
	}
}
