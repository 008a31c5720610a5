package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/hls"
)

func TestParseBenchmarks(t *testing.T) {
	out := `goos: linux
pkg: github.com/clustered-video-streams/cvs/internal/hls
BenchmarkMerge/2_regions-2  	    1406	    150809 ns/op	  50.17 MB/s	   94104 B/op	     452 allocs/op
--- FAIL: BenchmarkTrackerObserve/changed_body
    tracker_bench_test.go:45: observation 1024: fresh <nil>
BenchmarkPollOrigin/playlists=8-2         	   20000	     41000 ns/op	   24199 polls/cpu-s	   16058 polls/s	    9000 B/op	      90 allocs/op
BenchmarkParseMedia/scan_only     	  123837	      4369 ns/op
FAIL
`
	got := ParseBenchmarks([]byte(out))
	want := Results{
		"BenchmarkMerge/2_regions": {Name: "BenchmarkMerge/2_regions", N: 1406, Metrics: map[string]float64{"ns/op": 150809, "MB/s": 50.17, "B/op": 94104, "allocs/op": 452}},
		"BenchmarkPollOrigin/playlists=8": {Name: "BenchmarkPollOrigin/playlists=8", N: 20000, Metrics: map[string]float64{
			"ns/op": 41000, "polls/cpu-s": 24199, "polls/s": 16058, "B/op": 9000, "allocs/op": 90}},
		"BenchmarkParseMedia/scan_only": {Name: "BenchmarkParseMedia/scan_only", N: 123837, Metrics: map[string]float64{"ns/op": 4369}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ParseBenchmarks (-want +got):\n%s", diff)
	}
	if _, err := got.Metric("BenchmarkTrackerObserve/changed_body", "ns/op"); err == nil {
		t.Fatal("a failed benchmark has a figure")
	}
	if _, err := got.Metric("BenchmarkMerge/2_regions", "polls/s"); err == nil {
		t.Fatal("a metric the benchmark did not report has a figure")
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{formatNS(316.7), "317 ns"},
		{formatNS(8712), "8.7 us"},
		{formatNS(150809), "151 us"},
		{formatNS(2.5e6), "2.50 ms"},
		{thousands(999.6), "1,000"},
		{thousands(24199), "24,199"},
		{thousands(1234567), "1,234,567"},
		{lastLine("a\nb\n{\"x\":1}\n"), `{"x":1}`},
		{firstLine("\nfirst\nsecond"), "first"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestOriginOverTLS starts the bench origin with TLS, trusts the certificate it writes, and
// checks that each request gets a newer live media playlist and that the stop report counts them.
func TestOriginOverTLS(t *testing.T) {
	cert := filepath.Join(t.TempDir(), "origin.pem")
	stopR, stopW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- ServeOrigin(context.Background(), OriginConfig{CertFile: cert, Lifetime: time.Minute}, stopR, outW)
		outW.Close()
	}()
	lines := bufio.NewReader(outR)
	base, err := lines.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base = strings.TrimSpace(base)
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("origin URL %q, want https on loopback", base)
	}
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("the origin wrote no PEM certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	last := int64(-1)
	for i := range 3 {
		resp, err := client.Get(base + "/v0.m3u8")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		m, err := hls.ParseMedia(body)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if m.Segments != 6 || int64(m.MediaSequence) <= last {
			t.Fatalf("request %d: %d segments from %d, want 6 from after %d", i, m.Segments, m.MediaSequence, last)
		}
		last = int64(m.MediaSequence)
	}
	stopW.Close()
	stats, err := originStats(lines)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"HTTP/1.1": 0, "HTTP/2.0": 3}, stats); diff != "" {
		t.Fatalf("origin stats (-want +got):\n%s", diff)
	}
}
