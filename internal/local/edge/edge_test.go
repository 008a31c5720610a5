package edge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// origin is an httptest origin that records the requests reaching it.
type origin struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newOrigin(t *testing.T) *origin {
	o := &origin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.seen = append(o.seen, r.Clone(context.Background()))
		o.mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=1")
		_, _ = io.WriteString(w, "origin "+r.URL.RequestURI())
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *origin) requests() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.seen...)
}

func newEdgeServer(t *testing.T, domain string, kvs KeyValueStore, o *origin) *httptest.Server {
	t.Helper()
	u, err := url.Parse(o.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewEdge(domain, u, loadCopilot(t, kvs), EdgeOptions{}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", u, err)
	}
	return resp, string(b)
}

func TestEdgeProxiesOrAnswers(t *testing.T) {
	failing := KVSFunc(func(context.Context, string) (string, error) { return "", errors.New("unavailable") })
	for _, tc := range []struct {
		name       string
		domain     string
		kvs        KeyValueStore
		path       string
		wantStatus int
		wantOrigin bool
		wantBody   string
	}{
		{"closed segment", closedDomain, testKVS(), "/live/news/720p/seg_1.ts?x=1", 404, false, "This region of the stream is closed; use another one.\n"},
		{"closed master", closedDomain, testKVS(), "/live/news/index.m3u8", 404, false, "This region of the stream is closed; use another one.\n"},
		{"open segment", openDomain, testKVS(), "/live/news/720p/seg_1.ts?x=1", 200, true, "origin /live/news/720p/seg_1.ts?x=1"},
		{"unknown domain", unknownDomain, testKVS(), "/live/news/720p/index.m3u8", 200, true, "origin /live/news/720p/index.m3u8"},
		{"KeyValueStore failure fails open", closedDomain, failing, "/live/news/720p/seg_1.m4s", 200, true, "origin /live/news/720p/seg_1.m4s"},
		{"steering manifest", openDomain, testKVS(), "/steering/news.json?_HLS_pathway=us-east-1&_HLS_throughput=5000000", 200, false, steeringJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t)
			srv := newEdgeServer(t, tc.domain, tc.kvs, o)
			resp, body := get(t, srv.URL+tc.path)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if body != tc.wantBody {
				t.Fatalf("body %q, want %q", body, tc.wantBody)
			}
			if got := len(o.requests()) > 0; got != tc.wantOrigin {
				t.Fatalf("origin reached = %v, want %v", got, tc.wantOrigin)
			}
			if tc.wantStatus == 404 {
				if got := resp.Header.Get("Cache-Control"); got != "no-store" {
					t.Fatalf("Cache-Control %q, want no-store", got)
				}
				if got := resp.Header.Get("X-Cvs-State"); got != "closed" {
					t.Fatalf("X-Cvs-State %q, want closed", got)
				}
			}
		})
	}
}

func TestEdgePassesTheRequestUnchanged(t *testing.T) {
	o := newOrigin(t)
	srv := newEdgeServer(t, openDomain, testKVS(), o)
	req, err := http.NewRequest("GET", srv.URL+"/live/a%20b/seg.ts?b=2&a=1&a=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Custom", "v1")
	req.Header.Add("Cookie", "session=s1; theme=dark")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seen := o.requests()
	if len(seen) != 1 {
		t.Fatalf("origin saw %d requests, want 1", len(seen))
	}
	got := seen[0]
	if got.URL.RequestURI() != "/live/a%20b/seg.ts?b=2&a=1&a=0" {
		t.Fatalf("origin URI %q, want the viewer's exactly", got.URL.RequestURI())
	}
	if got.Header.Get("X-Custom") != "v1" || got.Header.Get("Cookie") != "session=s1; theme=dark" {
		t.Fatalf("origin headers %v, want the viewer's", got.Header)
	}
}

