package edge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

const (
	closedDomain  = "d111closed.cloudfront.net"
	openDomain    = "d222open.cloudfront.net"
	unknownDomain = "d333unknown.cloudfront.net"
	steeringJSON  = `{"VERSION":1,"TTL":10,"PATHWAY-PRIORITY":["eu-west-1","us-east-1"]}`
)

// copilotSource returns the real functions/copilot/copilot.js.
func copilotSource(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), filepath.FromSlash(CopilotPath)))
	if err != nil {
		t.Fatalf("read copilot: %v", err)
	}
	return string(b)
}

func loadCopilot(t testing.TB, kvs KeyValueStore) *Copilot {
	t.Helper()
	c, err := NewCopilot("copilot.js", copilotSource(t), kvs, Options{})
	if err != nil {
		t.Fatalf("NewCopilot: %v", err)
	}
	return c
}

// testKVS holds one closed and one open distribution and one cluster's steering manifest.
func testKVS() *MemoryKVS {
	m := &MemoryKVS{}
	m.Put(closedDomain, `{"open":false,"since":"2026-01-02T03:04:05Z","reason":"playlists stale for 9s","health":"stale","cluster":"news","region":"us-east-1","version":7}`)
	m.Put(openDomain, `{"open":true,"health":"fresh","cluster":"news","region":"eu-west-1","version":3}`)
	m.Put(edgestate.SteeringKey("news"), steeringJSON)
	return m
}

func viewerEvent(domain, method, uri string) Event {
	return Event{
		Context: EventContext{DistributionDomainName: domain, DistributionID: "EDFDVBD6EXAMPLE", EventType: "viewer-request", RequestID: "req-1"},
		Viewer:  Viewer{IP: "198.51.100.11"},
		Request: Request{
			Method:      method,
			URI:         uri,
			Querystring: Fields{"_HLS_msn": {Value: "42"}, "tag": {Value: "a", MultiValue: []Field{{Value: "a"}, {Value: "b"}}}},
			Headers:     Fields{"host": {Value: domain}, "user-agent": {Value: "hls.js"}},
			Cookies:     Fields{"session": {Value: "s1"}},
		},
	}
}

// requestClasses are the URIs a player asks a regional distribution for.
var requestClasses = []struct{ name, uri string }{
	{"merged master", "/live/news/index.m3u8"},
	{"media playlist", "/live/news/720p/index.m3u8"},
	{"TS segment", "/live/news/720p/seg_000123.ts"},
	{"fMP4 segment", "/live/news/720p/seg_000123.m4s"},
	{"fMP4 init segment", "/live/news/720p/init.mp4"},
	{"packed audio segment", "/live/news/audio/seg_000123.aac"},
	{"root", "/"},
}

