//go:build unix

package detector

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// BenchmarkPollOrigin is BenchmarkPoll against an origin in another process, named by
// CVS_BENCH_ORIGIN (http:// or https://; a self-signed origin is trusted through
// SSL_CERT_FILE, as any system root would be), so that this process's CPU time is the
// detector's alone. It reports polls per CPU-second of this process (getrusage, user + system)
// and per wall second. make bench starts the origin; without CVS_BENCH_ORIGIN it skips.
func BenchmarkPollOrigin(b *testing.B) {
	base := os.Getenv("CVS_BENCH_ORIGIN")
	if base == "" {
		b.Skip("CVS_BENCH_ORIGIN is not set: make bench starts an origin process and sets it")
	}
	for _, playlists := range []int{1, 8} {
		b.Run(fmt.Sprintf("playlists=%d", playlists), func(b *testing.B) {
			cfg, err := Config{Region: "r", TopicARN: "t"}.withDefaults()
			if err != nil {
				b.Fatal(err)
			}
			client := NewHTTPClient(cfg.MaxConcurrency)
			defer client.CloseIdleConnections()
			d := &Detector{cfg: cfg, getter: NewGetter(client, cfg), sem: make(chan struct{}, cfg.MaxConcurrency)}
			w := &watcher{d: d, cfg: cfg, inst: state.Instance{OriginPlaylistURL: base + "/master.m3u8", Health: state.HealthFresh}}
			for i := range playlists {
				tr, err := hls.NewTracker(cfg.Tracker)
				if err != nil {
					b.Fatal(err)
				}
				w.lists = append(w.lists, &playlist{url: fmt.Sprintf("%s/v%d.m3u8", base, i), class: classVideo, tr: tr})
			}
			ctx := context.Background()
			cycle := func() {
				w.pollDue(ctx, time.Now().Add(time.Hour)) // every playlist is due
				if err := w.conclude(ctx, time.Now()); err != nil || w.res.health != state.HealthFresh {
					b.Fatalf("verdict %s, err %v", w.res.health, err)
				}
			}
			cycle() // connections (and TLS sessions) are set up before the clock starts, as in a running detector
			polls0 := countPolls(w)
			cpu0 := cpuTime(b)
			b.ReportAllocs()
			b.ResetTimer()
			for polls := 0; polls < b.N; polls += playlists {
				cycle()
			}
			b.StopTimer()
			cpu := cpuTime(b) - cpu0
			polls := countPolls(w) - polls0
			b.ReportMetric(float64(polls)/cpu.Seconds(), "polls/cpu-s")
			b.ReportMetric(float64(polls)/b.Elapsed().Seconds(), "polls/s")
		})
	}
}

// countPolls is the number of requests the watcher's playlists completed.
func countPolls(w *watcher) int {
	n := 0
	for _, p := range w.lists {
		n += p.polls
	}
	return n
}

// cpuTime is the user plus system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
