package trigger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	awssfn "github.com/clustered-video-streams/cvs/internal/aws/sfn"
	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/execution"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/trigger"
)

// noStarts fails the test if the trigger tries to start anything. (Starting executions is
// checked on the wire against moto_server in tests/failover_trigger_test.go.)
type noStarts struct{ t *testing.T }

func (n noStarts) Start(ctx context.Context, arn, name string, input []byte) (execution.Result, error) {
	n.t.Errorf("Start(%s, %s) for a message that must start nothing", arn, name)
	return execution.Result{Outcome: execution.Started}, nil
}

func TestNewRefusesBadConfig(t *testing.T) {
	ok := trigger.Config{SFN: noStarts{t}, FailoverArn: "arn:aws:states:us-east-1:1:stateMachine:f"}
	tests := []struct {
		name string
		edit func(c *trigger.Config)
		want string
	}{
		{"no client", func(c *trigger.Config) { c.SFN = nil }, "no Step Functions client"},
		{"no failover machine", func(c *trigger.Config) { c.FailoverArn = "" }, "no failover state machine"},
		{"negative hold-down", func(c *trigger.Config) { c.HoldDown = -time.Second }, "hold-down -1s"},
		{"fractional hold-down", func(c *trigger.Config) { c.HoldDown = 1500 * time.Millisecond }, "whole number of seconds"},
		{"hold-down over a day", func(c *trigger.Config) { c.HoldDown = 25 * time.Hour }, "hold-down 25h0m0s"},
		{"dead-letter client without a queue", func(c *trigger.Config) { c.DeadLetters = &deadLetters{} }, "both its client and its URL"},
		{"dead-letter queue without a client", func(c *trigger.Config) { c.DeadLetterQueueURL = "https://sqs.example/q" }, "both its client and its URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if _, err := trigger.New(c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if _, err := trigger.New(ok); err != nil {
		t.Fatalf("New(valid config) = %v", err)
	}
}

func sample(t *testing.T, name string) events.SNSEventRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var e events.SNSEvent
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e.Records[0]
}

func TestMessagesThatStartNothing(t *testing.T) {
	ended := sample(t, "trigger-stale")
	ended.SNS.Message = strings.Replace(ended.SNS.Message, `"event":"stale"`, `"event":"ended"`, 1)
	notJSON := sample(t, "trigger-stale")
	notJSON.SNS.Message = "stale!"
	edit := func(from, to string) events.SNSEventRecord {
		r := sample(t, "trigger-stale")
		if !strings.Contains(r.SNS.Message, from) {
			t.Fatalf("trigger-stale.json's message has no %q", from)
		}
		r.SNS.Message = strings.Replace(r.SNS.Message, from, to, 1)
		return r
	}
	tests := []struct {
		name   string
		record events.SNSEventRecord
		want   trigger.Outcome
		log    string
	}{
		{"malformed event", sample(t, "trigger-malformed"), trigger.Dropped, "version: is 2, want 1"},
		{"not JSON", notJSON, trigger.Dropped, "is not valid JSON at byte 1"},
		{"cluster in capitals", edit(`"cluster":`, `"CLUSTER":`), trigger.Dropped, `unknown field \"CLUSTER\"`},
		{"cluster twice in two cases", edit(`"cluster":`, `"Cluster":"other","cluster":`), trigger.Dropped, `unknown field \"Cluster\"`},
		{"cluster twice", edit(`"cluster":`, `"cluster":"other","cluster":`), trigger.Dropped, `duplicate field \"cluster\"`},
		{"a field this trigger does not know", edit(`"cluster":`, `"encoder":"enc-1","cluster":`), trigger.Dropped, `unknown field \"encoder\"`},
		{"sequence from the future", edit(`"sequence":42`, `"sequence":9223372036854775807`), trigger.Dropped, "sequence: is 9223372036854775807, more than 5m0s ahead of now"},
		{"ended stream", ended, trigger.Ignored, "an ended stream needs no failover"},
		{"fresh with failback disabled", sample(t, "trigger-fresh"), trigger.Ignored, "failback is disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h, err := trigger.New(trigger.Config{SFN: noStarts{t}, FailoverArn: "arn:aws:states:us-east-1:1:stateMachine:f",
				Log: slogJSON(&logs)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.HandleRecord(context.Background(), tt.record)
			if err != nil || got != tt.want {
				t.Fatalf("HandleRecord = %s, %v; want %s, nil", got, err, tt.want)
			}
			if !strings.Contains(logs.String(), tt.log) || !strings.Contains(logs.String(), tt.record.SNS.MessageID) {
				t.Errorf("log %q does not say %q for message %s", logs.String(), tt.log, tt.record.SNS.MessageID)
			}
		})
	}
}

