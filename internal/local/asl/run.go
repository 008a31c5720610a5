package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// Status is how an execution ended.
type Status string

// Execution statuses.
const (
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	// StatusAborted: the context given to Run was cancelled.
	StatusAborted Status = "ABORTED"
)

// Execution is the record of one run: how it ended and every state it went through.
type Execution struct {
	ARN     string
	Name    string
	Status  Status
	Output  json.RawMessage // when SUCCEEDED
	Error   string          // when FAILED or ABORTED
	Cause   string
	Started time.Time
	Stopped time.Time
	Steps   []Step
}

// Step is one visit of one state.
type Step struct {
	State   string
	Type    string
	Entered time.Time
	Exited  time.Time
	Input   json.RawMessage
	Output  json.RawMessage // empty when the state failed the execution
	// Attempts are a Task's invocations, one per try (retries included).
	Attempts []Attempt
	// Error and Cause: what the state raised, whether a Catch took it or it failed the execution.
	Error string
	Cause string
	// Next is the state that came next; empty for the last step.
	Next string
}

// Attempt is one invocation of a Task's handler.
type Attempt struct {
	Started time.Time
	Ended   time.Time
	Input   json.RawMessage // the effective input given to the handler
	Output  json.RawMessage // the handler's result, when it succeeded
	Error   string
	Cause   string
}

// Retries is the number of attempts after the first.
func (s Step) Retries() int {
	if len(s.Attempts) == 0 {
		return 0
	}
	return len(s.Attempts) - 1
}

// StateNames lists the states the execution visited, in order.
func (e *Execution) StateNames() []string {
	out := make([]string, len(e.Steps))
	for i, s := range e.Steps {
		out[i] = s.State
	}
	return out
}

// runtimeError is a data-processing failure (a path that is not there, a ResultPath that cannot
// be applied). As in AWS (States.Runtime), it fails the execution: no Retry or Catch takes it.
type runtimeError struct{ cause string }

func (e *runtimeError) Error() string { return ErrRuntime + ": " + e.cause }

func runtimeErrorf(format string, args ...any) error {
	return &runtimeError{cause: fmt.Sprintf(format, args...)}
}

// failure ends an execution.
type failure struct {
	name, cause string
	aborted     bool
}

// Run executes the machine once. name is the execution name (as in StartExecution: 1 to 80
// characters, none of whitespace, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : / or control
// characters) and input its JSON input. The error is for a name or input StartExecution would
// refuse; how the execution itself ended is in the returned Execution.
func (m *Machine) Run(ctx context.Context, name string, input json.RawMessage) (*Execution, error) {
	if err := checkExecutionName(name); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(input)) == 0 {
		input = json.RawMessage("{}")
	}
	// One value, no key twice: the state machine's paths must find what the caller validated.
	if err := strictjson.Valid(input); err != nil {
		return nil, fmt.Errorf("asl: execution input %w", err)
	}
	in, err := decodeJSON(input)
	if err != nil {
		return nil, fmt.Errorf("asl: execution input: %w", err)
	}
	ex := &Execution{
		ARN:     strings.Replace(m.smArn, ":stateMachine:", ":execution:", 1) + ":" + name,
		Name:    name,
		Started: m.clock.Now(),
	}
	r := &run{m: m, ex: ex, input: in}
	data, cur := in, m.startAt
	for transitions := 0; ; transitions++ {
		st := m.states[cur]
		step := Step{State: cur, Type: string(st.typ), Entered: m.clock.Now(), Input: encodeJSON(data)}
		var (
			out  any
			next string
			f    *failure
		)
		if transitions == m.maxSteps {
			f = &failure{name: ErrRuntime, cause: fmt.Sprintf("more than %d state transitions", m.maxSteps)}
		} else {
			out, next, f = r.runState(ctx, st, data, &step)
		}
		step.Exited = m.clock.Now()
		if f != nil {
			step.Error, step.Cause = f.name, f.cause
			ex.Steps = append(ex.Steps, step)
			ex.Status, ex.Error, ex.Cause = StatusFailed, f.name, f.cause
			if f.aborted {
				ex.Status = StatusAborted
			}
			ex.Stopped = m.clock.Now()
			return ex, nil
		}
		step.Output, step.Next = encodeJSON(out), next
		ex.Steps = append(ex.Steps, step)
		if next == "" {
			ex.Status, ex.Output, ex.Stopped = StatusSucceeded, step.Output, m.clock.Now()
			return ex, nil
		}
		data, cur = out, next
	}
}

// run is the state of one execution.
type run struct {
	m     *Machine
	ex    *Execution
	input any
}

