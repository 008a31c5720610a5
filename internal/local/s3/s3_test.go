package s3_test

import (
	"fmt"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/blob/blobtest"
	locals3 "github.com/clustered-video-streams/cvs/internal/local/s3"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Harness {
		clk := statetest.NewClock(statetest.T0)
		s := locals3.New(locals3.Config{Now: clk.Now})
		n := 0
		return blobtest.Harness{
			Store: s,
			Now:   clk.Now,
			NewBucket: func(t *testing.T, v blob.Versioning) string {
				n++
				name := fmt.Sprintf("b%d", n)
				if err := s.CreateBucket(name, v); err != nil {
					t.Fatal(err)
				}
				return name
			},
		}
	})
}
