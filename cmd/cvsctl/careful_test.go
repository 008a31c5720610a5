package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// countingServer answers every request with a 500 and counts them: a usage error must leave it at 0.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, `{"code":"internal","message":"counting server"}`, http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// assertPrefixed fails unless every line of stderr starts with "cvsctl <command>: ".
func assertPrefixed(t *testing.T, command, stderr string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.HasPrefix(line, "cvsctl "+command+": ") {
			t.Errorf("stderr line %q lacks the prefix %q", line, "cvsctl "+command+": ")
		}
	}
}

func TestUsageErrorsSendNothing(t *testing.T) {
	dummyAWS(t, opsKeyID, opsSecret)
	srv, requests := countingServer(t)
	src := "eu-west-1=" + srv.URL + "/index.m3u8"
	const d = opsD1
	tests := []struct {
		name string
		args []string // %S stands for the counting server's URL
		msg  string   // a part of stderr
	}{
		{"master: steering URI with a quote", []string{"master", "--endpoint", "%S", "--steering-uri", `https://s.example.com/a"b.json`, "live-1"}, "--steering-uri"},
		{"master: steering URI with a blank", []string{"master", "--endpoint", "%S", "--steering-uri", "https://s.example.com/a b.json", "live-1"}, "--steering-uri"},
		{"master: steering URI with a control character", []string{"master", "--endpoint", "%S", "--steering-uri", "https://s.example.com/a\x01b.json", "live-1"}, "--steering-uri"},
		{"master: steering URI with a line break", []string{"master", "--endpoint", "%S", "--steering-uri", "https://s.example.com/a\nb.json", "live-1"}, "--steering-uri"},
		{"master: relative steering URI", []string{"master", "--endpoint", "%S", "--steering-uri", "steer.json", "live-1"}, "--steering-uri"},
		{"master: steering URI with credentials", []string{"master", "--endpoint", "%S", "--steering-uri", "https://u:pw@s.example.com/s.json", "live-1"}, "--steering-uri"},
		{"merge: steering URI with a quote", []string{"merge", "--steering-uri", `https://s.example.com/a"b.json`, src}, "--steering-uri"},
		{"merge: steering URI with a blank", []string{"merge", "--steering-uri", "https://s.example.com/a b.json", src}, "--steering-uri"},
		{"merge: steering URI with a tab", []string{"merge", "--steering-uri", "https://s.example.com/a\tb.json", src}, "--steering-uri"},
		{"merge: negative max-bytes", []string{"merge", "--max-bytes", "-1", src}, "--max-bytes"},
		{"merge: negative timeout", []string{"merge", "--timeout", "-1s", src}, "--timeout"},
		{"close: negative if-version", []string{"close", "--endpoint", "%S", "--reason", "x", "--if-version", "-1", "live-1", d}, "--if-version"},
		{"open: negative if-version", []string{"open", "--endpoint", "%S", "--reason", "x", "--if-version", "-1", "live-1", d}, "--if-version"},
		{"register: negative if-version", []string{"register", "--endpoint", "%S", "--region", "eu-west-1", "--origin", "https://o.example.com/i.m3u8",
			"--distribution", "https://d.example.com/i.m3u8", "--if-version", "-1", "live-1", d}, "--if-version"},
		{"status: zero timeout", []string{"status", "--endpoint", "%S", "--timeout", "0s"}, "--timeout"},
		{"close: zero timeout", []string{"close", "--endpoint", "%S", "--reason", "x", "--timeout", "0s", "live-1", d}, "--timeout"},
		{"open: negative timeout", []string{"open", "--endpoint", "%S", "--reason", "x", "--timeout", "-5s", "live-1", d}, "--timeout"},
		{"history: zero timeout", []string{"history", "--endpoint", "%S", "--timeout", "0s", "live-1"}, "--timeout"},
		{"register: zero timeout", []string{"register", "--endpoint", "%S", "--region", "eu-west-1", "--origin", "https://o.example.com/i.m3u8",
			"--distribution", "https://d.example.com/i.m3u8", "--timeout", "0s", "live-1", d}, "--timeout"},
		{"master: zero timeout", []string{"master", "--endpoint", "%S", "--timeout", "0s", "live-1"}, "--timeout"},
		{"dashboard: zero timeout", []string{"dashboard", "--endpoint", "%S", "--timeout", "0s", "--listen", "127.0.0.1:0"}, "--timeout"},
		{"close: blank reason", []string{"close", "--endpoint", "%S", "--reason", "   ", "live-1", d}, "--reason"},
		{"close: invisible reason", []string{"close", "--endpoint", "%S", "--reason", "\u200b\u202e", "live-1", d}, "--reason"},
		{"open: reason that is not UTF-8", []string{"open", "--endpoint", "%S", "--reason", "back\xff", "live-1", d}, "--reason"},
		{"register: no region", []string{"register", "--endpoint", "%S", "--origin", "https://o.example.com/i.m3u8",
			"--distribution", "https://d.example.com/i.m3u8", "live-1", d}, "--region"},
		{"register: no origin", []string{"register", "--endpoint", "%S", "--region", "eu-west-1",
			"--distribution", "https://d.example.com/i.m3u8", "live-1", d}, "--origin"},
		{"register: origin with a quote", []string{"register", "--endpoint", "%S", "--region", "eu-west-1", "--origin", `https://o.example.com/"i.m3u8`,
			"--distribution", "https://d.example.com/i.m3u8", "live-1", d}, "--origin"},
		{"register: distribution with a blank", []string{"register", "--endpoint", "%S", "--region", "eu-west-1", "--origin", "https://o.example.com/i.m3u8",
			"--distribution", "https://d.example.com/a b.m3u8", "live-1", d}, "--distribution"},
		{"register: distribution without a host", []string{"register", "--endpoint", "%S", "--region", "eu-west-1", "--origin", "https://o.example.com/i.m3u8",
			"--distribution", "https://:443/i.m3u8", "live-1", d}, "--distribution"},
		{"register: plain http to a host that is not loopback", []string{"register", "--endpoint", "%S", "--region", "eu-west-1", "--origin", "http://o.example.com/i.m3u8",
			"--distribution", "https://d.example.com/i.m3u8", "live-1", d}, "--origin"},
		{"master: steering URI over plain http to a host that is not loopback", []string{"master", "--endpoint", "%S", "--steering-uri", "http://s.example.com/live-1.json", "live-1"}, "--steering-uri"},
		{"history: empty cursor", []string{"history", "--endpoint", "%S", "--cursor", "", "live-1"}, "--cursor"},
		{"register: origin with credentials", []string{"register", "--endpoint", "%S", "--region", "eu-west-1", "--origin", "https://u:pw@o.example.com/i.m3u8",
			"--distribution", "https://d.example.com/i.m3u8", "live-1", d}, "--origin"},
		{"history: empty domain", []string{"history", "--endpoint", "%S", "--domain", "", "live-1"}, "--domain"},
		{"history: limit above the maximum", []string{"history", "--endpoint", "%S", "--limit", "1001", "live-1"}, "--limit"},
		{"status: malformed API region", []string{"status", "--endpoint", "%S", "--api-region", "Ireland"}, "--api-region"},
		{"status: endpoint with a query", []string{"status", "--endpoint", "%S/?stage=prod"}, "endpoint"},
		{"status: endpoint with credentials", []string{"status", "--endpoint", "http://op:hunter2@%H"}, "endpoint"},
		{"status: endpoint that is not a URL", []string{"status", "--endpoint", "%H"}, "endpoint"},
		{"close: empty cluster", []string{"close", "--endpoint", "%S", "--reason", "x", "", d}, "an argument is empty"},
		{"status: empty cluster", []string{"status", "--endpoint", "%S", ""}, "an argument is empty"},
		{"master: empty cluster", []string{"master", "--endpoint", "%S", ""}, "an argument is empty"},
		{"merge: empty source", []string{"merge", src, ""}, "an argument is empty"},
		{"history: cursor with a blank", []string{"history", "--endpoint", "%S", "--cursor", "abc def", "live-1"}, "--cursor"},
		{"dashboard: listen address that is not loopback", []string{"dashboard", "--endpoint", "%S", "--listen", "0.0.0.0:0"}, "--listen"},
		{"status: cluster with a blank", []string{"status", "--endpoint", "%S", "live 1"}, "cluster"},
		{"history: cluster with a slash", []string{"history", "--endpoint", "%S", "live/1"}, "cluster"},
		{"master: cluster with a blank", []string{"master", "--endpoint", "%S", "live 1"}, "cluster"},
		{"close: cluster with a blank", []string{"close", "--endpoint", "%S", "--reason", "x", "live 1", d}, "cluster"},
		{"close: domain with a slash", []string{"close", "--endpoint", "%S", "--reason", "x", "live-1", d + "/x"}, "domain"},
		{"open: domain that is not a distribution", []string{"open", "--endpoint", "%S", "--reason", "x", "live-1", "NOTADOMAIN"}, "domain"},
		{"history: domain with a blank", []string{"history", "--endpoint", "%S", "--domain", "d1 x", "live-1"}, "domain"},
		{"register: domain that is not a distribution", []string{"register", "--endpoint", "%S", "--region", "eu-west-1", "--origin", "https://o.example.com/i.m3u8",
			"--distribution", "https://d.example.com/i.m3u8", "live-1", "example.com"}, "domain"},
		{"register: malformed region", []string{"register", "--endpoint", "%S", "--region", "Ireland", "--origin", "https://o.example.com/i.m3u8",
			"--distribution", "https://d.example.com/i.m3u8", "live-1", d}, "--region"},
		{"close: reason of a combining mark only", []string{"close", "--endpoint", "%S", "--reason", "\u0301", "live-1", d}, "--reason"},
		{"close: reason with a control character", []string{"close", "--endpoint", "%S", "--reason", "ok\x01", "live-1", d}, "--reason"},
		{"open: reason holding U+FFFD", []string{"open", "--endpoint", "%S", "--reason", "back \ufffd", "live-1", d}, "--reason"},
		{"open: reason over 500 bytes", []string{"open", "--endpoint", "%S", "--reason", strings.Repeat("x", 501), "live-1", d}, "--reason"},
	}
	expand := strings.NewReplacer("%S", srv.URL, "%H", strings.TrimPrefix(srv.URL, "http://")).Replace
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requests.Store(0)
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = expand(a)
			}
			code, stdout, stderr := runWith(t, srv.Client(), args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (usage); stderr %q", code, exitUsage, stderr)
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("%d requests reached the server, want none", n)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, strings.TrimLeft(tc.msg, "-")) {
				t.Errorf("stderr = %q, want it to name %s", stderr, tc.msg)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr echoes the password: %q", stderr)
			}
			assertPrefixed(t, args[0], stderr)
		})
	}
}