func slogJSON(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// sfnServer is a wire-level stand-in for the Step Functions API (AWS JSON 1.0) whose
// StartExecution answers with the given HTTP status and error type ("" : success).
func sfnServer(t *testing.T, status int, errType string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Amz-Target"); got != "AWSStepFunctions.StartExecution" {
			t.Errorf("called %s, want StartExecution", got)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if errType == "" {
			fmt.Fprint(w, `{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:f:x","startDate":1.7e9}`)
			return
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.states#%s","message":"%s from the stand-in"}`, errType, errType)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// sfnClient is a real Step Functions client pointed at endpoint, without the SDK's own retries
// (Lambda's are what this tests).
func sfnClient(endpoint string) execution.Starter {
	return awssfn.New(sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testenv.DummyAccessKeyID, testenv.DummySecretAccessKey, "")}))
}

// deadLetters records the bodies the handler sends to its dead-letter queue; err, when set, is
// every send's answer. (The SQS wire itself is checked against moto in tests/.)
type deadLetters struct {
	mu   sync.Mutex
	sent []string
	err  error
}

func (d *deadLetters) Send(ctx context.Context, body string, delay time.Duration) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, body)
	if d.err != nil {
		return "", d.err
	}
	return "m-1", nil
}

// TestOnlyTransientFailuresAreRetried: Handle returns an error, which makes Lambda retry the
// delivery (and dead-letter it once its retries are spent), only for failures a retry may mend.
// What no retry mends is dead-lettered at once and not returned.
func TestOnlyTransientFailuresAreRetried(t *testing.T) {
	const queue = "https://sqs.us-east-1.amazonaws.com/123456789012/cvs-trigger-dead-letters"
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // connection refused
	tests := []struct {
		name      string
		record    events.SNSEventRecord
		endpoint  func(t *testing.T) string
		sendErr   error
		retried   bool            // Handle returns an error
		outcome   trigger.Outcome // HandleRecord's outcome when not retried
		condition string          // of the dead-letter record; "" for none
		errType   string
	}{
		{name: "throttling is retried", record: sample(t, "trigger-stale"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 400, "ThrottlingException") }, retried: true},
		{name: "the running-execution limit is retried", record: sample(t, "trigger-stale"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 400, "ExecutionLimitExceeded") }, retried: true},
		{name: "a service fault is retried", record: sample(t, "trigger-stale"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 500, "InternalFailure") }, retried: true},
		{name: "a refused connection is retried", record: sample(t, "trigger-stale"),
			endpoint: func(t *testing.T) string { return closedURL }, retried: true},
		{name: "a missing state machine is dead-lettered, not retried", record: sample(t, "trigger-stale"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 400, "StateMachineDoesNotExist") },
			outcome:  trigger.DeadLettered, condition: "ExecutionRefused", errType: "StateMachineDoesNotExist"},
		{name: "refused input is dead-lettered, not retried", record: sample(t, "trigger-stale"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 400, "InvalidExecutionInput") },
			outcome:  trigger.DeadLettered, condition: "ExecutionRefused", errType: "InvalidExecutionInput"},
		{name: "denied access is dead-lettered, not retried", record: sample(t, "trigger-stale"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 400, "AccessDeniedException") },
			outcome:  trigger.DeadLettered, condition: "ExecutionRefused", errType: "AccessDeniedException"},
		{name: "a refused execution that cannot be dead-lettered is retried", record: sample(t, "trigger-stale"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 400, "StateMachineDoesNotExist") },
			sendErr:  errors.New("SQS is down"), retried: true, condition: "ExecutionRefused", errType: "StateMachineDoesNotExist"},
		{name: "a malformed message is dead-lettered, never retried", record: sample(t, "trigger-malformed"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 500, "InternalFailure") },
			outcome:  trigger.Dropped, condition: "MalformedMessage", errType: "InvalidInputError"},
		{name: "a malformed message is never retried, even when the queue fails", record: sample(t, "trigger-malformed"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 500, "InternalFailure") },
			sendErr:  errors.New("SQS is down"), outcome: trigger.Dropped, condition: "MalformedMessage", errType: "InvalidInputError"},
		{name: "a trailing brace is dead-lettered, never retried", record: func() events.SNSEventRecord {
			r := sample(t, "trigger-stale")
			r.SNS.Message += "}"
			return r
		}(), endpoint: func(t *testing.T) string { return sfnServer(t, 200, "") },
			outcome: trigger.Dropped, condition: "MalformedMessage", errType: "InvalidInputError"},
		{name: "a sequence from the future is dead-lettered, never retried", record: func() events.SNSEventRecord {
			r := sample(t, "trigger-stale")
			r.SNS.Message = strings.Replace(r.SNS.Message, `"sequence":42`, `"sequence":9223372036854775807`, 1)
			return r
		}(), endpoint: func(t *testing.T) string { return sfnServer(t, 200, "") },
			outcome: trigger.Dropped, condition: "MalformedMessage", errType: "InvalidInputError"},
		{name: "a started execution is not dead-lettered", record: sample(t, "trigger-stale"),
			endpoint: func(t *testing.T) string { return sfnServer(t, 200, "") }, outcome: trigger.Started},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dl := &deadLetters{err: tt.sendErr}
			var logs bytes.Buffer
			h, err := trigger.New(trigger.Config{SFN: sfnClient(tt.endpoint(t)), FailoverArn: "arn:aws:states:us-east-1:123456789012:stateMachine:f",
				DeadLetters: dl, DeadLetterQueueURL: queue, Log: slogJSON(&logs),
				Now: func() time.Time { return time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC) }})
			if err != nil {
				t.Fatal(err)
			}
			herr := h.Handle(context.Background(), events.SNSEvent{Records: []events.SNSEventRecord{tt.record}})
			if got := herr != nil; got != tt.retried {
				t.Fatalf("Handle = %v; want an error (a retry): %v\nlog: %s", herr, tt.retried, logs.String())
			}
			if !tt.retried {
				dl.sent = nil
				got, err := h.HandleRecord(context.Background(), tt.record)
				if err != nil || got != tt.outcome {
					t.Errorf("HandleRecord = %s, %v; want %s, nil", got, err, tt.outcome)
				}
			}
			if tt.condition == "" {
				if len(dl.sent) != 0 {
					t.Errorf("dead-lettered %d message(s), want none", len(dl.sent))
				}
				return
			}
			if len(dl.sent) != 1 {
				t.Fatalf("dead-lettered %d message(s), want 1", len(dl.sent))
			}
			var rec trigger.DeadLetterRecord
			if err := json.Unmarshal([]byte(dl.sent[0]), &rec); err != nil {
				t.Fatal(err)
			}
			want := trigger.DeadLetterRecord{Version: "1.0", Timestamp: time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC),
				RequestContext:  trigger.DeadLetterContext{Condition: tt.condition},
				RequestPayload:  events.SNSEvent{Records: []events.SNSEventRecord{tt.record}},
				ResponsePayload: trigger.DeadLetterError{ErrorType: tt.errType}}
			if diff := cmp.Diff(want, rec, cmpopts.IgnoreFields(trigger.DeadLetterError{}, "ErrorMessage")); diff != "" {
				t.Errorf("dead-letter record (-want +got):\n%s", diff)
			}
			if rec.ResponsePayload.ErrorMessage == "" {
				t.Error("the dead-letter record does not say what went wrong")
			}
		})
	}
}

