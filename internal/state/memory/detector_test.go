package memory_test

import (
	"testing"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/memory"
)

var _ detector.MemoryStore = (*memory.DetectorMemory)(nil)

func TestDetectorMemoryContract(t *testing.T) {
	detectortest.RunMemoryContract(t, func(t *testing.T) (state.Store, detector.MemoryStore) {
		s := memory.New(nil)
		return s, memory.NewDetectorMemory(s)
	})
}
