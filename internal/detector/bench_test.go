package detector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/bench"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// benchOrigin serves media playlists that gain a segment on every request, so every poll reads,
// parses and judges a new playlist (the costliest case: an unchanged body skips the parse).
func benchOrigin(b *testing.B) *httptest.Server {
	bodies := bench.OriginBodies()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		_, _ = w.Write([]byte(bodies[n.Add(1)%int64(len(bodies))]))
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkPoll measures the detector's capacity: one iteration is one playlist poll (fetch
// over a keep-alive loopback connection with cache-busting, ReadLimited, parse, track) plus the
// instance's verdict (no transition: the instance is known fresh), through the same code as a
// Run's cycle. The origin is an httptest server
// in the same process, so its work counts against the same cores. Run with -cpu 1 for the
// per-core figure.
func BenchmarkPoll(b *testing.B) {
	for _, playlists := range []int{1, 8} {
		b.Run(fmt.Sprintf("playlists=%d", playlists), func(b *testing.B) {
			srv := benchOrigin(b)
			cfg, err := Config{Region: "r", TopicARN: "t"}.withDefaults()
			if err != nil {
				b.Fatal(err)
			}
			client := NewHTTPClient(cfg.MaxConcurrency)
			d := &Detector{cfg: cfg, getter: NewGetter(client, cfg), sem: make(chan struct{}, cfg.MaxConcurrency)}
			w := &watcher{d: d, cfg: cfg, inst: state.Instance{OriginPlaylistURL: srv.URL + "/master.m3u8", Health: state.HealthFresh}}
			for i := range playlists {
				tr, err := hls.NewTracker(cfg.Tracker)
				if err != nil {
					b.Fatal(err)
				}
				w.lists = append(w.lists, &playlist{url: fmt.Sprintf("%s/v%d.m3u8", srv.URL, i), class: classVideo, tr: tr})
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			polls := 0
			for polls < b.N {
				w.pollDue(ctx, time.Now().Add(time.Hour)) // every playlist is due
				if err := w.conclude(ctx, time.Now()); err != nil || w.res.health != state.HealthFresh {
					b.Fatalf("verdict %s, err %v", w.res.health, err)
				}
				polls += playlists
			}
			b.StopTimer()
			b.ReportMetric(float64(polls)/b.Elapsed().Seconds(), "polls/s")
			client.CloseIdleConnections()
		})
	}
}

// BenchmarkParseAndTrack is the share of a poll spent without the network: parse a new
// playlist and track it.
func BenchmarkParseAndTrack(b *testing.B) {
	tr, err := hls.NewTracker(hls.TrackerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, 1024)
	for i := range bodies {
		var s strings.Builder
		fmt.Fprintf(&s, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n", 1000+i)
		for k := range 6 {
			fmt.Fprintf(&s, "#EXTINF:2.000,\nseg-%d.ts\n", 1000+i+k)
		}
		bodies[i] = []byte(s.String())
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := range b.N {
		at = at.Add(time.Second)
		if r := tr.Observe(hls.Observation{At: at, Status: 200, Body: bodies[i%len(bodies)]}); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkConclude is what one pass of an instance's loop costs besides its polls: judging
// an instance of 8 fresh playlists whose health subscribers already know (no transition), as
// after every poll of a steady stream.
func BenchmarkConclude(b *testing.B) {
	cfg, err := Config{Region: "r", TopicARN: "t"}.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	w := &watcher{d: &Detector{cfg: cfg}, cfg: cfg, inst: state.Instance{OriginPlaylistURL: "https://o.example/master.m3u8", Health: state.HealthFresh}}
	for i := range 8 {
		tr, err := hls.NewTracker(cfg.Tracker)
		if err != nil {
			b.Fatal(err)
		}
		body := fmt.Sprintf("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n#EXTINF:2.0,\nv%d/seg-100.ts?token=abc\n#EXTINF:2.0,\nv%d/seg-101.ts?token=abc\n", i, i)
		if r := tr.Observe(hls.Observation{At: at, Status: 200, Body: []byte(body)}); r.Err != nil {
			b.Fatal(r.Err)
		}
		w.lists = append(w.lists, &playlist{url: fmt.Sprintf("https://o.example/v%d.m3u8", i), class: classVideo, tr: tr})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.conclude(ctx, at); err != nil {
			b.Fatal(err)
		}
	}
	if w.res.health != state.HealthFresh || w.res.published != 0 {
		b.Fatalf("health %s, %d published: want fresh, none", w.res.health, w.res.published)
	}
}
