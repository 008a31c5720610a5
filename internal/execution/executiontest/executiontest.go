// Package executiontest is the contract every execution.Starter passes: the Step Functions
// adapter (against moto_server) and the in-process twin run the same tests.
package executiontest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/execution"
)

// Harness is a Starter with one state machine whose executions run until Finish ends them.
type Harness struct {
	Starter execution.Starter
	// StateMachineARN is the machine the tests start.
	StateMachineARN string
	// Finish ends a running execution and returns once it has ended.
	Finish func(t *testing.T, executionARN string)
}

// Run runs the contract on harnesses made by open, one per test.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	ctx := context.Background()
	start := func(t *testing.T, h Harness, name, input string) execution.Result {
		t.Helper()
		r, err := h.Starter.Start(ctx, h.StateMachineARN, name, []byte(input))
		if err != nil {
			t.Fatalf("Start %s: %v", name, err)
		}
		return r
	}
	t.Run("a new name starts an execution", func(t *testing.T) {
		h := open(t)
		r := start(t, h, "news_a.example_1", `{"n":1}`)
		if r.Outcome != execution.Started || !strings.HasSuffix(r.ExecutionARN, ":news_a.example_1") || !strings.Contains(r.ExecutionARN, ":execution:") {
			t.Fatalf("Start = %+v, want started with an execution ARN ending in the name", r)
		}
	})
	t.Run("same name and input while running is the running execution", func(t *testing.T) {
		h := open(t)
		first := start(t, h, "dup", `{"n":1}`)
		again := start(t, h, "dup", `{"n":1}`)
		if again != first {
			t.Fatalf("second Start = %+v, want the first's %+v", again, first)
		}
	})
	t.Run("same name with another input already exists", func(t *testing.T) {
		h := open(t)
		start(t, h, "dup", `{"n":1}`)
		if r := start(t, h, "dup", `{"n":2}`); r != (execution.Result{Outcome: execution.AlreadyExists}) {
			t.Fatalf("Start with another input = %+v, want already exists", r)
		}
	})
	t.Run("same name after the execution ended already exists, whatever the input", func(t *testing.T) {
		h := open(t)
		first := start(t, h, "done", `{"n":1}`)
		h.Finish(t, first.ExecutionARN)
		if r := start(t, h, "done", `{"n":1}`); r.Outcome != execution.AlreadyExists {
			t.Fatalf("Start of an ended name = %+v, want already exists", r)
		}
	})
	t.Run("refusals are RefusedError with the service's code", func(t *testing.T) {
		h := open(t)
		missing := h.StateMachineARN[:strings.LastIndex(h.StateMachineARN, ":")+1] + "nosuchmachine"
		for _, c := range []struct{ name, arn, exec, code string }{
			{"missing state machine", missing, "x", execution.CodeStateMachineDoesNotExist},
			{"name with a space", h.StateMachineARN, "a b", execution.CodeInvalidName},
			{"name with a slash", h.StateMachineARN, "a/b", execution.CodeInvalidName},
		} {
			_, err := h.Starter.Start(ctx, c.arn, c.exec, []byte(`{}`))
			var refused *execution.RefusedError
			if !errors.As(err, &refused) || refused.Code != c.code {
				t.Errorf("%s: %v, want a RefusedError %s", c.name, err, c.code)
			}
		}
	})
}
