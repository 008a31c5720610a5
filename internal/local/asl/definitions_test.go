package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// These tests run the real definitions in statemachines/ through the interpreter, with the task
// Lambdas replaced by scripted handlers behind the real lambda:invoke and sns:publish
// integrations, and check every path: which states run, how often tasks are retried and how long
// the workflow waits, what the tasks receive, what operators are told, and how it ends.

const (
	confirmArn = "arn:aws:lambda:eu-west-1:123456789012:function:cvs-confirm"
	closeArn   = "arn:aws:lambda:eu-west-1:123456789012:function:cvs-close"
	reopenArn  = "arn:aws:lambda:eu-west-1:123456789012:function:cvs-reopen"
	topicArn   = "arn:aws:sns:eu-west-1:123456789012:cvs-notifications"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC)

func staleEvent() contract.DetectorEvent {
	return contract.DetectorEvent{
		Version:           1,
		Event:             state.HealthStale,
		Cluster:           "news",
		Domain:            "d111111abcdef8.cloudfront.net",
		Region:            "eu-west-1",
		OriginPlaylistURL: "https://origin-eu.example.com/news/index.m3u8",
		Playlists: []contract.PlaylistDetail{{
			URL: "https://origin-eu.example.com/news/720p.m3u8", State: state.HealthStale,
			MediaSequence: 18234, TargetDuration: 6, LastChange: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		}},
		DetectedAt: time.Date(2025, 3, 1, 12, 0, 9, 0, time.UTC),
		StaleForMS: 9000,
		Sequence:   42,
	}
}

func freshEvent() contract.DetectorEvent {
	e := staleEvent()
	e.Event, e.StaleForMS, e.Sequence = state.HealthFresh, 0, 43
	e.Playlists[0].State = state.HealthFresh
	return e
}

// step is one scripted answer of a task: a Lambda service fault (before the function runs), a
// function error, or a result.
type step struct {
	fault  *asl.TaskError
	err    error
	result any
}

// script hands out steps in order; the last one repeats.
type script struct {
	mu    sync.Mutex
	steps []step
	calls int
}

func (s *script) next() step {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.calls, len(s.steps)-1)
	s.calls++
	return s.steps[i]
}

// harness wires scripted functions and a recording SNS publisher into a machine.
type harness struct {
	clock   *asl.VirtualClock
	scripts map[string]*script // by function ARN
	mu      sync.Mutex
	inputs  map[string][]json.RawMessage // what each function received, by ARN
	notes   []asl.SNSMessage
	snsErrs []error // publish errors, in order; then success
}

func newHarness(scripts map[string][]step) *harness {
	h := &harness{clock: asl.NewVirtualClock(t0), scripts: map[string]*script{}, inputs: map[string][]json.RawMessage{}}
	for arn, steps := range scripts {
		h.scripts[arn] = &script{steps: steps}
	}
	return h
}

// function is a typed handler, as the real task Lambdas will be, run through aws-lambda-go's
// own JSON adapter (lambda.NewHandler).
func function[In interface{ Validate() error }](h *harness, arn string) asl.LambdaFunction {
	return lambda.NewHandler(func(ctx context.Context, in In) (any, error) {
		if err := in.Validate(); err != nil {
			return nil, err
		}
		s := h.scripts[arn].next()
		if s.err != nil {
			return nil, s.err
		}
		return s.result, nil
	})
}

func (h *harness) load(t testing.TB, file string) *asl.Machine {
	t.Helper()
	def, err := os.ReadFile(filepath.Join(repoRoot, "statemachines", file))
	if err != nil {
		t.Fatal(err)
	}
	functions := map[string]asl.LambdaFunction{
		confirmArn: function[contract.ConfirmInput](h, confirmArn),
		closeArn:   function[contract.CloseInput](h, closeArn),
		reopenArn:  function[contract.ReopenInput](h, reopenArn),
	}
	for arn := range functions {
		if h.scripts[arn] == nil {
			delete(functions, arn) // a function the scenario does not deploy
		}
	}
	invoke := asl.LambdaInvoke(functions)
	m, err := asl.Load(def, asl.Options{
		Substitutions: map[string]string{
			contract.SubstConfirmFunctionArn:   confirmArn,
			contract.SubstCloseFunctionArn:     closeArn,
			contract.SubstReopenFunctionArn:    reopenArn,
			contract.SubstNotificationTopicArn: topicArn,
			contract.SubstPartition:            "aws",
		},
		Handlers: map[string]asl.Handler{
			asl.ResourceLambdaInvoke: func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
				var req struct {
					FunctionName string
					Payload      json.RawMessage
				}
				if err := json.Unmarshal(in, &req); err != nil {
					return nil, err
				}
				h.mu.Lock()
				h.inputs[req.FunctionName] = append(h.inputs[req.FunctionName], req.Payload)
				h.mu.Unlock()
				if s := h.scripts[req.FunctionName]; s != nil {
					if st := s.peek(); st.fault != nil {
						s.next()
						return nil, st.fault
					}
				}
				return invoke(ctx, in)
			},
			asl.ResourceSNSPublish: asl.SNSPublish(func(ctx context.Context, msg asl.SNSMessage) (string, error) {
				h.mu.Lock()
				defer h.mu.Unlock()
				if len(h.snsErrs) > 0 {
					err := h.snsErrs[0]
					h.snsErrs = h.snsErrs[1:]
					return "", err
				}
				h.notes = append(h.notes, msg)
				return fmt.Sprintf("msg-%d", len(h.notes)), nil
			}),
		},
		Clock:           h.clock,
		StateMachineArn: "arn:aws:states:eu-west-1:123456789012:stateMachine:" + strings.TrimSuffix(file, ".asl.json"),
	})
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	return m
}