// starts records the inputs of the executions started and answers each with success.
type starts struct {
	mu sync.Mutex
	in []string
}

func (s *starts) Start(ctx context.Context, arn, name string, input []byte) (execution.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.in = append(s.in, string(input))
	return execution.Result{Outcome: execution.Started, ExecutionARN: "arn:aws:states:us-east-1:1:execution:f:x"}, nil
}

// TestExecutionInputIsTheValidatedEvent: the state machine gets the event as the trigger
// validated it, encoded again, never the message's own bytes, and the tasks decode it strictly.
func TestExecutionInputIsTheValidatedEvent(t *testing.T) {
	const failover, failback = "arn:aws:states:us-east-1:1:stateMachine:f", "arn:aws:states:us-east-1:1:stateMachine:b"
	for _, name := range []string{"trigger-stale", "trigger-unreachable", "trigger-fresh"} {
		t.Run(name, func(t *testing.T) {
			r := sample(t, name)
			// Blanks and a null a loose reader would pass on as they are.
			r.SNS.Message = strings.Replace(r.SNS.Message, `"cluster":`, "\n  \"omitted_playlists\": null, \"cluster\" :", 1)
			want, err := contract.ParseDetectorEvent([]byte(r.SNS.Message))
			if err != nil {
				t.Fatal(err)
			}
			sfnc := &starts{}
			h, err := trigger.New(trigger.Config{SFN: sfnc, FailoverArn: failover, FailbackArn: failback, HoldDown: 5 * time.Minute, Log: slogJSON(&bytes.Buffer{})})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := h.HandleRecord(context.Background(), r); err != nil || got != trigger.Started {
				t.Fatalf("HandleRecord = %s, %v; want started", got, err)
			}
			if len(sfnc.in) != 1 {
				t.Fatalf("%d executions started, want 1", len(sfnc.in))
			}
			input := sfnc.in[0]
			if input == r.SNS.Message {
				t.Fatal("the execution input is the message as published")
			}
			var got contract.DetectorEvent
			if want.Event == state.HealthFresh {
				var fb contract.FailbackInput
				if err := json.Unmarshal([]byte(input), &fb); err != nil {
					t.Fatalf("failback input %s: %v", input, err)
				}
				if fb.HoldDownSeconds != 300 {
					t.Errorf("hold_down_seconds = %d, want 300", fb.HoldDownSeconds)
				}
				got = fb.DetectorEvent
			} else {
				canonical, err := json.Marshal(want)
				if err != nil {
					t.Fatal(err)
				}
				if input != string(canonical) {
					t.Errorf("execution input\n%s\nwant the validated event encoded again\n%s", input, canonical)
				}
				if got, err = contract.ParseDetectorEvent([]byte(input)); err != nil {
					t.Fatalf("the execution input does not parse: %v", err)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("event in the execution input (-validated +sent):\n%s", diff)
			}
		})
	}
}
