package sfn_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/execution/executiontest"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/local/sfn"
)

// holdDefinition runs one task that waits until the test releases its execution.
const holdDefinition = `{"StartAt":"Hold","States":{"Hold":{"Type":"Task","Resource":"arn:local:hold",
  "Parameters":{"execution.$":"$$.Execution.Id"},"End":true}}}`

func TestContract(t *testing.T) {
	executiontest.Run(t, func(t *testing.T) executiontest.Harness {
		var mu sync.Mutex
		release := map[string]chan struct{}{}
		gate := func(arn string) chan struct{} {
			mu.Lock()
			defer mu.Unlock()
			if release[arn] == nil {
				release[arn] = make(chan struct{})
			}
			return release[arn]
		}
		hold := func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var p struct{ Execution string }
			if err := json.Unmarshal(in, &p); err != nil {
				return nil, err
			}
			select {
			case <-gate(p.Execution):
			case <-ctx.Done():
			}
			return json.RawMessage(`{}`), nil
		}
		s := sfn.New(sfn.Options{})
		t.Cleanup(s.Close)
		const arn = "arn:aws:states:local:000000000000:stateMachine:hold"
		if err := s.AddDefinition(arn, []byte(holdDefinition), asl.Options{Handlers: map[string]asl.Handler{"arn:local:hold": hold}}); err != nil {
			t.Fatal(err)
		}
		return executiontest.Harness{Starter: s, StateMachineARN: arn, Finish: func(t *testing.T, exec string) {
			close(gate(exec))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if ex, err := s.Wait(ctx, exec); err != nil || ex.Status != asl.StatusSucceeded {
				t.Fatalf("Wait %s: %+v, %v", exec, ex, err)
			}
		}}
	})
}
