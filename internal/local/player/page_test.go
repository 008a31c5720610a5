package player

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServePage serves the player page for a person's browser: the page, hls.js beside it, and
// the master and regions in the page's address; a bad master URL is refused.
func TestServePage(t *testing.T) {
	hlsJS := filepath.Join(t.TempDir(), "hls.min.js")
	if err := os.WriteFile(hlsJS, []byte("var Hls = {};"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ServePage("not a url", Options{HLSJS: hlsJS}); err == nil {
		t.Fatal("ServePage took a bad master URL")
	}
	master := "http://127.0.0.1:1/live/index.m3u8"
	p, err := ServePage(master, Options{HLSJS: hlsJS, Regions: map[string]string{"127.0.0.1:2": "us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get("src"); got != master {
		t.Errorf("src %q, want %q", got, master)
	}
	if got := u.Query().Get("regions"); got != `{"127.0.0.1:2":"us-east-1"}` {
		t.Errorf("regions %q", got)
	}
	for path, want := range map[string]string{p.URL: "<video", "http://" + u.Host + "/hls.js": "var Hls"} {
		resp, err := http.Get(path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, body without %q", path, resp.StatusCode, want)
		}
	}
}
