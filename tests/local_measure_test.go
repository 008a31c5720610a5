package tests

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestLocalFailoverTimeline measures, through the contract of `cvsctl local`, the time from
// stalling a region's encoder to its stale event, to its closed execution and to its edge's
// first 404, at 2 s and 6 s segments: 10 stalls each, from two processes of 6 regions each
// stalling 5 regions at times spread over a segment duration (the sixth keeps the guard satisfied), all four processes side by
// side. It logs p50 and max; the timings never fail it, only missing outcomes do.
func TestLocalFailoverTimeline(t *testing.T) {
	testenv.Short(t, "runs four cvsctl local processes for about 30 s")
	bin := buildCvsctl(t)
	type sample struct{ stale, closed, edge404 time.Duration }
	var mu sync.Mutex
	samples := map[time.Duration][]sample{}
	for _, seg := range []time.Duration{2 * time.Second, 6 * time.Second} {
		for p := range 2 {
			t.Run(fmt.Sprintf("%s segments process %d", seg, p+1), func(t *testing.T) {
				t.Parallel()
				r := startLocal(t, bin, "--regions", "6", "--segment-duration", seg.String())
				for _, reg := range r.c.Regions {
					r.waitLog(3*seg+15*time.Second, reg.Name+" fresh", func(l logLine) bool {
						return l.Region == reg.Name && l.Msg == "event published" && l.str("event") == "fresh"
					})
				}
				var wg sync.WaitGroup
				for i, reg := range r.c.Regions[:5] {
					wg.Go(func() {
						// Spread the 10 stalls over the segment clock's phase: the time to stale
						// depends on how long before the stall the last segment came.
						time.Sleep(time.Duration(2*i+p) * seg / 10)
						stalled := r.setEncoder(reg.Name, "stalled")
						first404, _ := waitStatus(t, reg.EdgeURL+"/v180.m3u8", http.StatusNotFound, 3*seg+30*time.Second)
						stale := r.waitLog(5*time.Second, "stale event of "+reg.Name, func(l logLine) bool {
							return l.Region == reg.Name && l.Msg == "event published" && l.str("event") == "stale"
						})
						closed := r.waitLog(5*time.Second, "closed execution in "+reg.Name, func(l logLine) bool {
							return l.Region == reg.Name && l.Msg == "execution finished" && l.str("outcome") == "closed"
						})
						mu.Lock()
						samples[seg] = append(samples[seg], sample{stale.Time.Sub(stalled), closed.Time.Sub(stalled), first404.Sub(stalled)})
						mu.Unlock()
					})
				}
				wg.Wait()
				r.stop()
			})
		}
	}
	t.Cleanup(func() {
		for _, seg := range []time.Duration{2 * time.Second, 6 * time.Second} {
			s := samples[seg]
			if len(s) == 0 {
				continue
			}
			stat := func(pick func(sample) time.Duration) string {
				d := make([]time.Duration, len(s))
				for i, x := range s {
					d[i] = pick(x)
				}
				slices.Sort(d)
				return fmt.Sprintf("p50 %s max %s", d[(len(d)-1)/2].Round(10*time.Millisecond), d[len(d)-1].Round(10*time.Millisecond))
			}
			t.Logf("%s segments, %d stalls: stall -> stale event %s; -> closed %s; -> first edge 404 %s", seg, len(s),
				stat(func(x sample) time.Duration { return x.stale }), stat(func(x sample) time.Duration { return x.closed }),
				stat(func(x sample) time.Duration { return x.edge404 }))
		}
	})
}