func TestClosedDistributionAnswers404ForEveryRequestClass(t *testing.T) {
	c := loadCopilot(t, testKVS())
	for _, rc := range requestClasses {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(rc.name+" "+method, func(t *testing.T) {
				res, err := c.Handle(context.Background(), viewerEvent(closedDomain, method, rc.uri))
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				if res.Response == nil {
					t.Fatalf("the request passed (%+v), want a 404 response", res.Request)
				}
				want := &Response{
					StatusCode:        404,
					StatusDescription: "Not Found",
					Headers: Fields{
						"cache-control":               {Value: "no-store"},
						"access-control-allow-origin": {Value: "*"},
						"content-type":                {Value: "text/plain"},
						"x-cvs-state":                 {Value: "closed"},
						"x-cvs-reason":                {Value: "playlists stale for 9s"},
					},
					Cookies: Fields{},
					Body:    "This region of the stream is closed; use another one.\n",
				}
				if diff := cmp.Diff(want, res.Response); diff != "" {
					t.Fatalf("response (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestEverythingElsePassesUnchanged(t *testing.T) {
	failing := KVSFunc(func(context.Context, string) (string, error) {
		return "", errors.New("KeyValueStore unavailable")
	})
	withValue := func(v string) KeyValueStore {
		return KVSFunc(func(_ context.Context, key string) (string, error) { return v, nil })
	}
	for _, tc := range []struct {
		name   string
		kvs    KeyValueStore
		domain string
	}{
		{"open distribution", testKVS(), openDomain},
		{"unknown distribution (missing key)", testKVS(), unknownDomain},
		{"no distribution domain in the event", testKVS(), ""},
		{"KeyValueStore failure fails open", failing, closedDomain},
		{"no KeyValueStore associated", nil, closedDomain},
		{"value that is not JSON", withValue(`closed`), closedDomain},
		{"open given as a string", withValue(`{"open":"false"}`), closedDomain},
		{"value without open", withValue(`{"reason":"x"}`), closedDomain},
		{"JSON null", withValue(`null`), closedDomain},
		{"JSON false", withValue(`false`), closedDomain},
	} {
		c := loadCopilot(t, tc.kvs)
		for _, rc := range requestClasses {
			t.Run(tc.name+"/"+rc.name, func(t *testing.T) {
				ev := viewerEvent(tc.domain, "GET", rc.uri)
				res, err := c.Handle(context.Background(), ev)
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				if res.Response != nil {
					t.Fatalf("got response %+v, want the request to pass", res.Response)
				}
				if diff := cmp.Diff(&ev.Request, res.Request); diff != "" {
					t.Fatalf("request changed (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestSteeringManifest(t *testing.T) {
	failing := KVSFunc(func(context.Context, string) (string, error) { return "", errors.New("unavailable") })
	manifest := &Response{
		StatusCode:        200,
		StatusDescription: "OK",
		Headers: Fields{
			"content-type":                {Value: "application/json"},
			"cache-control":               {Value: "no-store"},
			"access-control-allow-origin": {Value: "*"},
		},
		Cookies: Fields{},
		Body:    steeringJSON,
	}
	for _, tc := range []struct {
		name   string
		kvs    KeyValueStore
		domain string
		uri    string
		want   *Response // nil: the request passes unchanged
	}{
		{"served from the store", testKVS(), openDomain, "/steering/news.json", manifest},
		{"served even by a closed distribution", testKVS(), closedDomain, "/steering/news.json", manifest},
		{"unknown cluster goes to the origin", testKVS(), openDomain, "/steering/sports.json", nil},
		{"store failure goes to the origin", failing, openDomain, "/steering/news.json", nil},
		{"nested path is not a steering request", testKVS(), openDomain, "/steering/x/news.json", nil},
		{"other extension is not a steering request", testKVS(), openDomain, "/steering/news.m3u8", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCopilot(t, tc.kvs)
			ev := viewerEvent(tc.domain, "GET", tc.uri)
			res, err := c.Handle(context.Background(), ev)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if tc.want == nil {
				if diff := cmp.Diff(Result{Request: &ev.Request}, res); diff != "" {
					t.Fatalf("result (-want +got):\n%s", diff)
				}
				return
			}
			if diff := cmp.Diff(tc.want, res.Response); diff != "" {
				t.Fatalf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReasonHeaderIsSanitized(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"control characters and non-ASCII", `{"open":false,"reason":"line1\nline2 caf\u00e9"}`, "line1?line2 caf?"},
		{"no reason", `{"open":false}`, "closed"},
		{"reason not a string", `{"open":false,"reason":42}`, "closed"},
		{"long reason is cut", `{"open":false,"reason":"` + strings.Repeat("x", 300) + `"}`, strings.Repeat("x", 200)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kvs := &MemoryKVS{}
			kvs.Put(closedDomain, tc.value)
			res, err := loadCopilot(t, kvs).Handle(context.Background(), viewerEvent(closedDomain, "GET", "/a.ts"))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Response == nil {
				t.Fatalf("request passed, want 404")
			}
			if got := res.Response.Headers["x-cvs-reason"].Value; got != tc.want {
				t.Fatalf("x-cvs-reason = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCopilotFileStaysWithinTheRuntime(t *testing.T) {
	src := copilotSource(t)
	if n := len(src); n >= 10*1024 {
		t.Fatalf("copilot.js is %d bytes, CloudFront Functions allow under 10 KB", n)
	}
	t.Logf("copilot.js: %d bytes", len(src))
	// Syntax cloudfront-js-2.0 lacks (its feature list has no optional chaining, nullish
	// coalescing, classes, spread or destructuring, generators or for-of); a cheap guard,
	// the Node cross-check parses the file for real.
	for _, bad := range []string{"?.", "??", "class ", "...", "for (const", "for (let", "function*", "yield", "export ", "require("} {
		if strings.Contains(src, bad) {
			t.Errorf("copilot.js uses %q, which the cloudfront-js-2.0 runtime does not support", bad)
		}
	}
	if !strings.Contains(src, "\nimport cf from 'cloudfront';\n") {
		t.Errorf("copilot.js must import the cloudfront module as `import cf from 'cloudfront';`")
	}
}

func TestTransformSource(t *testing.T) {
	for _, tc := range []struct {
		name, src, want, wantErr string
	}{
		{"import line becomes a binding on the same line",
			"// c\nimport cf from 'cloudfront';\nconst k = cf.kvs();\n",
			"// c\nvar cf = " + moduleGlobal + ";\nconst k = cf.kvs();\n", ""},
		{"double quotes and no semicolon", "import x from \"cloudfront\"\n", "var x = " + moduleGlobal + ";\n", ""},
		{"no import", "function handler(e) { return e.request; }\n", "function handler(e) { return e.request; }\n", ""},
		{"second import", "import cf from 'cloudfront';\nimport cf2 from 'cloudfront';\n", "", "imports 'cloudfront' 2 times"},
		{"other module", "import crypto from 'crypto';\n", "", "only `import cf from 'cloudfront'`"},
		{"export", "export function handler() {}\n", "", "only `import cf from 'cloudfront'`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TransformSource(tc.src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("TransformSource: %v", err)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFunctionFailures(t *testing.T) {
	for _, tc := range []struct{ name, src, wantErr string }{
		{"throws", "function handler(e) { throw new Error('boom'); }", "boom"},
		{"rejects", "async function handler(e) { throw new Error('async boom'); }", "async boom"},
		{"never settles", "async function handler(e) { await new Promise(function () {}); return e.request; }", "never settled"},
		{"returns nothing", "function handler(e) {}", "returned nothing"},
		{"returns a string", "function handler(e) { return 'x'; }", "want a request or response"},
		{"runs forever", "function handler(e) { for (;;) {} }", "ran longer than"},
		{"bad status code", "function handler(e) { return {statusCode: 'x'}; }", "statusCode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCopilot("f.js", tc.src, &MemoryKVS{}, Options{Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatalf("NewCopilot: %v", err)
			}
			_, err = c.Handle(context.Background(), viewerEvent(openDomain, "GET", "/a.ts"))
			var fe *FunctionError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want a *FunctionError containing %q", err, tc.wantErr)
			}
		})
	}
	t.Run("a module without handler is refused at load", func(t *testing.T) {
		if _, err := NewCopilot("f.js", "var x = 1;", &MemoryKVS{}, Options{}); err == nil || !strings.Contains(err.Error(), "no function named handler") {
			t.Fatalf("err = %v, want a missing handler error", err)
		}
	})
	t.Run("a syntax error is refused at load", func(t *testing.T) {
		if _, err := NewCopilot("f.js", "function handler(e) {", &MemoryKVS{}, Options{}); err == nil || !strings.Contains(err.Error(), "compile f.js") {
			t.Fatalf("err = %v, want a compile error", err)
		}
	})
}

// TestConcurrentRequests runs the copilot from many goroutines (goja runtimes are not
// goroutine-safe; the pool must keep each to one caller). Run with -race.
func TestConcurrentRequests(t *testing.T) {
	c := loadCopilot(t, testKVS())
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				domain, want := openDomain, 0
				if (g+i)%2 == 0 {
					domain, want = closedDomain, 404
				}
				res, err := c.Handle(context.Background(), viewerEvent(domain, "GET", fmt.Sprintf("/seg_%d.ts", i)))
				if err != nil {
					errs <- err
					return
				}
				got := 0
				if res.Response != nil {
					got = res.Response.StatusCode
				}
				if got != want {
					errs <- fmt.Errorf("%s: status %d, want %d", domain, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestKVSHandleEmulation(t *testing.T) {
	kvs := &MemoryKVS{}
	kvs.Put("k", `{"a":[1,2]}`)
	src := `import cf from 'cloudfront';
const h = cf.kvs();
async function handler(event) {
  const out = [];
  out.push(await h.get('k'));
  out.push(JSON.stringify(await h.get('k', {format: 'json'})));
  out.push(String((await h.get('k', {format: 'bytes'})).byteLength));
  out.push(String(await h.exists('k')));
  out.push(String(await h.exists('missing')));
  try { await h.get('missing'); out.push('no error'); } catch (e) { out.push('missing rejects'); }
  try { await h.get('k', {format: 'yaml'}); out.push('no error'); } catch (e) { out.push('bad format rejects'); }
  return {statusCode: 200, body: out.join('|')};
}`
	c, err := NewCopilot("kvs.js", src, kvs, Options{})
	if err != nil {
		t.Fatalf("NewCopilot: %v", err)
	}
	res, err := c.Handle(context.Background(), viewerEvent(openDomain, "GET", "/"))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	want := `{"a":[1,2]}|{"a":[1,2]}|11|true|false|missing rejects|bad format rejects`
	if res.Response == nil || res.Response.Body != want {
		t.Fatalf("got %+v, want body %q", res, want)
	}
}

// BenchmarkCopilot measures one viewer request through the real copilot.js in goja, including
// building the event object and reading the result back.
func BenchmarkCopilot(b *testing.B) {
	c := loadCopilot(b, testKVS())
	for _, bc := range []struct{ name, domain, uri string }{
		{"open segment", openDomain, "/live/news/720p/seg_000123.ts"},
		{"closed segment", closedDomain, "/live/news/720p/seg_000123.ts"},
		{"unknown domain", unknownDomain, "/live/news/720p/index.m3u8"},
		{"steering manifest", openDomain, "/steering/news.json"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ev := viewerEvent(bc.domain, "GET", bc.uri)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Handle(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The handler alone, on a prebuilt event object, as the Node benchmark measures it.
	for _, bc := range []struct{ name, domain, uri string }{
		{"handler only/open segment", openDomain, "/live/news/720p/seg_000123.ts"},
		{"handler only/closed segment", closedDomain, "/live/news/720p/seg_000123.ts"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt, err := c.borrow()
			if err != nil {
				b.Fatal(err)
			}
			ev := rt.eventValue(viewerEvent(bc.domain, "GET", bc.uri))
			b.ReportAllocs()
			for b.Loop() {
				v, err := rt.handler(goja.Undefined(), ev)
				if err != nil {
					b.Fatal(err)
				}
				if p, ok := v.Export().(*goja.Promise); !ok || p.State() != goja.PromiseStateFulfilled {
					b.Fatalf("handler returned %v, want a fulfilled promise", v)
				}
			}
		})
	}
	b.Run("parallel mixed", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			evs := []Event{viewerEvent(openDomain, "GET", "/a.ts"), viewerEvent(closedDomain, "GET", "/a.ts")}
			i := 0
			for pb.Next() {
				if _, err := c.Handle(ctx, evs[i%2]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}
