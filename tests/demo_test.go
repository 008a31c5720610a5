package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestDemo runs `cvsctl demo --json --segment-duration 2s` as a user does, side by side: with
// the HLS client in Go (no browser needed) and with hls.js in Chromium. Its last stdout line must
// be the timeline with every field, in the order the chain makes them; the player must end on
// the other region without a rebuffer. With -update-docs the player page after the switch is
// written to docs/player.png.
func TestDemo(t *testing.T) {
	testenv.Short(t, "runs cvsctl demo twice, about 30 s")
	bin := buildCvsctl(t)
	root := testenv.RepoRoot(t)
	cases := []struct {
		name, viewer string
	}{
		{"HLS client", "client"},
		{"hls.js in Chromium", "chromium"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"demo", "--json", "--segment-duration", "2s", "--viewer", c.viewer}
			shot := filepath.Join(t.TempDir(), "player.png")
			if c.viewer == "chromium" {
				if _, err := exec.LookPath("chromium"); err != nil {
					testenv.Unavailable(t, "chromium is not installed")
				}
				if _, err := os.Stat(filepath.Join(root, "node_modules", "hls.js", "dist", "hls.min.js")); err != nil {
					testenv.Unavailable(t, "hls.js is not installed (npm ci)")
				}
				args = append(args, "--screenshot", shot)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Dir = root
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("cvsctl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
			}
			lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
			t.Logf("%s in %s:\n%s", c.name, time.Since(start).Round(time.Second), strings.Join(lines[:len(lines)-1], "\n"))
			var tl map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &tl); err != nil {
				t.Fatalf("the last stdout line is not a JSON object: %v: %s", err, lines[len(lines)-1])
			}
			ms := func(k string) float64 {
				t.Helper()
				v, ok := tl[k].(float64)
				if !ok {
					t.Fatalf("field %s: %v, want a number", k, tl[k])
				}
				return v
			}
			if ms("segment_duration_ms") != 2000 || ms("target_duration_ms") != 2000 {
				t.Errorf("segment_duration_ms %v, target_duration_ms %v; want 2000 and 2000", tl["segment_duration_ms"], tl["target_duration_ms"])
			}
			stale, confirmed, closed, first404 := ms("stale_event_ms"), ms("confirmed_ms"), ms("closed_ms"), ms("first_404_ms")
			switched := ms("player_switched_ms")
			// The stale event's log line and the trigger are separate SNS subscriptions: the
			// confirmation need not come after the stale event's line, but both before the close.
			if !(0 <= stale && stale <= closed && 0 <= confirmed && confirmed <= closed && closed <= first404) {
				t.Errorf("stale %v, confirmed %v, closed %v, first 404 %v: want 0 <= stale, confirmed <= closed <= first 404", stale, confirmed, closed, first404)
			}
			// Nothing makes a viewer leave the region before the edge closes it.
			if switched < closed {
				t.Errorf("switched at %v ms, before the close at %v ms", switched, closed)
			}
			if tl["played_region"] == tl["switched_to"] || tl["switched_to"] != tl["other_region"] {
				t.Errorf("played %v, switched to %v, other region %v", tl["played_region"], tl["switched_to"], tl["other_region"])
			}
			rebuffers := ms("rebuffer_events")
			closing := lines[len(lines)-2]
			switch c.viewer {
			case "client":
				if tl["player"] != "none" || !strings.Contains(tl["client"].(string), "HLS client") {
					t.Errorf("player %v, client %v; want none and the HLS client", tl["player"], tl["client"])
				}
				if strings.Contains(stdout.String(), "the player") {
					t.Errorf("the output calls the HLS client a player:\n%s", stdout.String())
				}
			case "chromium":
				if p, _ := tl["player"].(string); !strings.HasPrefix(p, "hls.js ") || !strings.Contains(p, " in Chromium ") {
					t.Errorf("player %q, want hls.js in Chromium", p)
				}
				if rebuffers != 0 || ms("buffer_stalls") != 0 || tl["viewers_saw_stall"] != false {
					t.Errorf("%v rebuffer events, %v buffer stalls, viewers saw a stall %v: want none", rebuffers, tl["buffer_stalls"], tl["viewers_saw_stall"])
				}
				png, err := os.ReadFile(shot)
				if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
					t.Fatalf("screenshot %s: %v (%d bytes)", shot, err, len(png))
				}
				if *updateDocs {
					if err := os.WriteFile(filepath.Join(root, "docs", "player.png"), png, 0o644); err != nil {
						t.Fatal(err)
					}
					t.Logf("wrote docs/player.png (%d KB)", len(png)>>10)
				}
			}
			// The closing line says whether viewers saw a stall, as the JSON does.
			if want := map[bool]string{true: "Viewers saw a stall", false: "No stall"}[rebuffers > 0 || ms("buffer_stalls") > 0]; !strings.HasPrefix(closing, want) {
				t.Errorf("closing line %q, want it to start with %q", closing, want)
			}
		})
	}
}
