package kvs_test

import (
	"testing"

	"github.com/clustered-video-streams/cvs/internal/edgekv"
	"github.com/clustered-video-streams/cvs/internal/edgekv/edgekvtest"
	"github.com/clustered-video-streams/cvs/internal/local/kvs"
)

func TestContract(t *testing.T) {
	edgekvtest.Run(t, func(*testing.T) edgekv.Store { return &kvs.Store{} })
}
