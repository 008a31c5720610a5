package asl

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// stateType is an ASL state type.
type stateType string

// The state types this interpreter runs. Parallel and Map are not supported.
const (
	typeTask    stateType = "Task"
	typePass    stateType = "Pass"
	typeChoice  stateType = "Choice"
	typeWait    stateType = "Wait"
	typeSucceed stateType = "Succeed"
	typeFail    stateType = "Fail"
)

// allowedFields lists, per state type, the fields this interpreter understands.
var allowedFields = map[stateType][]string{
	typeTask:    {"Type", "Comment", "Resource", "Parameters", "ResultSelector", "ResultPath", "InputPath", "OutputPath", "TimeoutSeconds", "Retry", "Catch", "Next", "End"},
	typePass:    {"Type", "Comment", "Result", "Parameters", "ResultPath", "InputPath", "OutputPath", "Next", "End"},
	typeChoice:  {"Type", "Comment", "Choices", "Default", "InputPath", "OutputPath"},
	typeWait:    {"Type", "Comment", "Seconds", "SecondsPath", "InputPath", "OutputPath", "Next", "End"},
	typeSucceed: {"Type", "Comment", "InputPath", "OutputPath"},
	typeFail:    {"Type", "Comment", "Error", "Cause", "ErrorPath", "CausePath"},
}

// state is one compiled state. Fields that do not apply to its type stay zero.
type state struct {
	name string
	typ  stateType
	next string // "" with end
	end  bool

	inputPath  *path // nil: "$"
	outputPath *path // nil: "$"
	resultPath *path // nil with discardResult false: "$"
	discard    bool  // ResultPath null

	task *taskSpec
	// Pass
	result     any  // Result
	hasResult  bool // Result present (it may be JSON null)
	parameters *template
	// Choice
	choices []choiceRule
	deflt   string
	// Wait
	seconds     int64
	secondsPath *path
	// Fail
	errName, cause       string
	errorPath, causePath *path
}

type taskSpec struct {
	resource       string
	handler        Handler
	resultSelector *template
	timeout        time.Duration
	retry          []retrier
	catch          []catcher
}

type retrier struct {
	errors      []string
	interval    time.Duration
	maxAttempts int
	backoff     float64
}

type catcher struct {
	errors     []string
	resultPath *path
	discard    bool
	next       string
}

// transition is an edge of the state graph, for the load-time checks.
type transition struct{ field, to string }

func (s *state) transitions() []transition {
	var out []transition
	if s.next != "" {
		out = append(out, transition{"Next", s.next})
	}
	for i, c := range s.choices {
		out = append(out, transition{fmt.Sprintf("Choices[%d].Next", i), c.next})
	}
	if s.deflt != "" {
		out = append(out, transition{"Default", s.deflt})
	}
	if s.task != nil {
		for i, c := range s.task.catch {
			out = append(out, transition{fmt.Sprintf("Catch[%d].Next", i), c.next})
		}
	}
	return out
}

// fields reads typed fields of one JSON object and builds LoadErrors that point at them.
type fields struct {
	obj    map[string]any
	state  string
	prefix string // e.g. "Retry[0]."
}

func (f fields) errf(field, format string, args ...any) *LoadError {
	return &LoadError{State: f.state, Field: f.prefix + field, Problem: fmt.Sprintf(format, args...)}
}