func TestEndpointFromEnvironmentChecked(t *testing.T) {
	dummyAWS(t, opsKeyID, opsSecret)
	srv, requests := countingServer(t)
	t.Setenv(endpointEnv, "http://op:hunter2@"+strings.TrimPrefix(srv.URL, "http://"))
	code, _, stderr := runWith(t, srv.Client(), "status")
	if code != exitUsage || requests.Load() != 0 {
		t.Fatalf("exit %d after %d requests, want %d after none; stderr %q", code, requests.Load(), exitUsage, stderr)
	}
	if strings.Contains(stderr, "hunter2") || !strings.Contains(stderr, "$"+endpointEnv) {
		t.Fatalf("stderr = %q, want it to name $%s and not echo the password", stderr, endpointEnv)
	}
}

// credentialedURL puts user:secret into an httptest URL.
func credentialedURL(srv *httptest.Server, path string) string {
	return "http://alice:s3cr3t-pw@" + strings.TrimPrefix(srv.URL, "http://") + path
}

func TestMergeNeverEchoesCredentials(t *testing.T) {
	eu, us := newRegion(t), newRegion(t)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"merged URIs", []string{credentialedURL(eu, "/index.m3u8"), credentialedURL(us, "/index.m3u8")}, exitOK},
		{"a 404", []string{credentialedURL(eu, "/index.m3u8"), credentialedURL(us, "/gone.m3u8")}, exitFailure},
		{"an HTML page", []string{credentialedURL(eu, "/error.html"), credentialedURL(us, "/index.m3u8")}, exitFailure},
		{"a timeout", []string{"--timeout", "50ms", credentialedURL(eu, "/index.m3u8"), credentialedURL(us, "/hang.m3u8")}, exitFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := fixNames(append([]string{"merge"}, tc.args...))
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			for _, leak := range []string{"s3cr3t-pw", "alice"} {
				if strings.Contains(stdout, leak) || strings.Contains(stderr, leak) {
					t.Errorf("%q appears in the output:\nstdout: %s\nstderr: %s", leak, stdout, stderr)
				}
			}
			if code == exitOK && !strings.Contains(stdout, strings.TrimPrefix(eu.URL, "http://")+"/index_1.m3u8") {
				t.Errorf("the merged master lost the host:\n%s", stdout)
			}
			assertPrefixed(t, "merge", stderr)
		})
	}
}

