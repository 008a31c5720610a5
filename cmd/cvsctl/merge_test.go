package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/hls"
)

// newRegion is an httptest origin standing in for one region's distribution. Paths:
// /index.m3u8 the install guide's master, /advanced.m3u8 the advanced one, /short.m3u8 the guide's
// master without its 540p variant, /error.html an HTML error page with status 200, /huge.m3u8 a
// master of 1 MiB + 1 byte, /hang.m3u8 never answers, anything else 404.
func newRegion(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	short := strings.Replace(string(demoBasic),
		"#EXT-X-STREAM-INF:BANDWIDTH=2635564,AVERAGE-BANDWIDTH=2635564,RESOLUTION=960x540,FRAME-RATE=30.000,CODECS=\"avc1.4D401F,mp4a.40.2\"\nindex_2.m3u8\n", "", 1)
	if short == string(demoBasic) {
		t.Fatal("demodata/basic.m3u8 no longer has the 540p variant this test removes")
	}
	huge := string(demoBasic) + "#" + strings.Repeat("x", hls.DefaultMaxBody-len(demoBasic)) + "\n"
	files := map[string]string{"/index.m3u8": string(demoBasic), "/advanced.m3u8": string(demoAdvanced), "/short.m3u8": short, "/huge.m3u8": huge,
		"/error.html": "<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang.m3u8" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv
}

func TestMergeCommand(t *testing.T) {
	eu, us := newRegion(t), newRegion(t)

	t.Run("two regions merge into redundant variants", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "merge", "eu-west-1="+eu.URL+"/index.m3u8", "us-east-1="+us.URL+"/index.m3u8")
		if code != exitOK {
			t.Fatalf("exit code %d, stderr %q", code, stderr)
		}
		m, err := hls.ParseMaster([]byte(stdout))
		if err != nil {
			t.Fatalf("stdout is not a master playlist: %v\n%s", err, stdout)
		}
		var got []string
		for _, v := range m.Variants {
			got = append(got, v.URI)
		}
		want := []string{
			eu.URL + "/index_1.m3u8", us.URL + "/index_1.m3u8",
			eu.URL + "/index_2.m3u8", us.URL + "/index_2.m3u8",
			eu.URL + "/index_3.m3u8", us.URL + "/index_3.m3u8",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("variant URIs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if want := "cvsctl merge: merged 2 masters: 6 variants in 3 redundant groups, 2 I-frame variants in 1 group, 0 renditions\n"; stderr != want {
			t.Errorf("stderr = %q, want %q", stderr, want)
		}
	})
	t.Run("content steering", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "merge", "--steering-uri", "https://steer.example.com/s.json", "--timeout", "3s",
			"eu-west-1="+eu.URL+"/advanced.m3u8", "us-east-1="+us.URL+"/advanced.m3u8")
		if code != exitOK {
			t.Fatalf("exit code %d, stderr %q", code, stderr)
		}
		if want := "\n#EXT-X-CONTENT-STEERING:SERVER-URI=\"https://steer.example.com/s.json\",PATHWAY-ID=\"eu-west-1\"\n"; !strings.Contains(stdout, want) {
			t.Errorf("stdout has no %q:\n%s", want, stdout)
		}
		if got := strings.Count(stdout, `PATHWAY-ID="us-east-1"`); got != 10 {
			t.Errorf("%d tags carry PATHWAY-ID=\"us-east-1\", want 10 (6 variants, 4 I-frame variants)", got)
		}
	})
	t.Run("flags after and between the sources", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "merge", "eu-west-1="+eu.URL+"/advanced.m3u8", "--steering-uri", "https://steer.example.com/s.json",
			"us-east-1="+us.URL+"/advanced.m3u8", "--timeout", "5s", "--max-bytes", "65536")
		if code != exitOK {
			t.Fatalf("exit code %d, stderr %q", code, stderr)
		}
		if got := strings.Count(stdout, `PATHWAY-ID="us-east-1"`); got != 10 {
			t.Errorf("%d tags carry PATHWAY-ID=\"us-east-1\", want 10: the steering flag between the sources was not applied", got)
		}
	})
	t.Run("a flag after the sources applies", func(t *testing.T) {
		code, _, stderr := runCLI(t, "merge", "eu-west-1="+eu.URL+"/index.m3u8", "us-east-1="+us.URL+"/hang.m3u8", "--timeout", "100ms")
		if want := "GET " + us.URL + "/hang.m3u8: no complete response within 100ms"; code != exitFailure || !strings.Contains(stderr, want) {
			t.Errorf("exit code %d, stderr %q; want %d and %q", code, stderr, exitFailure, want)
		}
	})
	t.Run("differing ladders are merged with warnings", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "merge", "eu-west-1="+eu.URL+"/index.m3u8", "us-east-1="+us.URL+"/short.m3u8")
		if code != exitOK {
			t.Fatalf("exit code %d, stderr %q", code, stderr)
		}
		want := `cvsctl merge: warning: us-east-1: lacks eu-west-1's variant BANDWIDTH=2635564,AVERAGE-BANDWIDTH=2635564,RESOLUTION=960x540,FRAME-RATE=30.000,CODECS="avc1.4D401F,mp4a.40.2" (eu-west-1 line 6)` + "\n"
		if !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, ", 1 warning\n") {
			t.Errorf("stderr = %q, want the warning %q and a summary counting it", stderr, want)
		}
		if got := strings.Count(stdout, "#EXT-X-STREAM-INF:"); got != 5 {
			t.Errorf("%d variants in the output, want 5", got)
		}
	})

	failures := []struct {
		name   string
		args   []string
		stderr string // %E and %U stand for the two origins' URLs
	}{
		{"a missing master names its source", []string{"eu-west-1=%E/index.m3u8", "us-east-1=%U/gone.m3u8"},
			"cvsctl merge: source us-east-1: GET %U/gone.m3u8: HTTP 404 Not Found\n"},
		{"every failed source is named", []string{"eu-west-1=%E/gone.m3u8", "us-east-1=%U/gone.m3u8"},
			"cvsctl merge: source eu-west-1: GET %E/gone.m3u8: HTTP 404 Not Found\ncvsctl merge: source us-east-1: GET %U/gone.m3u8: HTTP 404 Not Found\n"},
		{"oversized master", []string{"eu-west-1=%E/huge.m3u8", "us-east-1=%U/index.m3u8"},
			"cvsctl merge: source eu-west-1: GET %E/huge.m3u8: response larger than the 16777216-byte limit\n"},
		{"origin that never answers", []string{"--timeout", "100ms", "eu-west-1=%E/index.m3u8", "us-east-1=%U/hang.m3u8"},
			"cvsctl merge: source us-east-1: GET %U/hang.m3u8: no complete response within 100ms: context deadline exceeded\n"},
		{"HTML page instead of a master", []string{"eu-west-1=%E/error.html"},
			"cvsctl merge: source eu-west-1 (%E/error.html): line 1: not a master playlist: starts with \"<!DOCTYPE html><html...\", not #EXTM3U\n"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			expand := strings.NewReplacer("%E", eu.URL, "%U", us.URL).Replace
			args := []string{"merge"}
			for _, a := range tc.args {
				args = append(args, expand(a))
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != exitFailure {
				t.Errorf("exit code = %d, want %d", code, exitFailure)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if want := expand(tc.stderr); stderr != want {
				t.Errorf("stderr:\n got %q\nwant %q", stderr, want)
			}
		})
	}
}

func TestMergeCommandUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"no sources", nil, "cvsctl merge: no sources: give at least one NAME=URL"},
		{"argument without =", []string{"eu-west-1"}, `cvsctl merge: "eu-west-1" is not NAME=URL`},
		{"URL that is not http", []string{"eu-west-1=s3://bucket/index.m3u8"}, `cvsctl merge: "eu-west-1=s3://bucket/index.m3u8": "s3://bucket/index.m3u8" is not an absolute http(s) URL`},
		{"relative URL", []string{"eu-west-1=index.m3u8"}, `is not an absolute http(s) URL`},
		{"name with a space", []string{"eu west=https://a.example/index.m3u8"}, `source name "eu west" may hold only letters, digits, '.', '-' and '_'`},
		{"name given twice", []string{"a=https://a.example/i.m3u8", "a=https://b.example/i.m3u8"}, `cvsctl merge: name "a" given twice`},
		{"zero timeout", []string{"--timeout", "0s", "a=https://a.example/i.m3u8"}, `cvsctl merge: invalid value "0s" for flag -timeout: must be positive`},
		{"unknown flag", []string{"--regions", "2"}, "flag provided but not defined: -regions"},
		{"flag without value", []string{"--timeout"}, "flag needs an argument: -timeout"},
		{"zero timeout after the sources", []string{"a=https://a.example/i.m3u8", "--timeout", "0s"}, `cvsctl merge: invalid value "0s" for flag -timeout: must be positive`},
		{"max-bytes after the sources", []string{"a=https://a.example/i.m3u8", "--max-bytes", "0"}, "cvsctl merge: --max-bytes must be positive, not 0"},
		{"everything after -- is a source", []string{"--", "--timeout", "5s"}, `cvsctl merge: "--timeout" is not NAME=URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"merge"}, tc.args...)...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d", code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tc.msg) {
				t.Errorf("stderr = %q, want %q", stderr, tc.msg)
			}
			assertPrefixed(t, "merge", stderr)
		})
	}
}