func TestEdgeAppliesRequestChanges(t *testing.T) {
	src := `function handler(event) {
  var r = event.request;
  r.uri = '/rewritten' + r.uri;
  r.querystring = {added: {value: 'yes'}};
  r.headers['x-added'] = {value: 'h'};
  delete r.headers['x-drop'];
  return r;
}`
	c, err := NewCopilot("rewrite.js", src, &MemoryKVS{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := newOrigin(t)
	u, _ := url.Parse(o.URL)
	srv := httptest.NewServer(NewEdge(openDomain, u, c, EdgeOptions{}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/a.ts?old=1", nil)
	req.Header.Set("X-Drop", "gone")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := o.requests()[0]
	if diff := cmp.Diff("/rewritten/a.ts?added=yes", got.URL.RequestURI()); diff != "" {
		t.Fatalf("URI (-want +got):\n%s", diff)
	}
	if got.Header.Get("X-Added") != "h" || got.Header.Get("X-Drop") != "" {
		t.Fatalf("headers %v: want X-Added and no X-Drop", got.Header)
	}
}

func TestEdgeAnswers503WhenTheFunctionFails(t *testing.T) {
	c, err := NewCopilot("throw.js", "function handler(e) { throw new Error('bug'); }", &MemoryKVS{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := newOrigin(t)
	u, _ := url.Parse(o.URL)
	srv := httptest.NewServer(NewEdge(openDomain, u, c, EdgeOptions{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	resp, _ := get(t, srv.URL+"/a.ts")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if n := len(o.requests()); n != 0 {
		t.Fatalf("origin saw %d requests, want none", n)
	}
}

// TestEdgeFollowsTheStateStore puts the local edge on a KeyValueStore read through to the
// in-memory state store: closing and reopening the instance in the store changes what the
// edge answers at once, and the steering manifest follows the instances' health.
func TestEdgeFollowsTheStateStore(t *testing.T) {
	ctx := context.Background()
	store := memory.New(func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) })
	by := state.Change{By: "local:test", Reason: "setup"}
	for _, r := range []state.Registration{
		{Cluster: "news", Domain: "127.0.0.1:9001", Region: "us-east-1", DistributionPlaylistURL: "http://127.0.0.1:9001/index.m3u8", OriginPlaylistURL: "http://127.0.0.1:8001/index.m3u8"},
		{Cluster: "news", Domain: "127.0.0.1:9002", Region: "eu-west-1", DistributionPlaylistURL: "http://127.0.0.1:9002/index.m3u8", OriginPlaylistURL: "http://127.0.0.1:8002/index.m3u8"},
	} {
		if _, err := store.Register(ctx, r, by); err != nil {
			t.Fatalf("register: %v", err)
		}
		if _, err := store.RecordHealth(ctx, r.Cluster, r.Domain, state.HealthFresh, by); err != nil {
			t.Fatalf("health: %v", err)
		}
	}
	o := newOrigin(t)
	kvs := StoreKVS{Store: store, SteeringTTL: 5}
	srv := newEdgeServer(t, "127.0.0.1:9001", kvs, o)

	if resp, _ := get(t, srv.URL+"/seg.ts"); resp.StatusCode != 200 {
		t.Fatalf("open instance: status %d, want 200", resp.StatusCode)
	}
	_, body := get(t, srv.URL+edgestate.SteeringPath("news"))
	if want := `{"VERSION":1,"TTL":5,"PATHWAY-PRIORITY":["eu-west-1","us-east-1"]}`; body != want {
		t.Fatalf("steering %s, want %s", body, want)
	}

	if _, err := store.Close(ctx, "news", "127.0.0.1:9001", state.Change{By: "local:test", Reason: "origin stale"}); err != nil {
		t.Fatalf("close: %v", err)
	}
	resp, _ := get(t, srv.URL+"/seg.ts")
	if resp.StatusCode != 404 || resp.Header.Get("X-Cvs-Reason") != "origin stale" {
		t.Fatalf("closed instance: status %d reason %q, want 404 and the reason", resp.StatusCode, resp.Header.Get("X-Cvs-Reason"))
	}
	_, body = get(t, srv.URL+edgestate.SteeringPath("news"))
	if want := `{"VERSION":1,"TTL":5,"PATHWAY-PRIORITY":["eu-west-1"]}`; body != want {
		t.Fatalf("steering after close %s, want %s", body, want)
	}

	if _, err := store.Open(ctx, "news", "127.0.0.1:9001", state.Change{By: "local:test", Reason: "recovered"}); err != nil {
		t.Fatalf("open: %v", err)
	}
	if resp, _ := get(t, srv.URL+"/seg.ts"); resp.StatusCode != 200 {
		t.Fatalf("reopened instance: status %d, want 200", resp.StatusCode)
	}
	if _, body := get(t, srv.URL+"/steering/unknown.json"); !strings.HasPrefix(body, "origin ") {
		t.Fatalf("unknown cluster's steering went %q, want the origin", body)
	}
}

func TestEventFromHTTP(t *testing.T) {
	r := httptest.NewRequest("GET", "http://d1.cloudfront.net/p/a%2Fb.ts?x=1&x=2&y=", nil)
	r.RemoteAddr = "[2001:db8::1]:5555"
	r.Header.Set("User-Agent", "ua")
	r.Header.Add("Cookie", "a=1; b=2; a=3")
	got := EventFromHTTP(r, "d1.cloudfront.net", "id-1")
	want := Event{
		Context: EventContext{DistributionDomainName: "d1.cloudfront.net", EventType: "viewer-request", RequestID: "id-1"},
		Viewer:  Viewer{IP: "2001:db8::1"},
		Request: Request{
			Method:      "GET",
			URI:         "/p/a%2Fb.ts",
			Querystring: Fields{"x": {Value: "1", MultiValue: []Field{{Value: "1"}, {Value: "2"}}}, "y": {Value: ""}},
			Headers:     Fields{"host": {Value: "d1.cloudfront.net"}, "user-agent": {Value: "ua"}},
			Cookies:     Fields{"a": {Value: "1", MultiValue: []Field{{Value: "1"}, {Value: "3"}}}, "b": {Value: "2"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("event (-want +got):\n%s", diff)
	}
}

// BenchmarkEdge measures one request through the local edge: the copilot plus, for open
// distributions, the proxy to a loopback origin.
func BenchmarkEdge(b *testing.B) {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "x") }))
	defer o.Close()
	u, _ := url.Parse(o.URL)
	for _, bc := range []struct{ name, domain string }{{"closed", closedDomain}, {"open via origin", openDomain}} {
		b.Run(bc.name, func(b *testing.B) {
			e := NewEdge(bc.domain, u, loadCopilot(b, testKVS()), EdgeOptions{})
			for b.Loop() {
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, httptest.NewRequest("GET", "http://edge/live/seg_1.ts", nil))
				if rec.Code != 200 && rec.Code != 404 {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
