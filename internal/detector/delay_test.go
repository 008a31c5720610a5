package detector_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// TestDetectionDelayDistribution simulates 100 stalls, one per instance, all watched by one
// invocation on the simulated clock: each origin has its own segment phase and answer latency
// (5-40 ms) and stalls at a random moment. It logs the distribution of the delay from the last
// playlist change to the stale event's publication, and checks each against the model: at most
// 1.5 x TD + one poll interval, plus the deadline poll's own latency and 1 ms of slack.
func TestDetectionDelayDistribution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 100
		rng := rand.New(rand.NewPCG(2025, 3))
		e := newEnv(t, detector.Config{})
		type stall struct {
			domain     string
			lastChange time.Time
			latency    time.Duration
		}
		stalls := make([]stall, 0, n)
		start := time.Now()
		for i := range n {
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			o.Shift(time.Duration(rng.Int64N(int64(td))))
			latency := 5*time.Millisecond + time.Duration(rng.Int64N(int64(35*time.Millisecond)))
			o.SetLatency(latency)
			domain := fmt.Sprintf("d%03d.example.com", i)
			e.addInstance("news", domain, testRegion, fmt.Sprintf("o%03d.origin.test", i), o)
			at := start.Add(8*time.Second + time.Duration(rng.Int64N(int64(42*time.Second))))
			stalls = append(stalls, stall{domain: domain, lastChange: o.Stall("", at), latency: latency})
		}
		sum := e.run(t, "run-1", 70*time.Second)

		var delays []time.Duration
		for _, s := range stalls {
			msgs := e.messages(t, s.domain)
			if len(msgs) != 2 || msgs[1].Event.Event != state.HealthStale {
				t.Errorf("%s: events %v, want fresh then stale", s.domain, e.events(t, s.domain))
				continue
			}
			d := msgs[1].At.Sub(s.lastChange)
			delays = append(delays, d)
			if limit := bound + s.latency; d > limit {
				t.Errorf("%s: stale %s after the last change, over 1.5 x TD + interval + latency = %s", s.domain, d, limit)
			}
			if d <= 3*td/2 {
				t.Errorf("%s: stale %s after the last change, not over 1.5 x TD: too early", s.domain, d)
			}
		}
		slices.Sort(delays)
		over := 0
		for _, d := range delays {
			if d > 3*td/2+interval {
				over++
			}
		}
		pct := func(p float64) time.Duration { return delays[int(p*float64(len(delays)-1)+0.5)] }
		t.Logf("simulated, TD %s, poll interval %s, %d stalls, %d polls in %s simulated: stall -> stale event min %s p50 %s p90 %s max %s; %d over 1.5 x TD + interval (%s) by the deadline poll's latency",
			td, interval, len(delays), sum.Polls, time.Since(start), delays[0], pct(0.5), pct(0.9), delays[len(delays)-1], over, 3*td/2+interval)
	})
}
