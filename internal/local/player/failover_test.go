package player

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

var durations = []time.Duration{2 * time.Second, 6 * time.Second}

// checkOutcome asserts what the system promises: playback goes on after the switch and, when
// the edge answers 404, without a rebuffer. For a 5xx it only reports.
func checkOutcome(t *testing.T, who string, sc scenario, watch time.Duration, o outcome) {
	t.Helper()
	t.Logf("%s, %s: first fragment from the other region %d ms after the failure; %d rebuffers, %d buffer stalls, %.2f s played in the %v after the switch",
		who, sc.name, o.switchAfter.Milliseconds(), o.rebuffers, o.stalls, o.played, watch)
	if o.played < 0.7*watch.Seconds() {
		t.Errorf("%.2f s played in the %v after the switch: playback did not go on", o.played, watch)
	}
	if sc.seamless && (o.rebuffers != 0 || o.stalls != 0) {
		t.Errorf("%d rebuffers and %d buffer stalls after start-up, want none", o.rebuffers, o.stalls)
	}
}

// TestFailoverInChromium plays the merged master of two live regions with hls.js in Chromium,
// breaks the region being played and checks that playback ends on the other region, goes on,
// and (when the edge answers 404) never waits; 2 s and 6 s segments side by side.
func TestFailoverInChromium(t *testing.T) {
	testenv.Short(t, "hls.js failover in Chromium")
	for _, d := range durations {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					f := startTwoRegions(t, d, false)
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second+12*d)
					defer cancel()
					p, err := StartChromium(ctx, f.masterURL, Options{Regions: f.byHost()})
					switch {
					case errors.Is(err, ErrNoChromium), errors.Is(err, ErrNoHLSJS):
						testenv.Unavailable(t, err.Error())
					case err != nil:
						t.Fatal(err)
					}
					defer p.Close()
					watch := 3 * d
					o := watchFailover(ctx, t, p, f, d, sc, watch)
					checkOutcome(t, p.Describe(), sc, watch, o)
					if t.Failed() {
						s, _ := p.Snapshot(ctx)
						for _, e := range s.Events {
							t.Logf("%s %s %s %s sn %d %s %d", e.At.Format("15:04:05.000"), e.Kind, e.Type, e.Region, e.SN, e.Details, e.Code)
						}
					}
					savePNG(ctx, t, p, fmt.Sprintf("player-%v-%s.png", d, sc.short))
				})
			}
		})
	}
}

// savePNG writes a screenshot of the player page into $CVS_SCREENSHOTS (a folder), or the
// test's temporary folder, and logs where.
func savePNG(ctx context.Context, t *testing.T, p *Chromium, name string) {
	t.Helper()
	png, err := p.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("CVS_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestFailoverHLSClient runs the HLS client through the same failures in a synctest bubble
// (the origins' clock is the bubble's): it must switch on a 404 at once, on a 503 after two
// retries, and keep its simulated buffer from running dry on a 404.
func TestFailoverHLSClient(t *testing.T) {
	for _, d := range durations {
		for _, sc := range scenarios {
			t.Run(d.String()+"/"+sc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := startTwoRegions(t, d, true)
					ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second+12*d)
					defer cancel()
					c, err := StartClient(ctx, f.masterURL, ClientOptions{HTTP: f.http, Regions: f.byHost()})
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					watch := 3 * d
					o := watchFailover(ctx, t, c, f, d, sc, watch)
					checkOutcome(t, c.Describe(), sc, watch, o)
					s, _ := c.Snapshot(ctx)
					if t.Failed() || testing.Verbose() {
						for _, e := range s.Events[max(0, len(s.Events)-40):] {
							t.Logf("%s %s %s sn %d %s %d", e.At.Format("15:04:05.000"), e.Kind, e.Region, e.SN, e.Details, e.Code)
						}
					}
					// Each variant of the failed region is tried once on a 404, three times on a 503.
					want := map[bool]int{true: 1, false: 3}[sc.seamless]
					byURL := errorsByURL(s, f.other(s.Region).name)
					if len(byURL) == 0 {
						t.Errorf("no error from the failed region")
					}
					for u, got := range byURL {
						if got != want {
							t.Errorf("%d errors from %s, want %d", got, u, want)
						}
					}
				})
			})
		}
	}
}

func errorsByURL(s Snapshot, region string) map[string]int {
	n := map[string]int{}
	for _, e := range s.Errors {
		if e.Region == region {
			n[e.URL]++
		}
	}
	return n
}
