package failover_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// quiet discards the handlers' decision logs.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// sampleHost is the origin the sample events name; tests point it at an httptest origin.
const sampleHost = "https://origin-eu.example.com"

// loadEvent reads events/<name>.json, the sample `sam local invoke` uses, replaces the sample
// origin with origin (when not empty) and decodes it into v.
func loadEvent(t testing.TB, name, origin string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		b = []byte(strings.ReplaceAll(string(b), sampleHost, origin))
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode events/%s.json: %v", name, err)
	}
}

// playlist is one answer of the fake origin.
type playlist struct {
	status int    // 0 means 200
	body   string // used when status is 0 or 200
}

// media builds a live media playlist of n segments of td seconds starting at media sequence
// msn, as a packager with a sliding window writes it.
func media(msn uint64, n, td int, opts ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", td, msn)
	for _, o := range opts {
		if o == "event" {
			b.WriteString("#EXT-X-PLAYLIST-TYPE:EVENT\n")
		}
	}
	for i := range n {
		fmt.Fprintf(&b, "#EXTINF:%d.000,\nseg%d.ts\n", td, msn+uint64(i))
	}
	for _, o := range opts {
		if o == "ended" {
			b.WriteString("#EXT-X-ENDLIST\n")
		}
	}
	return b.String()
}

// withGaps appends n segments marked EXT-X-GAP to a live playlist, from media sequence next on:
// an encoder outage that the packager keeps writing into the playlist.
func withGaps(playlist string, next uint64, n int) string {
	var b strings.Builder
	b.WriteString(playlist)
	for i := range uint64(n) {
		fmt.Fprintf(&b, "#EXT-X-GAP\n#EXTINF:6.000,\nseg%d.ts\n", next+i)
	}
	return b.String()
}

// fakeOrigin is an HTTP origin whose playlists the test sets per path, and which records what
// it was asked.
type fakeOrigin struct {
	*httptest.Server
	mu       sync.Mutex
	answers  map[string]func() playlist
	requests []*http.Request
}

func newOrigin(t testing.TB) *fakeOrigin {
	o := &fakeOrigin{answers: map[string]func() playlist{}}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.requests = append(o.requests, r.Clone(r.Context()))
		answer := o.answers[r.URL.Path]
		o.mu.Unlock()
		if answer == nil {
			http.NotFound(w, r)
			return
		}
		p := answer()
		if p.status != 0 && p.status != http.StatusOK {
			http.Error(w, http.StatusText(p.status), p.status)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		fmt.Fprint(w, p.body)
	}))
	t.Cleanup(o.Close)
	return o
}

// set makes path answer with p every time.
func (o *fakeOrigin) set(path string, p playlist) {
	o.setFunc(path, func() playlist { return p })
}

func (o *fakeOrigin) setFunc(path string, f func() playlist) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answers[path] = f
}

func (o *fakeOrigin) seen() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.requests...)
}

// at parses an RFC 3339 time or fails the test.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
