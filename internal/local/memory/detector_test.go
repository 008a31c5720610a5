package memory_test

import (
	"testing"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
)

var _ detector.MemoryStore = (*memory.DetectorMemory)(nil)

func TestDetectorMemoryContract(t *testing.T) {
	detectortest.RunMemoryContract(t, func(t *testing.T) (state.Store, detector.MemoryStore) {
		s := memory.New(nil)
		return s, memory.NewDetectorMemory(s)
	})
}