func (s *script) peek() step {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.steps[min(s.calls, len(s.steps)-1)]
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// expect is how a path should go.
type expect struct {
	status  asl.Status
	states  []string
	retries map[string]int  // task state -> retries
	sleeps  []time.Duration // Wait states and retry intervals, in order
	// subject, attributes and message of the one notification (message compared as JSON)
	subject string
	attrs   map[string]string
	message map[string]any
	// final output (SUCCEEDED) or error and cause (FAILED)
	output map[string]any
	err    string
	cause  string
}

func check(t *testing.T, h *harness, ex *asl.Execution, want expect) {
	t.Helper()
	if ex.Status != want.status {
		t.Errorf("status %s (%s: %s), want %s", ex.Status, ex.Error, ex.Cause, want.status)
	}
	if diff := cmp.Diff(want.states, ex.StateNames()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	for _, s := range ex.Steps {
		if got, want := s.Retries(), want.retries[s.State]; got != want {
			var errs []string
			for _, a := range s.Attempts {
				errs = append(errs, a.Error)
			}
			t.Errorf("state %s retried %d times, want %d (attempt errors %q)", s.State, got, want, errs)
		}
	}
	if diff := cmp.Diff(want.sleeps, h.clock.Sleeps()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if len(h.notes) != 1 {
		t.Fatalf("%d notifications, want exactly 1: %+v", len(h.notes), h.notes)
	}
	n := h.notes[0]
	if n.TopicArn != topicArn || n.Subject != want.subject {
		t.Errorf("notification to %s with subject %q, want %s and %q", n.TopicArn, n.Subject, topicArn, want.subject)
	}
	if diff := cmp.Diff(want.attrs, n.Attributes); diff != "" {
		t.Errorf("message attributes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(any(want.message), decode(t, []byte(n.Message))); diff != "" {
		t.Errorf("notification message (-want +got):\n%s", diff)
	}
	switch want.status {
	case asl.StatusSucceeded:
		if diff := cmp.Diff(any(want.output), decode(t, ex.Output)); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
	default:
		if ex.Error != want.err || ex.Cause != want.cause {
			t.Errorf("failed with %q / %q, want %q / %q", ex.Error, ex.Cause, want.err, want.cause)
		}
	}
}

// asMap turns a Go value into its generic JSON form, to build expected documents.
func asMap(t testing.TB, v any) map[string]any {
	t.Helper()
	m, ok := decode(t, mustJSON(t, v)).(map[string]any)
	if !ok {
		t.Fatalf("%T is not a JSON object", v)
	}
	return m
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestFailoverPaths(t *testing.T) {
	const execName = "news_d111111abcdef8-cloudfront-net_42_test"
	execArn := "arn:aws:states:eu-west-1:123456789012:execution:failover:" + execName
	ev := staleEvent()
	in := asMap(t, ev)
	probed := time.Date(2025, 3, 1, 12, 0, 11, 0, time.UTC)
	stillStale := contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale, Reason: "media sequence 18234 unchanged for 11.0 s (target duration 6 s)", ProbedAt: probed}
	advancing := contract.ConfirmOutput{Confirmed: false, Health: state.HealthFresh, Reason: "media sequence advanced to 18236", ProbedAt: probed}
	closed := contract.CloseOutput{Closed: true, Changed: true, Reason: "closed; 2 other instances open and healthy"}
	refused := contract.CloseOutput{Refused: true, Reason: "refused to close news/d111111abcdef8.cloudfront.net: no other instance of the cluster is open and healthy"}
	already := contract.CloseOutput{Closed: true, Reason: "already closed by arn:aws:iam::123456789012:user/ops at 2025-03-01T11:58:00Z"}
	skipped := contract.CloseOutput{Skipped: true, Reason: "detector event #42 is not newer than event #44, whose workflow closed at 2025-03-01T12:00:30Z by arn:aws:states:eu-west-1:123456789012:execution:failover:x: a duplicate or out-of-order event changes nothing"}
	throttled := &asl.TaskError{Name: "Lambda.TooManyRequestsException", Cause: "Rate Exceeded. (Service: AWSLambda; Status Code: 429)"}
	serviceDown := &asl.TaskError{Name: "Lambda.ServiceException", Cause: "Internal error (Service: AWSLambda; Status Code: 500)"}
	probeErr := &contract.OriginProbeError{URL: ev.OriginPlaylistURL, Err: errors.New("response larger than 1 MiB")}
	storeErr := &contract.StateStoreError{Op: "close", Err: errors.New("ProvisionedThroughputExceededException")}
	confirmResult := asMap(t, stillStale)
	attrs := map[string]string{"cluster": "news", "region": "eu-west-1"}
	common := map[string]any{
		"cluster": "news", "domain": "d111111abcdef8.cloudfront.net", "region": "eu-west-1",
		"event": "stale", "sequence": 42.0, "execution": execArn,
	}
	closeReason := "detector stale event #42 confirmed: " + stillStale.Reason
	closedMsg := with(common, "outcome", "closed",
		"summary", "Closed d111111abcdef8.cloudfront.net (eu-west-1) of cluster news: players move to the other regions. Why: "+closed.Reason,
		"confirm", confirmResult, "close", asMap(t, closed))
	closedOut := with(in, "confirm", confirmResult, "close", asMap(t, closed),
		"notification", map[string]any{"outcome": "closed", "message_id": "msg-1"})
	failedMsg := func(step, errName, cause string) map[string]any {
		return with(common, "outcome", "failed", "step", step, "error", errName, "cause", cause,
			"summary", "Failover of d111111abcdef8.cloudfront.net (eu-west-1) in cluster news stopped at step "+step+" with "+errName+
				". The distribution was not closed by this execution; check the origin and close it by hand if needed.")
	}
	lambdaCause := func(err error, typ string) string {
		return string(mustJSON(t, map[string]string{"errorMessage": err.Error(), "errorType": typ}))
	}

	tests := []struct {
		name    string
		input   any
		scripts map[string][]step
		snsErrs []error
		want    expect
	}{{
		name:    "confirmed, closed, notified",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{result: stillStale}}, closeArn: {{result: closed}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyClosed"},
			subject: "CVS failover: distribution closed", attrs: with2(attrs, "outcome", "closed"),
			message: closedMsg, output: closedOut,
		},
	}, {
		name:    "false alarm: origin fresh again, nothing closed",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{result: advancing}}, closeArn: {{result: closed}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "NotifyFalseAlarm"},
			subject: "CVS failover: false alarm, nothing changed", attrs: with2(attrs, "outcome", "false_alarm"),
			message: with(common, "outcome", "false_alarm", "confirm", asMap(t, advancing),
				"summary", "False alarm for d111111abcdef8.cloudfront.net (eu-west-1) of cluster news: the confirming probe found the origin fresh: media sequence advanced to 18236. Nothing was changed."),
			output: with(in, "confirm", asMap(t, advancing), "notification", map[string]any{"outcome": "false_alarm", "message_id": "msg-1"}),
		},
	}, {
		name:    "guard refuses to close the last healthy instance",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{result: stillStale}}, closeArn: {{result: refused}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyRefused"},
			subject: "CVS failover: close refused, action needed", attrs: with2(attrs, "outcome", "refused"),
			message: with(common, "outcome", "refused", "confirm", confirmResult, "close", asMap(t, refused),
				"summary", "Did not close d111111abcdef8.cloudfront.net (eu-west-1) of cluster news although its origin is stale: "+refused.Reason+". Viewers on it may stall; an operator must act."),
			output: with(in, "confirm", confirmResult, "close", asMap(t, refused), "notification", map[string]any{"outcome": "refused", "message_id": "msg-1"}),
		},
	}, {
		name:    "duplicate event skipped: routine notice, nothing changed",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{result: stillStale}}, closeArn: {{result: skipped}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifySkipped"},
			subject: "CVS failover: event skipped, nothing changed", attrs: with2(attrs, "outcome", "skipped"),
			message: with(common, "outcome", "skipped", "confirm", confirmResult, "close", asMap(t, skipped),
				"summary", "Skipped detector stale event #42 for d111111abcdef8.cloudfront.net (eu-west-1) of cluster news: "+skipped.Reason+". Nothing was changed."),
			output: with(in, "confirm", confirmResult, "close", asMap(t, skipped), "notification", map[string]any{"outcome": "skipped", "message_id": "msg-1"}),
		},
	}, {
		name:    "already closed by an operator",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{result: stillStale}}, closeArn: {{result: already}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyAlreadyClosed"},
			subject: "CVS failover: distribution was already closed", attrs: with2(attrs, "outcome", "already_closed"),
			message: with(common, "outcome", "already_closed", "confirm", confirmResult, "close", asMap(t, already),
				"summary", "d111111abcdef8.cloudfront.net (eu-west-1) of cluster news was already closed; nothing was changed: "+already.Reason),
			output: with(in, "confirm", confirmResult, "close", asMap(t, already), "notification", map[string]any{"outcome": "already_closed", "message_id": "msg-1"}),
		},
	}, {
		name:    "Lambda throttling retried with backoff, then closed",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{fault: throttled}, {fault: throttled}, {result: stillStale}}, closeArn: {{result: closed}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyClosed"},
			retries: map[string]int{"Confirm": 2},
			sleeps:  []time.Duration{time.Second, 2 * time.Second},
			subject: "CVS failover: distribution closed", attrs: with2(attrs, "outcome", "closed"),
			message: closedMsg, output: closedOut,
		},
	}, {
		name:    "Lambda service errors exhaust 3 retries, then notify and fail",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{fault: serviceDown}}, closeArn: {{result: closed}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "Confirm", "ConfirmFailed", "NotifyFailure", "Failed"},
			retries: map[string]int{"Confirm": 3},
			sleeps:  []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			subject: "CVS failover failed, action needed", attrs: with2(attrs, "outcome", "failed"),
			message: failedMsg("Confirm", serviceDown.Name, serviceDown.Cause),
			err:     serviceDown.Name, cause: serviceDown.Cause,
		},
	}, {
		name:    "origin probe error retried once, then notify and fail",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{err: probeErr}}, closeArn: {{result: closed}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "Confirm", "ConfirmFailed", "NotifyFailure", "Failed"},
			retries: map[string]int{"Confirm": 1},
			sleeps:  []time.Duration{time.Second},
			subject: "CVS failover failed, action needed", attrs: with2(attrs, "outcome", "failed"),
			message: failedMsg("Confirm", contract.ErrNameOriginProbe, lambdaCause(probeErr, "OriginProbeError")),
			err:     contract.ErrNameOriginProbe, cause: lambdaCause(probeErr, "OriginProbeError"),
		},
	}, {
		name:    "state store error on close retried twice, then notify and fail",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{result: stillStale}}, closeArn: {{err: storeErr}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseFailed", "NotifyFailure", "Failed"},
			retries: map[string]int{"Close": 2},
			sleeps:  []time.Duration{time.Second, 2 * time.Second},
			subject: "CVS failover failed, action needed", attrs: with2(attrs, "outcome", "failed"),
			message: failedMsg("Close", contract.ErrNameStateStore, lambdaCause(storeErr, "StateStoreError")),
			err:     contract.ErrNameStateStore, cause: lambdaCause(storeErr, "StateStoreError"),
		},
	}, {
		name:    "invalid event refused by Confirm: not retried",
		input:   with(in, "playlists", []any{}),
		scripts: map[string][]step{confirmArn: {{result: stillStale}}, closeArn: {{result: closed}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "Confirm", "ConfirmFailed", "NotifyFailure", "Failed"},
			subject: "CVS failover failed, action needed", attrs: with2(attrs, "outcome", "failed"),
			message: failedMsg("Confirm", contract.ErrNameInvalidInput, `{"errorMessage":"invalid confirm input: event.playlists: is empty, want at least one","errorType":"InvalidInputError"}`),
			err:     contract.ErrNameInvalidInput, cause: `{"errorMessage":"invalid confirm input: event.playlists: is empty, want at least one","errorType":"InvalidInputError"}`,
		},
	}, {
		name:    "Close returns none of closed, skipped and refused",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{result: stillStale}}, closeArn: {{result: contract.CloseOutput{Reason: "?"}}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "UnexpectedCloseResult", "CloseFailed", "NotifyFailure", "Failed"},
			subject: "CVS failover failed, action needed", attrs: with2(attrs, "outcome", "failed"),
			message: failedMsg("Close", "UnexpectedCloseResult", "the Close task returned none of closed=true, skipped=true and refused=true"),
			err:     "UnexpectedCloseResult", cause: "the Close task returned none of closed=true, skipped=true and refused=true",
		},
	}, {
		name:    "Confirm function not deployed",
		input:   ev,
		scripts: map[string][]step{closeArn: {{result: closed}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "Confirm", "ConfirmFailed", "NotifyFailure", "Failed"},
			subject: "CVS failover failed, action needed", attrs: with2(attrs, "outcome", "failed"),
			message: failedMsg("Confirm", "Lambda.ResourceNotFoundException", "Function not found: "+confirmArn),
			err:     "Lambda.ResourceNotFoundException", cause: "Function not found: " + confirmArn,
		},
	}, {
		name:    "input that is not a detector event",
		input:   map[string]any{"cluster": "news", "hello": "world"},
		scripts: map[string][]step{confirmArn: {{result: stillStale}}, closeArn: {{result: closed}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "InvalidInput", "NotifyInvalidInput", "Failed"},
			subject: "CVS failover failed: invalid input", attrs: map[string]string{"outcome": "failed"},
			message: map[string]any{
				"outcome": "failed", "error": "InvalidInputError",
				"cause":     "the execution input is not a detector event: cluster, domain, region, event and sequence are required",
				"summary":   "The failover workflow was started with an input that is not a detector event. Nothing was changed.",
				"input":     map[string]any{"cluster": "news", "hello": "world"},
				"execution": execArn,
			},
			err:   "InvalidInputError",
			cause: "the execution input is not a detector event: cluster, domain, region, event and sequence are required",
		},
	}, {
		name:    "SNS throttled twice, then notified",
		input:   ev,
		scripts: map[string][]step{confirmArn: {{result: advancing}}, closeArn: {{result: closed}}},
		snsErrs: []error{&asl.TaskError{Name: "SNS.ThrottledException", Cause: "Rate exceeded"}, &asl.TaskError{Name: "SNS.ThrottledException", Cause: "Rate exceeded"}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "NotifyFalseAlarm"},
			retries: map[string]int{"NotifyFalseAlarm": 2},
			sleeps:  []time.Duration{time.Second, 2 * time.Second},
			subject: "CVS failover: false alarm, nothing changed", attrs: with2(attrs, "outcome", "false_alarm"),
			message: with(common, "outcome", "false_alarm", "confirm", asMap(t, advancing),
				"summary", "False alarm for d111111abcdef8.cloudfront.net (eu-west-1) of cluster news: the confirming probe found the origin fresh: media sequence advanced to 18236. Nothing was changed."),
			output: with(in, "confirm", asMap(t, advancing), "notification", map[string]any{"outcome": "false_alarm", "message_id": "msg-1"}),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(tt.scripts)
			h.snsErrs = tt.snsErrs
			m := h.load(t, "failover.asl.json")
			ex, err := m.Run(context.Background(), execName, mustJSON(t, tt.input))
			if err != nil {
				t.Fatal(err)
			}
			if ex.ARN != execArn {
				t.Errorf("execution ARN %s, want %s", ex.ARN, execArn)
			}
			check(t, h, ex, tt.want)

			// Every Confirm call got this event in stale mode; every Close call the confirmed
			// reason and this execution as the one making the change.
			for _, raw := range h.inputs[confirmArn] {
				var got contract.ConfirmInput
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				want := contract.ConfirmInput{Mode: contract.ConfirmStale}
				_ = json.Unmarshal(mustJSON(t, tt.input), &want.Event)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Confirm input (-want +got):\n%s", diff)
				}
			}
			for _, raw := range h.inputs[closeArn] {
				var got contract.CloseInput
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				want := contract.CloseInput{Cluster: "news", Domain: ev.Domain, Reason: closeReason, ChangedBy: execArn, Sequence: 42}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Close input (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func with2(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range m {
		out[kk] = vv
	}
	return out
}

func TestFailoverTaskTimeoutIsRetried(t *testing.T) {
	// The first Confirm invocation hangs past the state's 20 s TimeoutSeconds: States.Timeout,
	// retried after 1 s; the second answers.
	stillStale := contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale, Reason: "unchanged", ProbedAt: t0}
	h := newHarness(map[string][]step{closeArn: {{result: contract.CloseOutput{Closed: true, Changed: true, Reason: "closed"}}}})
	var calls int
	hang := lambda.NewHandler(func(ctx context.Context, in contract.ConfirmInput) (contract.ConfirmOutput, error) {
		calls++ // invocations are sequential
		if calls == 1 {
			h.clock.Advance(21 * time.Second)
			<-ctx.Done() // cancelled when the interpreter gives up on it
			return contract.ConfirmOutput{}, ctx.Err()
		}
		return stillStale, nil
	})
	def, err := os.ReadFile(filepath.Join(repoRoot, "statemachines", "failover.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := asl.Load(def, asl.Options{
		Substitutions: map[string]string{"ConfirmFunctionArn": confirmArn, "CloseFunctionArn": closeArn, "NotificationTopicArn": topicArn, "Partition": "aws"},
		Handlers: map[string]asl.Handler{
			asl.ResourceLambdaInvoke: asl.LambdaInvoke(map[string]asl.LambdaFunction{confirmArn: hang, closeArn: function[contract.CloseInput](h, closeArn)}),
			asl.ResourceSNSPublish: asl.SNSPublish(func(ctx context.Context, msg asl.SNSMessage) (string, error) {
				h.notes = append(h.notes, msg)
				return "m", nil
			}),
		},
		Clock: h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := m.Run(context.Background(), "timeout", mustJSON(t, staleEvent()))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != asl.StatusSucceeded {
		t.Fatalf("status %s %s %s", ex.Status, ex.Error, ex.Cause)
	}
	confirm := ex.Steps[1]
	if got, want := len(confirm.Attempts), 2; got != want {
		t.Fatalf("Confirm attempts %d, want %d", got, want)
	}
	if got := confirm.Attempts[0].Error; got != asl.ErrTimeout {
		t.Errorf("first attempt error %q, want States.Timeout", got)
	}
	if got, want := confirm.Attempts[0].Ended.Sub(confirm.Attempts[0].Started), 21*time.Second; got != want {
		t.Errorf("first attempt took %v of virtual time, want %v", got, want)
	}
	if diff := cmp.Diff([]time.Duration{time.Second}, h.clock.Sleeps()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if got := decode(t, []byte(h.notes[0].Message)).(map[string]any)["outcome"]; got != "closed" {
		t.Errorf("outcome %v, want closed", got)
	}
}

func TestFailoverNotificationFailure(t *testing.T) {
	// The topic is gone: SNS.NotFoundException is not retried, nobody can be told, and the
	// execution fails with the SNS error although the distribution was closed.
	h := newHarness(map[string][]step{
		confirmArn: {{result: contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale, Reason: "unchanged", ProbedAt: t0}}},
		closeArn:   {{result: contract.CloseOutput{Closed: true, Changed: true, Reason: "closed"}}},
	})
	notFound := &asl.TaskError{Name: "SNS.NotFoundException", Cause: "Topic does not exist"}
	h.snsErrs = []error{notFound}
	m := h.load(t, "failover.asl.json")
	ex, err := m.Run(context.Background(), "no-topic", mustJSON(t, staleEvent()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyClosed", "NotificationFailed"}, ex.StateNames()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if ex.Status != asl.StatusFailed || ex.Error != notFound.Name || ex.Cause != notFound.Cause {
		t.Errorf("ended %s %q %q, want FAILED with the SNS error", ex.Status, ex.Error, ex.Cause)
	}
	if n := ex.Steps[5]; n.Retries() != 0 {
		t.Errorf("NotifyClosed retried %d times, want 0 for SNS.NotFoundException", n.Retries())
	}
	if got := h.scripts[closeArn].calls; got != 1 {
		t.Errorf("Close ran %d times, want 1", got)
	}
}

func TestFailbackPaths(t *testing.T) {
	const execName = "news_d111111abcdef8-cloudfront-net_43_test"
	execArn := "arn:aws:states:eu-west-1:123456789012:execution:failback:" + execName
	ev := freshEvent()
	input := contract.FailbackInput{DetectorEvent: ev, HoldDownSeconds: 300}
	in := asMap(t, input)
	probed := t0.Add(5 * time.Minute)
	fresh := contract.ConfirmOutput{Confirmed: true, Health: state.HealthFresh, Reason: "advancing, and fresh since 2025-03-01T12:00:09Z", ProbedAt: probed}
	notFresh := contract.ConfirmOutput{Confirmed: false, Health: state.HealthStale, Reason: "went stale again at 12:03:10 during the hold-down", ProbedAt: probed}
	opened := contract.ReopenOutput{Opened: true, Changed: true, Reason: "reopened"}
	refused := contract.ReopenOutput{Refused: true, Reason: "closed by arn:aws:iam::123456789012:user/ops, not by the failover workflow"}
	skipped := contract.ReopenOutput{Skipped: true, Reason: "detector event #43 is not newer than event #46, whose workflow closed at 2025-03-01T12:15:01Z by arn:aws:states:eu-west-1:123456789012:execution:failover:x: a duplicate or out-of-order event changes nothing"}
	attrs := map[string]string{"cluster": "news", "region": "eu-west-1"}
	common := map[string]any{
		"cluster": "news", "domain": ev.Domain, "region": "eu-west-1",
		"event": "fresh", "sequence": 43.0, "execution": execArn,
	}
	hold := []time.Duration{300 * time.Second}
	reopenReason := "origin fresh through a 300-second hold-down after detector fresh event #43: " + fresh.Reason

	tests := []struct {
		name    string
		input   any
		scripts map[string][]step
		want    expect
	}{{
		name:    "hold-down, still fresh, reopened",
		input:   input,
		scripts: map[string][]step{confirmArn: {{result: fresh}}, reopenArn: {{result: opened}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "NotifyReopened"},
			sleeps:  hold,
			subject: "CVS failback: distribution reopened", attrs: with2(attrs, "outcome", "reopened"),
			message: with(common, "outcome", "reopened", "confirm", asMap(t, fresh), "reopen", asMap(t, opened),
				"summary", "Reopened d111111abcdef8.cloudfront.net (eu-west-1) of cluster news. Why: reopened"),
			output: with(in, "confirm", asMap(t, fresh), "reopen", asMap(t, opened), "notification", map[string]any{"outcome": "reopened", "message_id": "msg-1"}),
		},
	}, {
		name:    "hold-down, not fresh any more: stays closed",
		input:   input,
		scripts: map[string][]step{confirmArn: {{result: notFresh}}, reopenArn: {{result: opened}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "NotifyNotFresh"},
			sleeps:  hold,
			subject: "CVS failback: skipped, origin not fresh", attrs: with2(attrs, "outcome", "not_fresh"),
			message: with(common, "outcome", "not_fresh", "confirm", asMap(t, notFresh),
				"summary", "Did not reopen d111111abcdef8.cloudfront.net (eu-west-1) of cluster news: after the 300-second hold-down the probe found the origin stale: "+notFresh.Reason+". It stays closed until the next fresh event."),
			output: with(in, "confirm", asMap(t, notFresh), "notification", map[string]any{"outcome": "not_fresh", "message_id": "msg-1"}),
		},
	}, {
		name:    "reopen refused: an operator closed it",
		input:   input,
		scripts: map[string][]step{confirmArn: {{result: fresh}}, reopenArn: {{result: refused}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "NotifyReopenRefused"},
			sleeps:  hold,
			subject: "CVS failback: reopen refused", attrs: with2(attrs, "outcome", "reopen_refused"),
			message: with(common, "outcome", "reopen_refused", "confirm", asMap(t, fresh), "reopen", asMap(t, refused),
				"summary", "Did not reopen d111111abcdef8.cloudfront.net (eu-west-1) of cluster news although its origin is fresh: "+refused.Reason+". An operator may reopen it."),
			output: with(in, "confirm", asMap(t, fresh), "reopen", asMap(t, refused), "notification", map[string]any{"outcome": "reopen_refused", "message_id": "msg-1"}),
		},
	}, {
		name:    "late fresh event skipped: routine notice, nothing changed",
		input:   input,
		scripts: map[string][]step{confirmArn: {{result: fresh}}, reopenArn: {{result: skipped}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "NotifyReopenSkipped"},
			sleeps:  hold,
			subject: "CVS failback: event skipped, nothing changed", attrs: with2(attrs, "outcome", "reopen_skipped"),
			message: with(common, "outcome", "reopen_skipped", "confirm", asMap(t, fresh), "reopen", asMap(t, skipped),
				"summary", "Skipped detector fresh event #43 for d111111abcdef8.cloudfront.net (eu-west-1) of cluster news: "+skipped.Reason+". Nothing was changed."),
			output: with(in, "confirm", asMap(t, fresh), "reopen", asMap(t, skipped), "notification", map[string]any{"outcome": "reopen_skipped", "message_id": "msg-1"}),
		},
	}, {
		name:    "already open",
		input:   input,
		scripts: map[string][]step{confirmArn: {{result: fresh}}, reopenArn: {{result: contract.ReopenOutput{Opened: true, Reason: "already open"}}}},
		want: expect{
			status:  asl.StatusSucceeded,
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "NotifyAlreadyOpen"},
			sleeps:  hold,
			subject: "CVS failback: distribution was already open", attrs: with2(attrs, "outcome", "already_open"),
			message: with(common, "outcome", "already_open", "confirm", asMap(t, fresh), "reopen", map[string]any{"opened": true, "changed": false, "skipped": false, "refused": false, "reason": "already open"},
				"summary", "d111111abcdef8.cloudfront.net (eu-west-1) of cluster news was already open; nothing was changed: already open"),
			output: with(in, "confirm", asMap(t, fresh), "reopen", map[string]any{"opened": true, "changed": false, "skipped": false, "refused": false, "reason": "already open"},
				"notification", map[string]any{"outcome": "already_open", "message_id": "msg-1"}),
		},
	}, {
		name:    "reopen store error: retried twice, notify and fail",
		input:   input,
		scripts: map[string][]step{confirmArn: {{result: fresh}}, reopenArn: {{err: &contract.StateStoreError{Op: "reopen", Err: errors.New("timeout")}}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenFailed", "NotifyFailure", "Failed"},
			retries: map[string]int{"Reopen": 2},
			sleeps:  []time.Duration{300 * time.Second, time.Second, 2 * time.Second},
			subject: "CVS failback failed", attrs: with2(attrs, "outcome", "failed"),
			message: with(common, "outcome", "failed", "step", "Reopen", "error", "StateStoreError",
				"cause", `{"errorMessage":"state store reopen: timeout","errorType":"StateStoreError"}`,
				"summary", "Failback of d111111abcdef8.cloudfront.net (eu-west-1) in cluster news stopped at step Reopen with StateStoreError. The distribution was not reopened by this execution; an operator may reopen it."),
			err: "StateStoreError", cause: `{"errorMessage":"state store reopen: timeout","errorType":"StateStoreError"}`,
		},
	}, {
		name:    "stale event given to failback: Confirm refuses it",
		input:   contract.FailbackInput{DetectorEvent: staleEvent(), HoldDownSeconds: 0},
		scripts: map[string][]step{confirmArn: {{result: fresh}}, reopenArn: {{result: opened}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "ReprobeFailed", "NotifyFailure", "Failed"},
			sleeps:  []time.Duration{0},
			subject: "CVS failback failed", attrs: with2(attrs, "outcome", "failed"),
			message: with(common, "outcome", "failed", "step", "Reprobe", "error", "InvalidInputError", "event", "stale", "sequence", 42.0,
				"cause", `{"errorMessage":"invalid confirm input: event.event: is \"stale\"; fresh mode confirms fresh events only","errorType":"InvalidInputError"}`,
				"summary", "Failback of d111111abcdef8.cloudfront.net (eu-west-1) in cluster news stopped at step Reprobe with InvalidInputError. The distribution was not reopened by this execution; an operator may reopen it."),
			err: "InvalidInputError", cause: `{"errorMessage":"invalid confirm input: event.event: is \"stale\"; fresh mode confirms fresh events only","errorType":"InvalidInputError"}`,
		},
	}, {
		name:    "Reopen returns none of opened, skipped and refused",
		input:   input,
		scripts: map[string][]step{confirmArn: {{result: fresh}}, reopenArn: {{result: contract.ReopenOutput{Reason: "?"}}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "UnexpectedReopenResult", "ReopenFailed", "NotifyFailure", "Failed"},
			sleeps:  hold,
			subject: "CVS failback failed", attrs: with2(attrs, "outcome", "failed"),
			message: with(common, "outcome", "failed", "step", "Reopen", "error", "UnexpectedReopenResult",
				"cause", "the Reopen task returned none of opened=true, skipped=true and refused=true",
				"summary", "Failback of d111111abcdef8.cloudfront.net (eu-west-1) in cluster news stopped at step Reopen with UnexpectedReopenResult. The distribution was not reopened by this execution; an operator may reopen it."),
			err: "UnexpectedReopenResult", cause: "the Reopen task returned none of opened=true, skipped=true and refused=true",
		},
	}, {
		name:    "input without hold_down_seconds",
		input:   map[string]any{"detector_event": ev},
		scripts: map[string][]step{confirmArn: {{result: fresh}}, reopenArn: {{result: opened}}},
		want: expect{
			status:  asl.StatusFailed,
			states:  []string{"CheckInput", "InvalidInput", "NotifyInvalidInput", "Failed"},
			subject: "CVS failback failed: invalid input", attrs: map[string]string{"outcome": "failed"},
			message: map[string]any{
				"outcome": "failed", "error": "InvalidInputError",
				"cause":     "the execution input is not a failback request: hold_down_seconds and detector_event with cluster, domain, region, event and sequence are required",
				"summary":   "The failback workflow was started with an input that is not a failback request. Nothing was changed.",
				"input":     asMap(t, map[string]any{"detector_event": ev}),
				"execution": execArn,
			},
			err:   "InvalidInputError",
			cause: "the execution input is not a failback request: hold_down_seconds and detector_event with cluster, domain, region, event and sequence are required",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(tt.scripts)
			m := h.load(t, "failback.asl.json")
			ex, err := m.Run(context.Background(), execName, mustJSON(t, tt.input))
			if err != nil {
				t.Fatal(err)
			}
			check(t, h, ex, tt.want)
			for _, raw := range h.inputs[reopenArn] {
				var got contract.ReopenInput
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				want := contract.ReopenInput{Cluster: "news", Domain: ev.Domain, Reason: reopenReason, ChangedBy: execArn, Sequence: 43}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Reopen input (-want +got):\n%s", diff)
				}
			}
			for _, raw := range h.inputs[confirmArn] {
				var got contract.ConfirmInput
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				if got.Mode != contract.ConfirmFresh {
					t.Errorf("Reprobe asked Confirm in mode %q, want fresh", got.Mode)
				}
			}
		})
	}
}

// TestTaskOutputsHaveEveryFieldTheDefinitionsSelect: a ResultSelector path that the task's
// output lacks is an uncatchable States.Runtime error, so every $.Payload.<field> a definition
// selects must be in the JSON of the task's output type even at its zero value.
func TestTaskOutputsHaveEveryFieldTheDefinitionsSelect(t *testing.T) {
	outputs := map[string]any{
		"${" + contract.SubstConfirmFunctionArn + "}": contract.ConfirmOutput{},
		"${" + contract.SubstCloseFunctionArn + "}":   contract.CloseOutput{},
		"${" + contract.SubstReopenFunctionArn + "}":  contract.ReopenOutput{},
	}
	payloadField := regexp.MustCompile(`^\$\.Payload\.([a-z_]+)$`)
	for _, file := range []string{"failover.asl.json", "failback.asl.json"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "statemachines", file))
		if err != nil {
			t.Fatal(err)
		}
		var def struct {
			States map[string]struct {
				Resource       string
				Parameters     struct{ FunctionName string }
				ResultSelector map[string]any
			}
		}
		if err := json.Unmarshal(b, &def); err != nil {
			t.Fatal(err)
		}
		checked := 0
		for name, st := range def.States {
			if strings.ReplaceAll(st.Resource, "${"+contract.SubstPartition+"}", "aws") != asl.ResourceLambdaInvoke {
				continue
			}
			out, ok := outputs[st.Parameters.FunctionName]
			if !ok {
				t.Errorf("%s %s invokes %q, a function this test does not know", file, name, st.Parameters.FunctionName)
				continue
			}
			have := asMap(t, out)
			for key, v := range st.ResultSelector {
				path, _ := v.(string)
				m := payloadField.FindStringSubmatch(path)
				if !strings.HasSuffix(key, ".$") || m == nil {
					t.Errorf("%s %s selects %s: %v, not a $.Payload field", file, name, key, v)
					continue
				}
				if _, ok := have[m[1]]; !ok {
					t.Errorf("%s %s selects %s, which %T leaves out of its JSON", file, name, path, out)
				}
				checked++
			}
		}
		if checked == 0 {
			t.Errorf("%s: no task output field checked", file)
		}
	}
}

func TestDefinitionsAreSmall(t *testing.T) {
	// Task results are trimmed by ResultSelector: the state data of the longest path stays small
	// (Step Functions allows 256 KiB; this keeps it well under 4 KiB for a one-playlist event).
	h := newHarness(map[string][]step{
		confirmArn: {{result: contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale, Reason: "unchanged", ProbedAt: t0}}},
		closeArn:   {{result: contract.CloseOutput{Closed: true, Changed: true, Reason: "closed"}}},
	})
	ex, err := h.load(t, "failover.asl.json").Run(context.Background(), "size", mustJSON(t, staleEvent()))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ex.Steps {
		if len(s.Output) > 4096 {
			t.Errorf("state %s output is %d bytes", s.State, len(s.Output))
		}
	}
	if len(ex.Output) == 0 {
		t.Fatal("no output")
	}
}