// only rejects any field not in allowed.
func (f fields) only(allowed ...string) error {
	var unknown []string
	for k := range f.obj {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return f.errf(unknown[0], "is not supported by this interpreter (supported: %s)", strings.Join(allowed, ", "))
}

func (f fields) has(k string) bool { _, ok := f.obj[k]; return ok }

func (f fields) str(k string, required bool) (string, error) {
	v, ok := f.obj[k]
	if !ok {
		if required {
			return "", f.errf(k, "is required")
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", f.errf(k, "must be a string")
	}
	if required && s == "" {
		return "", f.errf(k, "must not be empty")
	}
	return s, nil
}

// integer reads a JSON integer in [min, max].
func (f fields) integer(k string, min, max int64) (int64, bool, error) {
	v, ok := f.obj[k]
	if !ok {
		return 0, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return 0, true, f.errf(k, "must be an integer")
	}
	i, err := n.Int64()
	if err != nil || i < min || i > max {
		return 0, true, f.errf(k, "must be an integer from %d to %d, not %s", min, max, n)
	}
	return i, true, nil
}

func (f fields) number(k string) (float64, bool, error) {
	v, ok := f.obj[k]
	if !ok {
		return 0, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return 0, true, f.errf(k, "must be a number")
	}
	x, err := n.Float64()
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, true, f.errf(k, "must be a number, not %s", n)
	}
	return x, true, nil
}

// refPath reads a reference path field (InputPath, ResultPath...). null is refused unless
// nullable; ok reports whether the field is present.
func (f fields) refPath(k string, nullable bool) (p *path, isNull, ok bool, err error) {
	v, present := f.obj[k]
	if !present {
		return nil, false, false, nil
	}
	if v == nil {
		if !nullable {
			return nil, false, true, f.errf(k, "null is not supported here by this interpreter")
		}
		return nil, true, true, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return nil, false, true, f.errf(k, "must be a string path")
	}
	p, perr := parsePath(s, false)
	if perr != nil {
		return nil, false, true, f.errf(k, "%v", perr)
	}
	return p, false, true, nil
}

func (f fields) errorNames(k string) ([]string, error) {
	raw, ok := f.obj[k].([]any)
	if !ok || len(raw) == 0 {
		return nil, f.errf(k, "must be a non-empty array of error names")
	}
	names := make([]string, len(raw))
	for i, v := range raw {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, f.errf(fmt.Sprintf("%s[%d]", k, i), "must be a non-empty string")
		}
		if s == ErrAll && len(raw) > 1 {
			return nil, f.errf(k, "States.ALL must appear alone")
		}
		if strings.HasPrefix(s, "States.") {
			switch s {
			case ErrAll, ErrTaskFailed, ErrTimeout:
			default:
				return nil, f.errf(fmt.Sprintf("%s[%d]", k, i), "%s is not an error this interpreter raises in tasks", s)
			}
		}
		names[i] = s
	}
	return names, nil
}

