package player

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/local/liveorigin"
)

// edge stands in for a region's edge: it passes requests to the origin until closed, then
// answers 404 as a closed distribution does (design.md 4.4), with CORS.
type edge struct {
	origin *liveorigin.Origin
	closed atomic.Bool
}

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !e.closed.Load() {
		e.origin.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store")
	h.Set("x-cvs-state", "closed")
	http.Error(w, "closed", http.StatusNotFound)
}

// region is one region of a twoRegions setup.
type region struct {
	name string
	host string
	edge *edge
}

// twoRegions is two live origins with the same epoch (redundant streams), each behind a
// closable edge, and their master merged with hls.Merge as cvsctl merge does.
type twoRegions struct {
	regions   []*region
	masterURL string
	http      *http.Client
}

// byHost maps each region's host to its name, for Options.Regions.
func (f *twoRegions) byHost() map[string]string {
	m := map[string]string{}
	for _, r := range f.regions {
		m[r.host] = r.name
	}
	return m
}

func (f *twoRegions) region(name string) *region {
	for _, r := range f.regions {
		if r.name == name {
			return r
		}
	}
	return nil
}

// other returns the region that is not name.
func (f *twoRegions) other(name string) *region {
	for _, r := range f.regions {
		if r.name != name {
			return r
		}
	}
	return nil
}

// startTwoRegions serves two regions and the merged master on loopback (memory false) or
// through an in-process transport on made-up hosts (memory true, for synctest bubbles).
func startTwoRegions(t *testing.T, d time.Duration, memory bool) *twoRegions {
	t.Helper()
	now := time.Now()
	epoch := now.Truncate(d).Add(-20 * d)
	f := &twoRegions{http: &http.Client{Timeout: 10 * time.Second}}
	hosts := map[string]http.Handler{}
	serve := func(name string, h http.Handler) string {
		if memory {
			host := name + ".test"
			hosts[host] = h
			return host
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		return u.Host
	}
	if memory {
		f.http.Transport = handlerTransport(hosts)
	}
	var sources []hls.MergeSource
	for i, name := range []string{"region-1", "region-2"} {
		o, err := liveorigin.New(liveorigin.Config{Label: i + 1, SegmentDuration: d, Epoch: epoch})
		if err != nil {
			t.Fatal(err)
		}
		r := &region{name: name, edge: &edge{origin: o}}
		r.host = serve(name, r.edge)
		f.regions = append(f.regions, r)
		src := "http://" + r.host + "/master.m3u8"
		body := getOK(t, f.http, src)
		sources = append(sources, hls.MergeSource{Name: name, URL: src, Body: body})
	}
	merged, err := hls.Merge(sources, hls.MergeOptions{})
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	master := serve("master", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Write(merged.Playlist)
	}))
	f.masterURL = "http://" + master + "/index.m3u8"
	return f
}

func getOK(t *testing.T, c *http.Client, u string) []byte {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := hls.ReadLimited(resp.Body, 1<<20)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return body
}

// handlerTransport answers requests to the given hosts with their handlers, in process.
type handlerTransport map[string]http.Handler

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h, ok := ht[r.URL.Host]
	if !ok {
		return nil, fmt.Errorf("no host %s", r.URL.Host)
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// scenario is a failure of the region being watched.
type scenario struct {
	name  string
	short string // for file names
	// fail breaks region r.
	fail func(r *region)
	// seamless: the system promises no rebuffer (the edge's 404 switches at once).
	seamless bool
}

var scenarios = []scenario{
	{name: "edge closes the region (404)", short: "404", fail: func(r *region) { r.edge.closed.Store(true) }, seamless: true},
	{name: "origin answers 503", short: "503", fail: func(r *region) {
		if err := r.edge.origin.SetState(liveorigin.Error); err != nil {
			panic(err)
		}
	}},
}

// outcome is what a failover looked like to a viewer.
type outcome struct {
	switchAfter time.Duration // from the failure to the first fragment from the other region
	rebuffers   int
	stalls      int
	played      float64 // media seconds played between the switch and the end of the watch
}

// watchFailover plays f until started, breaks the region being watched, and watches until the
// viewer has loaded fragments from the other region and then played on for watch. Every wait
// is bounded by ctx.
func watchFailover(ctx context.Context, t *testing.T, v Viewer, f *twoRegions, d time.Duration, sc scenario, watch time.Duration) outcome {
	t.Helper()
	s, err := WaitFor(ctx, v, func(s Snapshot) bool { return s.Started && len(s.Fragments(time.Time{})) >= 4 })
	if err != nil {
		t.Fatalf("%s never started: %v (errors %v)", v.Describe(), err, s.Errors)
	}
	played := f.region(s.Region)
	if played == nil {
		t.Fatalf("the last fragment came from %q, not a region", s.Region)
	}
	other := f.other(played.name)
	failedAt := time.Now()
	sc.fail(played)
	s, err = WaitFor(ctx, v, func(s Snapshot) bool { _, ok := s.SwitchAfter(failedAt); return ok })
	if err != nil {
		t.Fatalf("%s did not switch from %s after %v: %v (errors %v)", v.Describe(), played.name, time.Since(failedAt), err, s.Errors)
	}
	sw, _ := s.SwitchAfter(failedAt)
	if sw.To != other.name {
		t.Fatalf("switched to %q, want %q", sw.To, other.name)
	}
	atSwitch := s.CurrentTime
	end := time.Now().Add(watch)
	s, err = WaitFor(ctx, v, func(Snapshot) bool { return !time.Now().Before(end) })
	if err != nil {
		t.Fatalf("watch after the switch: %v", err)
	}
	if s.Region != other.name {
		t.Errorf("%s ended on %q, want %q", v.Describe(), s.Region, other.name)
	}
	if n := len(s.Fragments(sw.At)); n < 2 {
		t.Errorf("%d fragments after the switch, want at least 2", n)
	}
	for _, e := range s.Errors {
		if e.Fatal {
			t.Errorf("fatal error: %+v", e)
		}
	}
	return outcome{switchAfter: sw.At.Sub(failedAt), rebuffers: s.Rebuffers, stalls: s.BufferStalls, played: s.CurrentTime - atSwitch}
}
