package memory_test

import (
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/memory"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

func TestContract(t *testing.T) {
	statetest.Run(t, func(t *testing.T, now func() time.Time) state.Store { return memory.New(now) })
}