func BenchmarkLoadFailover(b *testing.B) {
	def, err := os.ReadFile(filepath.Join(repoRoot, "statemachines", "failover.asl.json"))
	if err != nil {
		b.Fatal(err)
	}
	handlers := map[string]asl.Handler{asl.ResourceLambdaInvoke: echo, asl.ResourceSNSPublish: echo}
	subs := map[string]string{"ConfirmFunctionArn": confirmArn, "CloseFunctionArn": closeArn, "NotificationTopicArn": topicArn, "Partition": "aws"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := asl.Load(def, asl.Options{Substitutions: subs, Handlers: handlers}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunFailoverClosed measures one whole execution of the longest successful path
// (confirm, close, notify) with in-process functions behind the lambda:invoke and sns:publish
// integrations: the interpreter's overhead in the local runtime's failover timeline.
func BenchmarkRunFailoverClosed(b *testing.B) {
	h := newHarness(map[string][]step{
		confirmArn: {{result: contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale, Reason: "unchanged", ProbedAt: t0}}},
		closeArn:   {{result: contract.CloseOutput{Closed: true, Changed: true, Reason: "closed"}}},
	})
	m := h.load(b, "failover.asl.json")
	input := mustJSON(b, staleEvent())
	b.ReportAllocs()
	for b.Loop() {
		ex, err := m.Run(context.Background(), "bench", input)
		if err != nil || ex.Status != asl.StatusSucceeded {
			b.Fatalf("%v %+v", err, ex)
		}
		h.notes = h.notes[:0]
	}
}

func TestConcurrentExecutions(t *testing.T) {
	// One loaded machine runs many executions at once (the local runtime gets events from
	// several regions); -race checks that they share nothing mutable.
	h := newHarness(map[string][]step{
		confirmArn: {{result: contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale, Reason: "unchanged", ProbedAt: t0}}},
		closeArn:   {{result: contract.CloseOutput{Closed: true, Changed: true, Reason: "closed"}}},
	})
	m := h.load(t, "failover.asl.json")
	const n = 8
	var wg sync.WaitGroup
	results := make([]*asl.Execution, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := staleEvent()
			ev.Sequence = int64(100 + i)
			ex, err := m.Run(context.Background(), contract.ExecutionName(ev), mustJSON(t, ev))
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = ex
		}()
	}
	wg.Wait()
	for i, ex := range results {
		if ex == nil || ex.Status != asl.StatusSucceeded {
			t.Fatalf("execution %d: %+v", i, ex)
		}
		out := decode(t, ex.Output).(map[string]any)
		if got, want := out["sequence"], float64(100+i); got != want {
			t.Errorf("execution %d output has sequence %v, want %v", i, got, want)
		}
	}
	if got := len(h.notes); got != n {
		t.Errorf("%d notifications, want %d", got, n)
	}
}

// repoRoot is the repository root, three folders up from this package.
var repoRoot = filepath.Join("..", "..", "..")
