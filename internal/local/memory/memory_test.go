package memory_test

import (
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

func TestContract(t *testing.T) {
	statetest.Run(t, func(t *testing.T, now func() time.Time) state.Store { return memory.New(now) })
}

func TestHeartbeat(t *testing.T) {
	statetest.RunHeartbeat(t, func(t *testing.T, now func() time.Time, maxAge time.Duration) (state.Store, statetest.DetectorSaver) {
		s := memory.New(now, memory.HeartbeatMaxAge(maxAge))
		return s, memory.NewDetectorMemory(s)
	})
}

// TestCloseProperty: design.md invariant 5.1 under concurrent closers (see statetest.CloseProperty).
func TestCloseProperty(t *testing.T) {
	res := statetest.CloseProperty(t, func(now func() time.Time) state.Store { return memory.New(now) }, 1000, 4)
	t.Logf("memory store: %v", res)
}

func BenchmarkStore(b *testing.B) { statetest.Benchmarks(b, memory.New(nil)) }
