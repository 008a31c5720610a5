// Package asl runs the Amazon States Language definitions of statemachines/ in process, for local
// runs and tests: it interprets exactly the subset they use and refuses anything else at Load.
package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Handler runs a Task state's resource: it gets the state's effective input (after InputPath
// and Parameters) and returns the task result (before ResultSelector). A returned *TaskError
// carries the Step Functions error name and cause; any other error fails the task as
// States.TaskFailed with the error text as cause.
type Handler func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// TaskError is a task failure as Step Functions reports it: an error name that Retry and Catch
// match, and a cause.
type TaskError struct {
	Name  string
	Cause string
}

func (e *TaskError) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// Error names the interpreter itself produces.
const (
	ErrAll           = "States.ALL"
	ErrTaskFailed    = "States.TaskFailed"
	ErrTimeout       = "States.Timeout"
	ErrRuntime       = "States.Runtime" // data processing failed; never retried or caught
	ErrNoChoiceMatch = "States.NoChoiceMatched"
)

// LoadError says why a definition cannot be loaded: which state, which field, what is wrong.
type LoadError struct {
	State   string // empty for top-level fields
	Field   string // dotted, e.g. "Retry[0].BackoffRate"; empty for the state as a whole
	Problem string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("asl: ")
	if e.State != "" {
		fmt.Fprintf(&b, "state %q", e.State)
		if e.Field != "" {
			b.WriteString(", ")
		}
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %s", e.Field)
	}
	if e.State != "" || e.Field != "" {
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Options configure a loaded machine.
type Options struct {
	// Substitutions replace ${Name} in every string of the definition, as the SAM template's
	// DefinitionSubstitutions do. A ${Name} without a substitution is a load error.
	Substitutions map[string]string
	// Handlers map a Task's substituted Resource to the code that runs it. A Task whose
	// Resource has no handler is a load error.
	Handlers map[string]Handler
	// Clock gives the time and does the waiting; nil means real time.
	Clock Clock
	// StateMachineArn is $$.StateMachine.Id; execution ARNs derive from it. Default:
	// arn:aws:states:local:000000000000:stateMachine:<Name>.
	StateMachineArn string
	// Name is $$.StateMachine.Name when StateMachineArn is empty. Default "local".
	Name string
	// MaxTransitions stops a looping execution (AWS stops at 25,000 history events). Default 1000.
	MaxTransitions int
}

// Machine is a loaded, checked definition, ready to run any number of executions, also
// concurrently (its handlers and clock must then be safe for concurrent use).
type Machine struct {
	startAt  string
	states   map[string]*state
	order    []string // state names in definition order, for stable reports
	opts     Options
	clock    Clock
	smArn    string
	smName   string
	maxSteps int
}

var substRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// Load parses and checks a definition, applies substitutions, and binds Task resources to
// handlers. Everything the interpreter does not support is an error here, naming the state and
// field, not at run time. Supported: Task (Parameters, ResultSelector, ResultPath, InputPath,
// OutputPath, TimeoutSeconds, Retry, Catch), Pass (Result or Parameters), Choice (And,
// BooleanEquals, IsPresent), Wait (Seconds, SecondsPath), Succeed and Fail (Error, Cause,
// ErrorPath, CausePath); paths "$", "$.a.b" and context paths such as "$$.Execution.Id"; the one
// intrinsic function States.Format.
func Load(definition []byte, opts Options) (*Machine, error) {
	dec := json.NewDecoder(bytes.NewReader(definition))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, &LoadError{Problem: "definition is not JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, &LoadError{Problem: "definition has data after the JSON object"}
	}
	root, err := substitute(root, opts.Substitutions, nil)
	if err != nil {
		return nil, err
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, &LoadError{Problem: "definition is not a JSON object"}
	}
	f := fields{obj: top}
	if err := f.only("Comment", "StartAt", "States"); err != nil {
		return nil, err
	}
	m := &Machine{opts: opts, clock: opts.Clock, states: map[string]*state{}}
	if m.clock == nil {
		m.clock = RealClock{}
	}
	m.smName, m.smArn = opts.Name, opts.StateMachineArn
	if m.smName == "" {
		m.smName = "local"
	}
	if m.smArn == "" {
		m.smArn = "arn:aws:states:local:000000000000:stateMachine:" + m.smName
	} else if i := strings.LastIndex(m.smArn, ":"); i >= 0 {
		m.smName = m.smArn[i+1:]
	}
	if !strings.Contains(m.smArn, ":stateMachine:") {
		return nil, &LoadError{Problem: fmt.Sprintf("StateMachineArn %q is not a state machine ARN", m.smArn)}
	}
	m.maxSteps = opts.MaxTransitions
	if m.maxSteps <= 0 {
		m.maxSteps = 1000
	}
	if _, err := f.str("Comment", false); err != nil {
		return nil, err
	}
	if m.startAt, err = f.str("StartAt", true); err != nil {
		return nil, err
	}
	rawStates, ok := top["States"].(map[string]any)
	if !ok || len(rawStates) == 0 {
		return nil, &LoadError{Field: "States", Problem: "must be a non-empty object"}
	}
	for name := range rawStates {
		m.order = append(m.order, name)
	}
	sort.Strings(m.order)
	for _, name := range m.order {
		obj, ok := rawStates[name].(map[string]any)
		if !ok {
			return nil, &LoadError{State: name, Problem: "must be an object"}
		}
		if len(name) == 0 || len(name) > 80 {
			return nil, &LoadError{State: name, Problem: "state names are 1 to 80 characters"}
		}
		st, err := compileState(name, obj, opts.Handlers)
		if err != nil {
			return nil, err
		}
		m.states[name] = st
	}
	if err := m.checkGraph(); err != nil {
		return nil, err
	}
	return m, nil
}

// substitute replaces ${Name} in every string of v. path locates v for error messages.
func substitute(v any, subs map[string]string, path []string) (any, error) {
	switch v := v.(type) {
	case string:
		var missing string
		out := substRE.ReplaceAllStringFunc(v, func(s string) string {
			name := s[2 : len(s)-1]
			if r, ok := subs[name]; ok {
				return r
			}
			if missing == "" {
				missing = name
			}
			return s
		})
		if missing != "" {
			return nil, locate(path, fmt.Sprintf("no substitution for ${%s}", missing))
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if strings.Contains(k, "${") {
				return nil, locate(append(path, k), "substitutions are not supported in field names")
			}
			s, err := substitute(e, subs, append(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			s, err := substitute(e, subs, append(path, fmt.Sprintf("[%d]", i)))
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	return v, nil
}

// locate builds a LoadError from a path into the definition: States.<name>.<field...>.
func locate(path []string, problem string) *LoadError {
	if len(path) >= 2 && path[0] == "States" {
		return &LoadError{State: path[1], Field: joinField(path[2:]), Problem: problem}
	}
	return &LoadError{Field: joinField(path), Problem: problem}
}

func joinField(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// checkGraph checks that every transition names a state and every state is reachable from
// StartAt (AWS refuses unreachable states).
func (m *Machine) checkGraph() error {
	if _, ok := m.states[m.startAt]; !ok {
		return &LoadError{Field: "StartAt", Problem: fmt.Sprintf("names no state: %q", m.startAt)}
	}
	for _, name := range m.order {
		for _, t := range m.states[name].transitions() {
			if _, ok := m.states[t.to]; !ok {
				return &LoadError{State: name, Field: t.field, Problem: fmt.Sprintf("names no state: %q", t.to)}
			}
		}
	}
	seen := map[string]bool{m.startAt: true}
	queue := []string{m.startAt}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, t := range m.states[name].transitions() {
			if !seen[t.to] {
				seen[t.to] = true
				queue = append(queue, t.to)
			}
		}
	}
	for _, name := range m.order {
		if !seen[name] {
			return &LoadError{State: name, Problem: "is not reachable from StartAt"}
		}
	}
	return nil
}

// States returns the names of the machine's states, sorted.
func (m *Machine) States() []string { return append([]string(nil), m.order...) }

// Resources returns the substituted Resource of every Task state, by state name.
func (m *Machine) Resources() map[string]string {
	out := map[string]string{}
	for name, st := range m.states {
		if st.task != nil {
			out[name] = st.task.resource
		}
	}
	return out
}
