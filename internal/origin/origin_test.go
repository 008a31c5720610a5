package origin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// newOrigin serves a few paths the way real origins answer, on loopback.
func newOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /index.m3u8", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Header().Set("X-Query", r.URL.RawQuery)
		w.Header().Set("X-Cache-Control", r.Header.Get("Cache-Control"))
		w.Header().Set("X-User-Agent", r.Header.Get("User-Agent"))
		fmt.Fprint(w, "#EXTM3U\n")
	})
	mux.HandleFunc("GET /exact", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("a", 64)))
	})
	mux.HandleFunc("GET /streamed-large", func(w http.ResponseWriter, r *http.Request) {
		// Chunked, no Content-Length: only reading tells the size.
		for range 10 {
			w.Write([]byte(strings.Repeat("a", 10)))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("GET /declared-large", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte(strings.Repeat("a", 1000)))
	})
	mux.HandleFunc("GET /gone", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such playlist", http.StatusNotFound)
	})
	mux.HandleFunc("GET /busy", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("GET /hang-in-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("#EXTM3U\n"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { close(release); srv.Close() })
	return srv
}

func TestGet(t *testing.T) {
	srv := newOrigin(t)
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &Fetcher{Client: srv.Client(), MaxBytes: 64, UserAgent: "cvs-test/1", Now: func() time.Time { return clock }}
	ctx := context.Background()

	t.Run("playlist", func(t *testing.T) {
		resp, err := f.Get(ctx, srv.URL+"/index.m3u8?token=a%2Fb")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(resp.Body), "#EXTM3U\n"; got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
			t.Errorf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if got := resp.Header.Get("X-Query"); got != "token=a%2Fb" {
			t.Errorf("origin saw query %q, want token=a%%2Fb", got)
		}
		if got := resp.Header.Get("X-User-Agent"); got != "cvs-test/1" {
			t.Errorf("origin saw User-Agent %q", got)
		}
		if got := resp.Header.Get("X-Cache-Control"); got != "" {
			t.Errorf("origin saw Cache-Control %q without CacheBust", got)
		}
	})
	t.Run("cache busting keeps the query as written", func(t *testing.T) {
		resp, err := f.Get(ctx, srv.URL+"/index.m3u8?token=a%2Fb", CacheBust())
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("token=a%%2Fb&_cvs_nocache=%d", clock.UnixNano())
		if got := resp.Header.Get("X-Query"); got != want {
			t.Errorf("origin saw query %q, want %q", got, want)
		}
		if got := resp.Header.Get("X-Cache-Control"); got != "no-cache" {
			t.Errorf("origin saw Cache-Control %q, want no-cache", got)
		}
		if resp.URL != srv.URL+"/index.m3u8?"+want {
			t.Errorf("Response.URL = %q", resp.URL)
		}
	})
	t.Run("body of exactly the limit", func(t *testing.T) {
		resp, err := f.Get(ctx, srv.URL+"/exact")
		if err != nil || len(resp.Body) != 64 {
			t.Fatalf("Get = %v, %v; want the 64-byte body", resp, err)
		}
	})

	errTests := []struct {
		name, path string
		is         error
		status     int
		msg        string
	}{
		{"not found names the URL and status", "/gone", nil, 404, "GET %s/gone: HTTP 404 Not Found"},
		{"server error", "/busy", nil, 503, "GET %s/busy: HTTP 503 Service Unavailable"},
		{"streamed body over the limit", "/streamed-large", ErrTooLarge, 0, "GET %s/streamed-large: response larger than the 64-byte limit"},
		{"declared length over the limit", "/declared-large", ErrTooLarge, 0, "GET %s/declared-large: response larger than the 64-byte limit"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Get(ctx, srv.URL+tc.path)
			if err == nil {
				t.Fatal("Get succeeded")
			}
			if got, want := err.Error(), fmt.Sprintf(tc.msg, srv.URL); got != want {
				t.Errorf("error = %q, want %q", got, want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			var se *StatusError
			if gotStatus := errors.As(err, &se); gotStatus != (tc.status != 0) || gotStatus && se.StatusCode != tc.status {
				t.Errorf("errors.As StatusError = %v (%+v), want status %d", gotStatus, se, tc.status)
			}
		})
	}
}

func TestGetTimeouts(t *testing.T) {
	srv := newOrigin(t)
	f := &Fetcher{Client: srv.Client(), Timeout: 50 * time.Millisecond}
	for _, path := range []string{"/hang", "/hang-in-body"} {
		t.Run("origin that stops answering at "+path, func(t *testing.T) {
			_, err := f.Get(context.Background(), srv.URL+path)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error = %v, want context.DeadlineExceeded", err)
			}
			if want := fmt.Sprintf("GET %s%s: no complete response within 50ms", srv.URL, path); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error = %q, want it to start with %q", err, want)
			}
		})
	}
	t.Run("caller's cancellation is reported as such", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := (&Fetcher{Client: srv.Client()}).Get(ctx, srv.URL+"/hang")
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), srv.URL+"/hang") {
			t.Fatalf("error = %v, want context.Canceled naming the URL", err)
		}
	})
}

func TestGetBadURLs(t *testing.T) {
	srv := newOrigin(t)
	addr := srv.Listener.Addr().String()
	srv.Close() // nothing listens there any more
	tests := []struct{ name, url, want string }{
		{"relative URL", "/index.m3u8", "GET /index.m3u8: not an absolute http(s) URL"},
		{"other scheme", "s3://bucket/index.m3u8", "GET s3://bucket/index.m3u8: not an absolute http(s) URL"},
		{"unparsable", "http://[::1", "GET http://[::1: parse"},
		{"connection refused", "http://" + addr + "/index.m3u8", "GET http://" + addr + "/index.m3u8: dial tcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&Fetcher{}).Get(context.Background(), tc.url)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestGetFollowsRedirects(t *testing.T) {
	srv := newOrigin(t)
	moved := httptest.NewServer(http.RedirectHandler(srv.URL+"/index.m3u8", http.StatusFound))
	defer moved.Close()
	resp, err := (&Fetcher{}).Get(context.Background(), moved.URL+"/channel/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.URL + "/index.m3u8"; resp.URL != want {
		t.Errorf("Response.URL = %q, want the redirect target %q (relative URIs resolve against it)", resp.URL, want)
	}
}
