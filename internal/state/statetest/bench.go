package statetest

import (
	"fmt"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// Benchmarks measures a store's writes on one cluster of two fresh, open instances:
// a health record that changes health, a guarded close plus the reopen, and a read of the
// cluster's instances. Each sub-benchmark gets its own cluster of s.
func Benchmarks(b *testing.B, s state.Store) {
	setup := func(b *testing.B, cluster string) {
		b.Helper()
		for _, d := range []string{"a.example", "b.example"} {
			d = cluster + "." + d // a domain belongs to one cluster only
			if _, err := s.Register(ctx, registration(cluster, d), operator); err != nil {
				b.Fatal(err)
			}
			if _, err := s.RecordHealth(ctx, cluster, d, state.HealthFresh, operator); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("RecordHealth", func(b *testing.B) {
		setup(b, "bench-health")
		healths := []state.Health{state.HealthStale, state.HealthFresh}
		i := 0
		for b.Loop() {
			if _, err := s.RecordHealth(ctx, "bench-health", "bench-health.a.example", healths[i%2], operator); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("GuardedCloseAndOpen", func(b *testing.B) {
		setup(b, "bench-close")
		c := state.Change{By: "bench", Reason: "bench"}
		for b.Loop() {
			if _, err := s.Close(ctx, "bench-close", "bench-close.a.example", c); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Open(ctx, "bench-close", "bench-close.a.example", c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Instances", func(b *testing.B) {
		setup(b, "bench-read")
		for b.Loop() {
			ins, err := s.Instances(ctx, "bench-read")
			if err != nil || len(ins) != 2 {
				b.Fatal(fmt.Sprint(len(ins), err))
			}
		}
	})
}
