package sqs_test

import (
	"testing"
	"time"

	localsqs "github.com/clustered-video-streams/cvs/internal/local/sqs"
	"github.com/clustered-video-streams/cvs/internal/queue/queuetest"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Harness {
		clk := statetest.NewClock(statetest.T0)
		q, err := localsqs.New(localsqs.Config{Name: "checks", Now: clk.Now, Visibility: queuetest.Visibility})
		if err != nil {
			t.Fatal(err)
		}
		return queuetest.Harness{Queue: q, Wait: func(d time.Duration) { clk.Advance(d) }, Now: clk.Now}
	})
}