func (r *run) contextObject(st *state, entered time.Time, retries int) any {
	return map[string]any{
		"Execution": map[string]any{
			"Id":        r.ex.ARN,
			"Name":      r.ex.Name,
			"StartTime": timestamp(r.ex.Started),
			"Input":     r.input,
		},
		"StateMachine": map[string]any{"Id": r.m.smArn, "Name": r.m.smName},
		"State": map[string]any{
			"Name":        st.name,
			"EnteredTime": timestamp(entered),
			"RetryCount":  json.Number(strconv.Itoa(retries)),
		},
	}
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// asFailure turns a data-processing error into the execution's failure.
func asFailure(st *state, err error) *failure {
	var re *runtimeError
	if errors.As(err, &re) {
		return &failure{name: ErrRuntime, cause: fmt.Sprintf("state %s: %s", st.name, re.cause)}
	}
	return &failure{name: ErrRuntime, cause: fmt.Sprintf("state %s: %v", st.name, err)}
}

func (r *run) runState(ctx context.Context, st *state, raw any, step *Step) (any, string, *failure) {
	if err := ctx.Err(); err != nil {
		return nil, "", &failure{name: "Aborted", cause: err.Error(), aborted: true}
	}
	if st.typ == typeFail {
		return r.runFail(st, raw)
	}
	eff, err := selectPath(st.inputPath, raw, "InputPath")
	if err != nil {
		return nil, "", asFailure(st, err)
	}
	var out any
	next := st.next
	switch st.typ {
	case typeTask:
		return r.runTask(ctx, st, raw, eff, step)
	case typePass:
		result := eff
		switch {
		case st.hasResult:
			result = st.result
		case st.parameters != nil:
			if result, err = st.parameters.root.eval(&evalEnv{input: eff, ctx: r.contextObject(st, step.Entered, 0)}); err != nil {
				return nil, "", asFailure(st, err)
			}
		}
		if out, err = applyResultPath(st.resultPath, st.discard, raw, result); err != nil {
			return nil, "", asFailure(st, err)
		}
	case typeChoice:
		env := &evalEnv{input: eff, ctx: r.contextObject(st, step.Entered, 0)}
		next = ""
		for _, c := range st.choices {
			ok, err := c.cond.test(env)
			if err != nil {
				return nil, "", asFailure(st, err)
			}
			if ok {
				next = c.next
				break
			}
		}
		if next == "" {
			if st.deflt == "" {
				return nil, "", &failure{name: ErrNoChoiceMatch, cause: fmt.Sprintf("no choice rule of state %s matched and it has no Default", st.name)}
			}
			next = st.deflt
		}
		out = eff
	case typeWait:
		secs := st.seconds
		if st.secondsPath != nil {
			v, ok := st.secondsPath.get(eff, nil)
			n, isNum := v.(json.Number)
			i, ierr := n.Int64()
			if !ok || !isNum || ierr != nil || i < 0 {
				return nil, "", asFailure(st, runtimeErrorf("SecondsPath %s must point to a non-negative integer, found %s", st.secondsPath, encodeJSON(v)))
			}
			secs = i
		}
		if err := r.m.clock.Sleep(ctx, time.Duration(secs)*time.Second); err != nil {
			return nil, "", &failure{name: "Aborted", cause: err.Error(), aborted: true}
		}
		out = eff
	case typeSucceed:
		out, next = eff, ""
	}
	if out, err = selectPath(st.outputPath, out, "OutputPath"); err != nil {
		return nil, "", asFailure(st, err)
	}
	return out, next, nil
}

func (r *run) runFail(st *state, raw any) (any, string, *failure) {
	f := &failure{name: st.errName, cause: st.cause}
	for _, p := range []struct {
		path *path
		dst  *string
		what string
	}{{st.errorPath, &f.name, "ErrorPath"}, {st.causePath, &f.cause, "CausePath"}} {
		if p.path == nil {
			continue
		}
		v, ok := p.path.get(raw, nil)
		s, isStr := v.(string)
		if !ok || !isStr {
			return nil, "", asFailure(st, runtimeErrorf("%s %s must point to a string", p.what, p.path))
		}
		*p.dst = s
	}
	return nil, "", f
}

func (r *run) runTask(ctx context.Context, st *state, raw, eff any, step *Step) (any, string, *failure) {
	t := st.task
	counts := make([]int, len(t.retry))
	retries := 0
	for {
		env := &evalEnv{input: eff, ctx: r.contextObject(st, step.Entered, retries)}
		params := eff
		if st.parameters != nil {
			var err error
			if params, err = st.parameters.root.eval(env); err != nil {
				return nil, "", asFailure(st, err)
			}
		}
		att := Attempt{Started: r.m.clock.Now(), Input: encodeJSON(params)}
		res, terr, abort := r.invoke(ctx, t, att.Input)
		att.Ended = r.m.clock.Now()
		if abort != nil {
			att.Error, att.Cause = "Aborted", abort.Error()
			step.Attempts = append(step.Attempts, att)
			return nil, "", &failure{name: "Aborted", cause: abort.Error(), aborted: true}
		}
		if terr == nil {
			att.Output = res
			step.Attempts = append(step.Attempts, att)
			result, err := decodeJSON(res)
			if err != nil {
				return nil, "", asFailure(st, runtimeErrorf("resource %s returned a result that is not JSON: %v", t.resource, err))
			}
			if t.resultSelector != nil {
				if result, err = t.resultSelector.root.eval(&evalEnv{input: result, ctx: env.ctx}); err != nil {
					return nil, "", asFailure(st, err)
				}
			}
			out, err := applyResultPath(st.resultPath, st.discard, raw, result)
			if err == nil {
				out, err = selectPath(st.outputPath, out, "OutputPath")
			}
			if err != nil {
				return nil, "", asFailure(st, err)
			}
			return out, st.next, nil
		}
		att.Error, att.Cause = terr.Name, terr.Cause
		step.Attempts = append(step.Attempts, att)

		// The first retrier that matches decides; once it is used up, the error goes to Catch.
		if i := firstMatch(len(t.retry), func(i int) []string { return t.retry[i].errors }, terr.Name); i >= 0 && counts[i] < t.retry[i].maxAttempts {
			rt := t.retry[i]
			delay := time.Duration(float64(rt.interval) * math.Pow(rt.backoff, float64(counts[i])))
			counts[i]++
			retries++
			if err := r.m.clock.Sleep(ctx, delay); err != nil {
				return nil, "", &failure{name: "Aborted", cause: err.Error(), aborted: true}
			}
			continue
		}
		step.Error, step.Cause = terr.Name, terr.Cause
		if i := firstMatch(len(t.catch), func(i int) []string { return t.catch[i].errors }, terr.Name); i >= 0 {
			c := t.catch[i]
			out, err := applyResultPath(c.resultPath, c.discard, raw, map[string]any{"Error": terr.Name, "Cause": terr.Cause})
			if err != nil {
				return nil, "", asFailure(st, err)
			}
			return out, c.next, nil
		}
		return nil, "", &failure{name: terr.Name, cause: terr.Cause}
	}
}

// firstMatch returns the index of the first of n error lists that matches name, or -1.
func firstMatch(n int, list func(int) []string, name string) int {
	for i := 0; i < n; i++ {
		for _, e := range list(i) {
			switch {
			case e == ErrAll, e == name:
				return i
			case e == ErrTaskFailed && name != ErrTimeout:
				return i
			}
		}
	}
	return -1
}

// invoke calls a task's handler, enforcing TimeoutSeconds through the clock. abort is set when
// ctx ends.
func (r *run) invoke(ctx context.Context, t *taskSpec, in json.RawMessage) (out json.RawMessage, terr *TaskError, abort error) {
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		out json.RawMessage
		err error
	}
	// The timer starts before the handler, so a handler that moves a virtual clock past the
	// timeout is timed out.
	var timeout <-chan time.Time
	if t.timeout > 0 {
		c, stop := r.m.clock.NewTimer(t.timeout)
		defer stop()
		timeout = c
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: &TaskError{Name: ErrTaskFailed, Cause: fmt.Sprintf("handler for %s panicked: %v", t.resource, p)}}
			}
		}()
		o, err := t.handler(hctx, in)
		done <- result{o, err}
	}()
	select {
	case res := <-done:
		if res.err == nil {
			return res.out, nil, nil
		}
		var te *TaskError
		if errors.As(res.err, &te) {
			return nil, te, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, &TaskError{Name: ErrTaskFailed, Cause: res.err.Error()}, nil
	case <-timeout:
		// As in AWS, the invocation is abandoned, not waited for; its context is cancelled.
		return nil, &TaskError{Name: ErrTimeout, Cause: ""}, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

func selectPath(p *path, v any, field string) (any, error) {
	if p == nil {
		return v, nil
	}
	out, ok := p.get(v, nil)
	if !ok {
		return nil, runtimeErrorf("%s %s was not found in the data", field, p)
	}
	return out, nil
}

func applyResultPath(p *path, discard bool, raw, result any) (any, error) {
	if discard {
		return raw, nil
	}
	if p == nil {
		return result, nil
	}
	return p.set(raw, result)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// encodeJSON encodes compactly, without HTML escaping (as Step Functions shows data).
func encodeJSON(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only values decoded from JSON reach here; they always encode.
		panic(fmt.Sprintf("asl: encode %T: %v", v, err))
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func checkExecutionName(name string) error {
	if name == "" || len(name) > 80 {
		return fmt.Errorf("asl: execution name %q: must be 1 to 80 characters", name)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return fmt.Errorf("asl: execution name %q: character %q is not allowed", name, r)
		}
	}
	return nil
}