// fixNames makes each URL argument a source: the first eu-west-1, the second us-east-1.
func fixNames(args []string) []string {
	names := []string{"eu-west-1", "us-east-1"}
	n := 0
	for i, a := range args {
		if strings.HasPrefix(a, "http") {
			args[i] = names[n] + "=" + a
			n++
		}
	}
	return args
}

func TestAPIErrorsNeverEchoCredentials(t *testing.T) {
	dummyAWS(t, opsKeyID, opsSecret)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	code, _, stderr := runWith(t, &http.Client{}, "status", "--endpoint", credentialedURL(dead, ""))
	if code == exitOK || strings.Contains(stderr, "s3cr3t-pw") || strings.Contains(stderr, "alice") {
		t.Fatalf("exit %d, stderr %q: want a failure that does not echo the user info", code, stderr)
	}
}

// ladder is a master playlist of n variants with bandwidths from base up.
func ladder(n, base int) string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n")
	for i := range n {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,RESOLUTION=640x360,CODECS=\"avc1.4D401E,mp4a.40.2\"\nv%d.m3u8\n", base+i, i)
	}
	return b.String()
}

func TestMergeWarningsBounded(t *testing.T) {
	const n = 2000 // disjoint ladders: every variant of each source lacks a match in the other
	a, b := ladder(n, 100000), ladder(n, 900000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a.m3u8" {
			w.Write([]byte(a))
			return
		}
		w.Write([]byte(b))
	}))
	defer srv.Close()
	code, stdout, stderr := runCLI(t, "merge", "eu-west-1="+srv.URL+"/a.m3u8", "us-east-1="+srv.URL+"/b.m3u8")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if got := strings.Count(stdout, "#EXT-X-STREAM-INF:"); got != 2*n {
		t.Fatalf("%d variants merged, want %d", got, 2*n)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) > maxWarnings+3 {
		t.Fatalf("%d stderr lines, want at most %d:\n%s", len(lines), maxWarnings+3, strings.Join(lines[:20], "\n"))
	}
	if !regexp.MustCompile(`(?m)^cvsctl merge: \d+ more warnings not shown \(\d+ in all\)$`).MatchString(stderr) {
		t.Errorf("stderr has no summary of the warnings left out:\n%s", stderr)
	}
	if got := strings.Count(stderr, "cvsctl merge: warning: "); got != maxWarnings {
		t.Errorf("%d warnings shown, want %d", got, maxWarnings)
	}
	assertPrefixed(t, "merge", stderr)
}

