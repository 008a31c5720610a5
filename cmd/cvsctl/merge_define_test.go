package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMergeCommandResolvesVariables: `cvsctl merge` writes every EXT-X-DEFINE variable's value
// (QUERYPARAM from the region's URL), never a literal {$name}, and refuses a reference nothing
// defines with exit 1, naming EXT-X-DEFINE and printing no master.
func TestMergeCommandResolvesVariables(t *testing.T) {
	files := map[string]string{
		"/defined.m3u8": "#EXTM3U\n#EXT-X-DEFINE:NAME=\"cdn\",VALUE=\"https://cdn.example.com/live\"\n#EXT-X-DEFINE:QUERYPARAM=\"token\"\n" +
			"#EXT-X-STREAM-INF:BANDWIDTH=1000000\n{$cdn}/lo.m3u8?token={$token}\n",
		"/undefined.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\n{$cdn}/lo.m3u8\n",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)

	t.Run("defined", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "merge", "eu-west-1="+srv.URL+"/defined.m3u8?token=abc")
		if code != exitOK {
			t.Fatalf("exit code %d, stderr %q", code, stderr)
		}
		if !strings.Contains(stdout, "\nhttps://cdn.example.com/live/lo.m3u8?token=abc\n") || strings.Contains(stdout, "{$") {
			t.Errorf("stdout does not list the resolved URI, or holds a variable reference:\n%s", stdout)
		}
	})
	t.Run("undefined", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "merge", "eu-west-1="+srv.URL+"/undefined.m3u8")
		if code != exitFailure || stdout != "" || !strings.Contains(stderr, "{$cdn} is not defined by any EXT-X-DEFINE") {
			t.Fatalf("exit code %d, stdout %q, stderr %q; want 1, nothing, and the variable named", code, stdout, stderr)
		}
	})
}