func compileState(name string, obj map[string]any, handlers map[string]Handler) (*state, error) {
	f := fields{obj: obj, state: name}
	typ, err := f.str("Type", true)
	if err != nil {
		return nil, err
	}
	allowed, known := allowedFields[stateType(typ)]
	if !known {
		return nil, f.errf("Type", "state type %q is not supported by this interpreter (supported: Task, Pass, Choice, Wait, Succeed, Fail)", typ)
	}
	if err := f.only(allowed...); err != nil {
		return nil, err
	}
	st := &state{name: name, typ: stateType(typ)}
	if _, err := f.str("Comment", false); err != nil {
		return nil, err
	}
	if err := st.compileFlow(f); err != nil {
		return nil, err
	}
	if st.inputPath, _, _, err = f.refPath("InputPath", false); err != nil {
		return nil, err
	}
	if st.outputPath, _, _, err = f.refPath("OutputPath", false); err != nil {
		return nil, err
	}
	if st.resultPath, st.discard, _, err = f.refPath("ResultPath", true); err != nil {
		return nil, err
	}
	if f.has("Parameters") {
		if st.parameters, err = compileTemplate(f, "Parameters"); err != nil {
			return nil, err
		}
	}
	switch st.typ {
	case typeTask:
		err = st.compileTask(f, handlers)
	case typePass:
		if f.has("Result") && f.has("Parameters") {
			return nil, f.errf("Result", "a Pass state has Result or Parameters, not both")
		}
		st.result, st.hasResult = obj["Result"]
	case typeChoice:
		err = st.compileChoice(f)
	case typeWait:
		err = st.compileWait(f)
	case typeFail:
		err = st.compileFail(f)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// compileFlow reads Next and End: exactly one for Task, Pass and Wait; neither for the others.
func (st *state) compileFlow(f fields) error {
	next, err := f.str("Next", false)
	if err != nil {
		return err
	}
	if v, ok := f.obj["End"]; ok {
		if b, isBool := v.(bool); !isBool || !b {
			return f.errf("End", "must be true when present")
		}
		st.end = true
	}
	switch st.typ {
	case typeTask, typePass, typeWait:
		if f.has("Next") == st.end {
			return f.errf("Next", "a %s state has exactly one of Next and End", st.typ)
		}
		if f.has("Next") && next == "" {
			return f.errf("Next", "must not be empty")
		}
		st.next = next
	}
	return nil
}

func (st *state) compileTask(f fields, handlers map[string]Handler) error {
	t := &taskSpec{}
	var err error
	if t.resource, err = f.str("Resource", true); err != nil {
		return err
	}
	h, ok := handlers[t.resource]
	if !ok || h == nil {
		return f.errf("Resource", "no handler for %q", t.resource)
	}
	t.handler = h
	if f.has("ResultSelector") {
		if t.resultSelector, err = compileTemplate(f, "ResultSelector"); err != nil {
			return err
		}
	}
	if secs, ok, err := f.integer("TimeoutSeconds", 1, 99999999); err != nil {
		return err
	} else if ok {
		t.timeout = time.Duration(secs) * time.Second
	}
	if f.has("Retry") {
		raw, ok := f.obj["Retry"].([]any)
		if !ok {
			return f.errf("Retry", "must be an array")
		}
		for i, v := range raw {
			r, err := compileRetrier(fields{obj: asObject(v), state: st.name, prefix: fmt.Sprintf("Retry[%d].", i)}, i == len(raw)-1)
			if err != nil {
				return err
			}
			t.retry = append(t.retry, r)
		}
	}
	if f.has("Catch") {
		raw, ok := f.obj["Catch"].([]any)
		if !ok {
			return f.errf("Catch", "must be an array")
		}
		for i, v := range raw {
			cf := fields{obj: asObject(v), state: st.name, prefix: fmt.Sprintf("Catch[%d].", i)}
			if cf.obj == nil {
				return f.errf(fmt.Sprintf("Catch[%d]", i), "must be an object")
			}
			if err := cf.only("ErrorEquals", "ResultPath", "Next"); err != nil {
				return err
			}
			var c catcher
			if c.errors, err = cf.errorNames("ErrorEquals"); err != nil {
				return err
			}
			if c.errors[0] == ErrAll && i != len(raw)-1 {
				return cf.errf("ErrorEquals", "States.ALL must be in the last catcher")
			}
			if c.resultPath, c.discard, _, err = cf.refPath("ResultPath", true); err != nil {
				return err
			}
			if c.next, err = cf.str("Next", true); err != nil {
				return err
			}
			t.catch = append(t.catch, c)
		}
		if st.outputPath != nil || f.has("OutputPath") {
			// Not needed by our definitions, and AWS's order for caught errors is not modelled.
			return f.errf("OutputPath", "OutputPath together with Catch is not supported by this interpreter")
		}
	}
	st.task = t
	return nil
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func compileRetrier(f fields, last bool) (retrier, error) {
	r := retrier{interval: time.Second, maxAttempts: 3, backoff: 2}
	if f.obj == nil {
		return r, &LoadError{State: f.state, Field: strings.TrimSuffix(f.prefix, "."), Problem: "must be an object"}
	}
	if err := f.only("ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate"); err != nil {
		return r, err
	}
	var err error
	if r.errors, err = f.errorNames("ErrorEquals"); err != nil {
		return r, err
	}
	if r.errors[0] == ErrAll && !last {
		return r, f.errf("ErrorEquals", "States.ALL must be in the last retrier")
	}
	if v, ok, err := f.integer("IntervalSeconds", 1, 99999999); err != nil {
		return r, err
	} else if ok {
		r.interval = time.Duration(v) * time.Second
	}
	if v, ok, err := f.integer("MaxAttempts", 0, 99999999); err != nil {
		return r, err
	} else if ok {
		r.maxAttempts = int(v)
	}
	if v, ok, err := f.number("BackoffRate"); err != nil {
		return r, err
	} else if ok {
		if v < 1 {
			return r, f.errf("BackoffRate", "must be at least 1.0, not %v", v)
		}
		r.backoff = v
	}
	return r, nil
}

func (st *state) compileWait(f fields) error {
	secs, hasSecs, err := f.integer("Seconds", 0, 99999999)
	if err != nil {
		return err
	}
	p, _, hasPath, err := f.refPath("SecondsPath", false)
	if err != nil {
		return err
	}
	if hasSecs == hasPath {
		return f.errf("Seconds", "a Wait state has exactly one of Seconds and SecondsPath (Timestamp and TimestampPath are not supported by this interpreter)")
	}
	st.seconds, st.secondsPath = secs, p
	return nil
}

func (st *state) compileFail(f fields) error {
	var err error
	if st.errName, err = f.str("Error", false); err != nil {
		return err
	}
	if st.cause, err = f.str("Cause", false); err != nil {
		return err
	}
	if st.errorPath, _, _, err = f.refPath("ErrorPath", false); err != nil {
		return err
	}
	if st.causePath, _, _, err = f.refPath("CausePath", false); err != nil {
		return err
	}
	if f.has("Error") && f.has("ErrorPath") {
		return f.errf("ErrorPath", "a Fail state has Error or ErrorPath, not both")
	}
	if f.has("Cause") && f.has("CausePath") {
		return f.errf("CausePath", "a Fail state has Cause or CausePath, not both")
	}
	return nil
}
