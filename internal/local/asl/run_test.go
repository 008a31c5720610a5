package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/local/asl"
)

// runDef loads and runs a definition on the virtual clock, failing the test on load errors.
func runDef(t *testing.T, def []byte, handlers map[string]asl.Handler, input string) (*asl.Execution, *asl.VirtualClock) {
	t.Helper()
	clock := asl.NewVirtualClock(t0)
	m, err := asl.Load(def, asl.Options{Handlers: handlers, Clock: clock, StateMachineArn: "arn:aws:states:eu-west-1:123456789012:stateMachine:sm"})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := m.Run(context.Background(), "exec-1", json.RawMessage(input))
	if err != nil {
		t.Fatal(err)
	}
	return ex, clock
}

func wantOutput(t *testing.T, ex *asl.Execution, want string) {
	t.Helper()
	if ex.Status != asl.StatusSucceeded {
		t.Fatalf("status %s (%s: %s), want SUCCEEDED", ex.Status, ex.Error, ex.Cause)
	}
	if diff := cmp.Diff(decode(t, []byte(want)), decode(t, ex.Output)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func wantFailure(t *testing.T, ex *asl.Execution, errName, causePart string) {
	t.Helper()
	if ex.Status != asl.StatusFailed || ex.Error != errName {
		t.Fatalf("ended %s with %q (%s), want FAILED with %q", ex.Status, ex.Error, ex.Cause, errName)
	}
	if causePart != "" && !strings.Contains(ex.Cause, causePart) {
		t.Errorf("cause %q does not say %q", ex.Cause, causePart)
	}
}

func TestDataFlow(t *testing.T) {
	tests := []struct {
		name   string
		states string
		input  string
		output string
	}{
		{"ResultPath nests into a copy of the input",
			`"A":{"Type":"Pass","Result":{"r":1},"ResultPath":"$.x.y","End":true}`,
			`{"a":1,"x":{"keep":true}}`, `{"a":1,"x":{"keep":true,"y":{"r":1}}}`},
		{"ResultPath $ replaces",
			`"A":{"Type":"Pass","Result":"only","End":true}`, `{"a":1}`, `"only"`},
		{"ResultPath null discards",
			`"A":{"Type":"Task","Resource":"arn:test:const","ResultPath":null,"End":true}`, `{"a":1}`, `{"a":1}`},
		{"InputPath, Parameters and OutputPath",
			`"A":{"Type":"Task","Resource":"arn:test:echo","InputPath":"$.in","Parameters":{"static":"s","n":2.50,"nested":{"v.$":"$.v"},"all.$":"$"},"ResultPath":"$.in.res","OutputPath":"$.in","End":true}`,
			`{"in":{"v":"x"},"other":1}`, `{"v":"x","res":{"static":"s","n":2.50,"nested":{"v":"x"},"all":{"v":"x"}}}`},
		{"context object",
			`"A":{"Type":"Task","Resource":"arn:test:echo","Parameters":{"id.$":"$$.Execution.Id","name.$":"$$.Execution.Name","start.$":"$$.Execution.StartTime","in.$":"$$.Execution.Input.k","sm.$":"$$.StateMachine.Id","smn.$":"$$.StateMachine.Name","st.$":"$$.State.Name","entered.$":"$$.State.EnteredTime","retry.$":"$$.State.RetryCount"},"End":true}`,
			`{"k":"v"}`, `{"id":"arn:aws:states:eu-west-1:123456789012:execution:sm:exec-1","name":"exec-1","start":"2025-03-01T12:00:10.000Z","in":"v","sm":"arn:aws:states:eu-west-1:123456789012:stateMachine:sm","smn":"sm","st":"A","entered":"2025-03-01T12:00:10.000Z","retry":0}`},
		{"ResultSelector trims the task result",
			`"A":{"Type":"Task","Resource":"arn:test:const","ResultSelector":{"kept.$":"$.big.part","c":"x"},"ResultPath":"$.r","End":true}`,
			`{}`, `{"r":{"kept":"p","c":"x"}}`},
		{"States.Format with escapes, numbers, booleans and null",
			`"A":{"Type":"Pass","Parameters":{"s.$":"States.Format('a \\{literal\\} \\'q\\' \\\\ {}|{}|{}|{}|{}|{}', $.s, $.n, $.f, $.b, $.z, 'lit')"},"End":true}`,
			`{"s":"str","n":42,"f":1.5,"b":true,"z":null}`, `{"s":"a {literal} 'q' \\ str|42|1.5|true|null|lit"}`},
		{"Choice: BooleanEquals on a non-boolean is false",
			`"A":{"Type":"Choice","Choices":[{"Variable":"$.b","BooleanEquals":true,"Next":"Yes"}],"Default":"No"},"Yes":{"Type":"Pass","Result":"yes","End":true},"No":{"Type":"Pass","Result":"no","End":true}`,
			`{"b":"true"}`, `"no"`},
		{"Choice: And of IsPresent",
			`"A":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.a","IsPresent":true},{"Variable":"$.b","IsPresent":false}],"Next":"Yes"}],"Default":"No"},"Yes":{"Type":"Pass","Result":"yes","End":true},"No":{"Type":"Pass","Result":"no","End":true}`,
			`{"a":null}`, `"yes"`},
		{"Choice: first matching rule wins",
			`"A":{"Type":"Choice","Choices":[{"Variable":"$.a","BooleanEquals":false,"Next":"No"},{"Variable":"$.a","BooleanEquals":true,"Next":"Yes"},{"Variable":"$.a","IsPresent":true,"Next":"No"}]},"Yes":{"Type":"Pass","Result":"yes","End":true},"No":{"Type":"Pass","Result":"no","End":true}`,
			`{"a":true}`, `"yes"`},
		{"Succeed with paths",
			`"A":{"Type":"Succeed","InputPath":"$.a","OutputPath":"$.b"}`, `{"a":{"b":[1,2]}}`, `[1,2]`},
	}
	handlers := map[string]asl.Handler{
		"arn:test:echo": echo,
		"arn:test:const": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"big":{"part":"p","rest":"dropped"}}`), nil
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, _ := runDef(t, machine(tt.states), handlers, tt.input)
			wantOutput(t, ex, tt.output)
			if got := string(ex.Steps[0].Input); got != string(mustJSON(t, decode(t, []byte(tt.input)))) {
				t.Errorf("the first state's recorded input changed to %s", got)
			}
		})
	}
}

func TestRuntimeErrorsFailTheExecution(t *testing.T) {
	// Data-processing failures are States.Runtime: not retried, not caught, even by States.ALL.
	catchAll := `,"Retry":[{"ErrorEquals":["States.ALL"]}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true},"Caught":{"Type":"Succeed"}`
	tests := []struct {
		name   string
		states string
		input  string
		cause  string
	}{
		{"missing Parameters path", `"A":{"Type":"Task","Resource":"arn:test:echo","Parameters":{"x.$":"$.missing"}` + catchAll, `{}`,
			"state A: the JSONPath $.missing of field x.$ was not found in the input"},
		{"missing ResultSelector path", `"A":{"Type":"Task","Resource":"arn:test:echo","ResultSelector":{"x.$":"$.missing"}` + catchAll, `{}`,
			"the JSONPath $.missing of field x.$ was not found"},
		{"ResultPath into a string", `"A":{"Type":"Task","Resource":"arn:test:echo","ResultPath":"$.s.x"` + catchAll, `{"s":"str"}`,
			"cannot apply ResultPath $.s.x: s is not an object"},
		{"ResultPath into a non-object input", `"A":{"Type":"Pass","ResultPath":"$.x","End":true}`, `[1]`,
			"the input is not an object"},
		{"missing InputPath", `"A":{"Type":"Pass","InputPath":"$.nope","End":true}`, `{}`, "InputPath $.nope was not found"},
		{"choice on a missing variable", `"A":{"Type":"Choice","Choices":[{"Variable":"$.nope","BooleanEquals":true,"Next":"B"}],"Default":"B"},"B":{"Type":"Succeed"}`, `{}`,
			"invalid path $.nope"},
		{"SecondsPath not a number", `"A":{"Type":"Wait","SecondsPath":"$.s","End":true}`, `{"s":"10"}`, `must point to a non-negative integer, found "10"`},
		{"SecondsPath negative", `"A":{"Type":"Wait","SecondsPath":"$.s","End":true}`, `{"s":-1}`, "non-negative integer, found -1"},
		{"States.Format of an object", `"A":{"Type":"Pass","Parameters":{"x.$":"States.Format('{}', $.o)"},"End":true}`, `{"o":{}}`, "object or array"},
		{"ErrorPath to a number", `"A":{"Type":"Fail","ErrorPath":"$.e"}`, `{"e":1}`, "ErrorPath $.e must point to a string"},
		{"handler returns non-JSON", `"A":{"Type":"Task","Resource":"arn:test:garbage"` + catchAll, `{}`, "not JSON"},
	}
	handlers := map[string]asl.Handler{
		"arn:test:echo":    echo,
		"arn:test:garbage": func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{oops`), nil },
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, clock := runDef(t, machine(tt.states), handlers, tt.input)
			wantFailure(t, ex, asl.ErrRuntime, tt.cause)
			if got := len(clock.Sleeps()); got != 0 {
				t.Errorf("retried a runtime error (%d sleeps)", got)
			}
		})
	}
}

func TestEndStates(t *testing.T) {
	ex, _ := runDef(t, machine(`"A":{"Type":"Fail","Error":"Boom","Cause":"because"}`), nil, `{}`)
	wantFailure(t, ex, "Boom", "because")
	ex, _ = runDef(t, machine(`"A":{"Type":"Fail","ErrorPath":"$.e.Error","CausePath":"$.e.Cause"}`), nil, `{"e":{"Error":"X","Cause":"Y"}}`)
	wantFailure(t, ex, "X", "Y")
	ex, _ = runDef(t, machine(`"A":{"Type":"Choice","Choices":[{"Variable":"$.b","BooleanEquals":true,"Next":"B"}]},"B":{"Type":"Succeed"}`), nil, `{"b":false}`)
	wantFailure(t, ex, asl.ErrNoChoiceMatch, "no choice rule of state A matched")
}

// flaky fails with the given task errors in order, then returns {"ok":true}; it records the
// retry count each attempt saw in its input.
type flaky struct {
	errs []error
	seen []json.RawMessage
}

func (f *flaky) handler(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
	f.seen = append(f.seen, in)
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	return json.RawMessage(`{"ok":true}`), nil
}

func TestRetryAndCatch(t *testing.T) {
	te := func(name string) error { return &asl.TaskError{Name: name, Cause: name + " cause"} }
	repeat := func(err error, n int) []error {
		out := make([]error, n)
		for i := range out {
			out[i] = err
		}
		return out
	}
	const caught = `"Caught":{"Type":"Pass","End":true}`
	tests := []struct {
		name     string
		task     string // Retry and Catch fields
		errs     []error
		attempts int
		sleeps   []time.Duration
		states   []string
		status   asl.Status
		output   string // when SUCCEEDED
		errName  string // when FAILED
	}{
		{"defaults: 3 retries, 1 s doubling", `"Retry":[{"ErrorEquals":["E"]}]`, repeat(te("E"), 3), 4,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, []string{"A"}, asl.StatusSucceeded, `{"ok":true}`, ""},
		{"interval and fractional backoff", `"Retry":[{"ErrorEquals":["E"],"IntervalSeconds":2,"BackoffRate":1.5,"MaxAttempts":3}]`, repeat(te("E"), 3), 4,
			[]time.Duration{2 * time.Second, 3 * time.Second, 4500 * time.Millisecond}, []string{"A"}, asl.StatusSucceeded, `{"ok":true}`, ""},
		{"MaxAttempts 0 never retries", `"Retry":[{"ErrorEquals":["E"],"MaxAttempts":0}]`, repeat(te("E"), 1), 1,
			nil, []string{"A"}, asl.StatusFailed, "", "E"},
		{"exhausted retrier goes to Catch, not to later retriers", `"Retry":[{"ErrorEquals":["E"],"MaxAttempts":1},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}],"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"Caught"}]`,
			repeat(te("E"), 5), 2, []time.Duration{time.Second}, []string{"A", "Caught"}, asl.StatusSucceeded, `{"in":1,"err":{"Error":"E","Cause":"E cause"}}`, ""},
		{"each retrier counts its own attempts", `"Retry":[{"ErrorEquals":["E1"],"MaxAttempts":1},{"ErrorEquals":["E2"],"MaxAttempts":1}]`,
			[]error{te("E1"), te("E2"), te("E1")}, 3, []time.Duration{time.Second, time.Second}, []string{"A"}, asl.StatusFailed, "", "E1"},
		{"States.TaskFailed matches named errors", `"Retry":[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":1}]`, []error{te("OriginProbeError")}, 2,
			[]time.Duration{time.Second}, []string{"A"}, asl.StatusSucceeded, `{"ok":true}`, ""},
		{"plain errors are States.TaskFailed", `"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Caught"}]`, []error{errors.New("disk full")}, 1,
			nil, []string{"A", "Caught"}, asl.StatusSucceeded, `{"Error":"States.TaskFailed","Cause":"disk full"}`, ""},
		{"unmatched error fails the execution", `"Retry":[{"ErrorEquals":["Other"]}],"Catch":[{"ErrorEquals":["Other"],"Next":"Caught"}]`, []error{te("E")}, 1,
			nil, []string{"A"}, asl.StatusFailed, "", "E"},
		{"catch with ResultPath null keeps the input", `"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":null,"Next":"Caught"}]`, []error{te("E")}, 1,
			nil, []string{"A", "Caught"}, asl.StatusSucceeded, `{"in":1}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{errs: tt.errs}
			def := machine(`"A":{"Type":"Task","Resource":"arn:test:flaky",` + tt.task + `,"End":true},` + caught)
			if !strings.Contains(tt.task, "Caught") {
				def = machine(`"A":{"Type":"Task","Resource":"arn:test:flaky",` + tt.task + `,"End":true}`)
			}
			ex, clock := runDef(t, def, map[string]asl.Handler{"arn:test:flaky": f.handler}, `{"in":1}`)
			if got := len(ex.Steps[0].Attempts); got != tt.attempts {
				t.Errorf("%d attempts, want %d", got, tt.attempts)
			}
			if diff := cmp.Diff(tt.sleeps, clock.Sleeps()); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.states, ex.StateNames()); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			if tt.status == asl.StatusSucceeded {
				wantOutput(t, ex, tt.output)
			} else {
				wantFailure(t, ex, tt.errName, "")
			}
		})
	}
}

func TestRetryCountInContext(t *testing.T) {
	f := &flaky{errs: []error{&asl.TaskError{Name: "E"}, &asl.TaskError{Name: "E"}}}
	def := machine(`"A":{"Type":"Task","Resource":"arn:test:flaky","Parameters":{"n.$":"$$.State.RetryCount"},"Retry":[{"ErrorEquals":["E"]}],"End":true}`)
	ex, _ := runDef(t, def, map[string]asl.Handler{"arn:test:flaky": f.handler}, `{}`)
	wantOutput(t, ex, `{"ok":true}`)
	var got []string
	for _, in := range f.seen {
		got = append(got, string(in))
	}
	if diff := cmp.Diff([]string{`{"n":0}`, `{"n":1}`, `{"n":2}`}, got); diff != "" {
		t.Errorf("inputs per attempt (-want +got):\n%s", diff)
	}
}

func TestTaskTimeout(t *testing.T) {
	// A handler that outlives TimeoutSeconds: States.Timeout, which States.TaskFailed does not
	// match, and its context is cancelled.
	var clock *asl.VirtualClock
	cancelled := make(chan struct{})
	slow := func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		clock.Advance(10 * time.Second)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}
	def := machine(`"A":{"Type":"Task","Resource":"arn:test:slow","TimeoutSeconds":10,"Retry":[{"ErrorEquals":["States.TaskFailed"]}],"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"B"}],"End":true},"B":{"Type":"Succeed"}`)
	clock = asl.NewVirtualClock(t0)
	m, err := asl.Load(def, asl.Options{Handlers: map[string]asl.Handler{"arn:test:slow": slow}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := m.Run(context.Background(), "timeout", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantFailure(t, ex, asl.ErrTimeout, "")
	<-cancelled
	if got := ex.Steps[0].Exited.Sub(ex.Steps[0].Entered); got != 10*time.Second {
		t.Errorf("state took %v of virtual time, want 10s", got)
	}
}

func TestHandlerPanicFailsTheTask(t *testing.T) {
	boom := func(context.Context, json.RawMessage) (json.RawMessage, error) { panic("boom") }
	ex, _ := runDef(t, machine(`"A":{"Type":"Task","Resource":"arn:test:boom","End":true}`), map[string]asl.Handler{"arn:test:boom": boom}, `{}`)
	wantFailure(t, ex, asl.ErrTaskFailed, "panicked: boom")
}

func TestWaitAndTimeline(t *testing.T) {
	ex, clock := runDef(t, machine(`"A":{"Type":"Wait","Seconds":5,"Next":"B"},"B":{"Type":"Wait","SecondsPath":"$.s","Next":"C"},"C":{"Type":"Succeed"}`), nil, `{"s":7}`)
	wantOutput(t, ex, `{"s":7}`)
	if diff := cmp.Diff([]time.Duration{5 * time.Second, 7 * time.Second}, clock.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	type span struct {
		State, Next     string
		Entered, Exited time.Duration
	}
	var got []span
	for _, s := range ex.Steps {
		got = append(got, span{s.State, s.Next, s.Entered.Sub(t0), s.Exited.Sub(t0)})
	}
	want := []span{{"A", "B", 0, 5 * time.Second}, {"B", "C", 5 * time.Second, 12 * time.Second}, {"C", "", 12 * time.Second, 12 * time.Second}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
	if got := ex.Stopped.Sub(ex.Started); got != 12*time.Second {
		t.Errorf("execution took %v, want 12s", got)
	}
}

func TestRunAbortsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stop := func(context.Context, json.RawMessage) (json.RawMessage, error) {
		cancel()
		return json.RawMessage(`{}`), nil
	}
	m, err := asl.Load(machine(`"A":{"Type":"Task","Resource":"arn:test:stop","Next":"B"},"B":{"Type":"Wait","Seconds":60,"End":true}`),
		asl.Options{Handlers: map[string]asl.Handler{"arn:test:stop": stop}, Clock: asl.NewVirtualClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := m.Run(ctx, "abort", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != asl.StatusAborted {
		t.Errorf("status %s, want ABORTED", ex.Status)
	}
}

func TestRunStopsLoops(t *testing.T) {
	m, err := asl.Load(machine(`"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Choice","Choices":[{"Variable":"$.x","IsPresent":false,"Next":"A"}],"Default":"C"},"C":{"Type":"Succeed"}`),
		asl.Options{MaxTransitions: 10})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := m.Run(context.Background(), "loop", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantFailure(t, ex, asl.ErrRuntime, "more than 10 state transitions")
	if got := len(ex.Steps); got != 11 {
		t.Errorf("%d steps, want 11", got)
	}
}

func TestRunRefusesWhatStartExecutionRefuses(t *testing.T) {
	m, err := asl.Load(machine(`"A":{"Type":"Succeed"}`), asl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "has space", "a/b", "a:b", "a$b", "x{y}", fmt.Sprintf("%081d", 0), "tab\t"} {
		if _, err := m.Run(context.Background(), name, nil); err == nil {
			t.Errorf("Run accepted execution name %q", name)
		}
	}
	for in, problem := range map[string]string{
		`{"a":`:                         "ends before the JSON is complete",
		`{"cluster":"a"}}`:              "has data after the JSON value",
		`{"cluster":"a"} {}`:            "has data after the JSON value",
		`{"cluster":"a","cluster":"b"}`: `duplicate field "cluster"`,
		`{"p":[{"u":1,"u":2}]}`:         `field "p[0]": duplicate field "u"`,
		"{\"a\":\"\xff\"}":              "is not valid UTF-8",
	} {
		if _, err := m.Run(context.Background(), "ok", json.RawMessage(in)); err == nil || !strings.Contains(err.Error(), "execution input "+problem) {
			t.Errorf("Run(input %q) = %v, want it refused: %q", in, err, problem)
		}
	}
	ex, err := m.Run(context.Background(), "news_d1-cloudfront-net_42_0123456789", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantOutput(t, ex, `{}`)
}