func TestMergeWarnsOfOneURLForTwoRegions(t *testing.T) {
	eu := newRegion(t)
	host := strings.TrimPrefix(eu.URL, "http://")
	tests := []struct{ name, a, b string }{
		{"identical", eu.URL + "/index.m3u8", eu.URL + "/index.m3u8"},
		{"scheme and host in other case", eu.URL + "/index.m3u8", "HTTP://" + strings.ToUpper(host) + "/index.m3u8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "merge", "eu-west-1="+tc.a, "us-east-1="+tc.b)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if want := "cvsctl merge: warning: eu-west-1 and us-east-1 have the same URL"; !strings.Contains(stderr, want) {
				t.Errorf("stderr = %q, want %q", stderr, want)
			}
			assertPrefixed(t, "merge", stderr)
		})
	}
}

func TestEveryStderrLineHasThePrefix(t *testing.T) {
	dummyAWS(t, opsKeyID, opsSecret)
	eu, us := newRegion(t), newRegion(t)
	local, _ := localAPI(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"two failed sources", []string{"merge", "eu-west-1=" + eu.URL + "/gone.m3u8", "us-east-1=" + us.URL + "/gone.m3u8"}, exitFailure},
		{"an unknown flag", []string{"merge", "--regions", "2"}, exitUsage},
		{"no sources", []string{"merge"}, exitUsage},
		{"an unknown flag of status", []string{"status", "--colour"}, exitUsage},
		{"wrong number of arguments", []string{"close", "--reason", "x", "live-1"}, exitUsage},
		{"history with more pages", []string{"history", "--endpoint", local.URL, "--limit", "1", "live-1"}, exitOK},
		{"demo with arguments", []string{"demo", "extra"}, exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runWith(t, &http.Client{}, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.wantCode, stderr)
			}
			if stderr == "" {
				t.Fatal("nothing on stderr")
			}
			assertPrefixed(t, tc.args[0], stderr)
		})
	}
}

func TestMasterRouteMissing(t *testing.T) {
	dummyAWS(t, opsKeyID, opsSecret)
	// The local API without a master service has no master route, like an API deployed before it.
	noMaster, _ := localAPI(t)
	// API Gateway answers a route it does not have with its own body and no code.
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Not Found"}`))
	}))
	defer gateway.Close()
	for _, tc := range []struct {
		name     string
		endpoint string
	}{
		{"API without the route", noMaster.URL},
		{"gateway 404 without a code", gateway.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runWith(t, &http.Client{}, "master", "--endpoint", tc.endpoint, "live-1")
			if code != exitFailure {
				t.Errorf("exit %d, want %d (an error, not %d: the cluster exists)", code, exitFailure, exitNotFound)
			}
			if !strings.Contains(stderr, "has no route POST /clusters/live-1/master") {
				t.Errorf("stderr = %q, want it to say the API lacks the route", stderr)
			}
			assertPrefixed(t, "master", stderr)
		})
	}
	t.Run("an unknown cluster is still not found", func(t *testing.T) {
		code, _, stderr := runWith(t, &http.Client{}, "master", "--endpoint", noMaster.URL, "live-9")
		if code != exitNotFound {
			t.Errorf("exit %d, want %d; stderr %q", code, exitNotFound, stderr)
		}
	})
}
