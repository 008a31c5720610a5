package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	awssfn "github.com/clustered-video-streams/cvs/internal/aws/sfn"
	awssqs "github.com/clustered-video-streams/cvs/internal/aws/sqs"
	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/trigger"
)

// The trigger's wire test: the trigger handler calls moto_server's Step Functions API, where
// the real failover and failback definitions (after the template's substitutions) are created
// as state machines. moto does not run them here (execute_state_machine stays off), so every
// execution the trigger starts stays RUNNING and ListExecutions counts exactly what it started.

const foRegion = "us-east-1"

// foSubstitutions are the template's DefinitionSubstitutions, with made-up ARNs.
var foSubstitutions = map[string]string{
	contract.SubstConfirmFunctionArn:   "arn:aws:lambda:us-east-1:123456789012:function:cvs-confirm",
	contract.SubstCloseFunctionArn:     "arn:aws:lambda:us-east-1:123456789012:function:cvs-close",
	contract.SubstReopenFunctionArn:    "arn:aws:lambda:us-east-1:123456789012:function:cvs-reopen",
	contract.SubstNotificationTopicArn: "arn:aws:sns:us-east-1:123456789012:cvs-notifications",
	contract.SubstPartition:            "aws",
}

var foPlaceholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]*)\}`)

// foDefinition reads statemachines/<file> and applies foSubstitutions, failing on a
// placeholder without one.
func foDefinition(t *testing.T, file string, subs map[string]string) []byte {
	t.Helper()
	def, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "statemachines", file))
	if err != nil {
		t.Fatal(err)
	}
	out := foPlaceholder.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := subs[name]
		if !ok {
			t.Fatalf("%s: no substitution for ${%s}", file, name)
		}
		return []byte(v)
	})
	return out
}

// foSNSEvent reads events/<name>.json, an SNS delivery as Lambda receives it.
func foSNSEvent(t *testing.T, name string) events.SNSEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var e events.SNSEvent
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("events/%s.json: %v", name, err)
	}
	if len(e.Records) != 1 {
		t.Fatalf("events/%s.json has %d records, want 1 (SNS delivers one per invocation)", name, len(e.Records))
	}
	return e
}

// foLog collects a handler's JSON log lines.
type foLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *foLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the decoded log lines whose msg is msg.
func (l *foLog) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// foExecution is what ListExecutions and DescribeExecution say about one execution.
type foExecution struct {
	Name   string
	Status string
	Input  any
}

func foExecutions(t *testing.T, ctx context.Context, c *sfn.Client, machineArn string) []foExecution {
	t.Helper()
	list, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machineArn)})
	if err != nil {
		t.Fatalf("ListExecutions: %v", err)
	}
	var out []foExecution
	for _, e := range list.Executions {
		d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		var in any
		if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil {
			t.Fatalf("execution input %q: %v", aws.ToString(d.Input), err)
		}
		out = append(out, foExecution{Name: aws.ToString(e.Name), Status: string(e.Status), Input: in})
	}
	return out
}

func TestTriggerStartsOneExecutionPerEvent(t *testing.T) {
	endpoint := testenv.Moto(t, "the trigger wire test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := sfn.New(sfn.Options{
		Region:       foRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCALDUMMY", "dummy", ""),
		BaseEndpoint: aws.String(endpoint),
	})
	machine := func(name, file string) string {
		out, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name:       aws.String(name),
			Definition: aws.String(string(foDefinition(t, file, foSubstitutions))),
			RoleArn:    aws.String("arn:aws:iam::123456789012:role/" + name),
		})
		if err != nil {
			t.Fatalf("CreateStateMachine %s: %v", name, err)
		}
		return aws.ToString(out.StateMachineArn)
	}
	failoverArn, failbackArn := machine("cvs-failover", "failover.asl.json"), machine("cvs-failback", "failback.asl.json")

	queues := sqs.New(sqs.Options{
		Region:       foRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCALDUMMY", "dummy", ""),
		BaseEndpoint: aws.String(endpoint),
	})
	dlq, err := queues.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cvs-trigger-dead-letters")})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	deadLetters := func(t *testing.T) []trigger.DeadLetterRecord {
		t.Helper()
		out, err := queues.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		var recs []trigger.DeadLetterRecord
		for _, m := range out.Messages {
			var r trigger.DeadLetterRecord
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &r); err != nil {
				t.Fatalf("dead letter %q: %v", aws.ToString(m.Body), err)
			}
			recs = append(recs, r)
			if _, err := queues.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: dlq.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
		return recs
	}

	var logs foLog
	newHandler := func(failback string) *trigger.Handler {
		h, err := trigger.New(trigger.Config{
			SFN: awssfn.New(client), FailoverArn: failoverArn, FailbackArn: failback, HoldDown: 300 * time.Second,
			DeadLetters: awssqs.New(queues, aws.ToString(dlq.QueueUrl)), DeadLetterQueueURL: aws.ToString(dlq.QueueUrl),
			Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	disabled, enabled := newHandler(""), newHandler(failbackArn)
	message := func(e events.SNSEvent) any {
		var m any
		if err := json.Unmarshal([]byte(e.Records[0].SNS.Message), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	name := func(e events.SNSEvent) string {
		ev, err := contract.ParseDetectorEvent([]byte(e.Records[0].SNS.Message))
		if err != nil {
			t.Fatal(err)
		}
		return contract.ExecutionName(ev)
	}
	stale, unreachable := foSNSEvent(t, "trigger-stale"), foSNSEvent(t, "trigger-unreachable")
	fresh, malformed := foSNSEvent(t, "trigger-fresh"), foSNSEvent(t, "trigger-malformed")

	t.Run("the same SNS event delivered twice starts one execution", func(t *testing.T) {
		var outcomes []trigger.Outcome
		for range 2 {
			o, err := disabled.HandleRecord(ctx, stale.Records[0])
			if err != nil {
				t.Fatalf("HandleRecord: %v", err)
			}
			outcomes = append(outcomes, o)
		}
		// The Lambda entry point too, as SNS invokes it.
		if err := disabled.Handle(ctx, stale); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		got := foExecutions(t, ctx, client, failoverArn)
		want := []foExecution{{Name: name(stale), Status: "RUNNING", Input: message(stale)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("failover executions after 3 deliveries (-want +got):\n%s", diff)
		}
		// While it runs, Step Functions answers a duplicate (same name and input) with the
		// running execution.
		if diff := cmp.Diff([]trigger.Outcome{trigger.Started, trigger.Started}, outcomes); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		// Once it has ended, a late duplicate gets ExecutionAlreadyExists.
		if _, err := client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(
			strings.Replace(failoverArn, ":stateMachine:", ":execution:", 1) + ":" + name(stale))}); err != nil {
			t.Fatalf("StopExecution: %v", err)
		}
		o, err := disabled.HandleRecord(ctx, stale.Records[0])
		if err != nil || o != trigger.AlreadyStarted {
			t.Errorf("late duplicate: %s, %v; want %s", o, err, trigger.AlreadyStarted)
		}
		got = foExecutions(t, ctx, client, failoverArn)
		if len(got) != 1 || got[0].Status != "ABORTED" {
			t.Errorf("after a late duplicate: %+v, want the one aborted execution", got)
		}
		t.Logf("4 deliveries of one event (outcomes %v, then Handle, then %s after it ended): %d execution(s)", outcomes, o, len(got))
	})

	t.Run("an unreachable event starts its own failover", func(t *testing.T) {
		if err := disabled.Handle(ctx, unreachable); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range foExecutions(t, ctx, client, failoverArn) {
			names = append(names, e.Name)
		}
		if diff := cmp.Diff([]string{name(stale), name(unreachable)}, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("failover executions (-want +got):\n%s", diff)
		}
	})

	t.Run("a malformed message starts nothing and is logged with its reason", func(t *testing.T) {
		before := len(foExecutions(t, ctx, client, failoverArn))
		if err := disabled.Handle(ctx, malformed); err != nil {
			t.Fatalf("Handle returned %v: a malformed message must not be retried", err)
		}
		if after := len(foExecutions(t, ctx, client, failoverArn)); after != before {
			t.Errorf("failover executions %d -> %d", before, after)
		}
		if n := len(foExecutions(t, ctx, client, failbackArn)); n != 0 {
			t.Errorf("%d failback executions, want 0", n)
		}
		dropped := logs.lines(t, "dropped a malformed detector event")
		if len(dropped) != 1 {
			t.Fatalf("%d 'dropped' log lines, want 1", len(dropped))
		}
		reason, _ := dropped[0]["reason"].(string)
		for _, want := range []string{"version: is 2, want 1", "sequence: is 0, want >= 1"} {
			if !strings.Contains(reason, want) {
				t.Errorf("logged reason %q does not say %q", reason, want)
			}
		}
		if got, want := dropped[0]["message_id"], malformed.Records[0].SNS.MessageID; got != want {
			t.Errorf("logged message_id %v, want %s", got, want)
		}
		// Kept for an operator: a malformed event from our own detector is a lost transition.
		recs := deadLetters(t)
		if len(recs) != 1 || recs[0].RequestContext.Condition != "MalformedMessage" ||
			!cmp.Equal(recs[0].RequestPayload, malformed) {
			t.Errorf("dead letters %+v, want the malformed delivery as it came", recs)
		}
	})

	t.Run("fresh with failback disabled starts nothing", func(t *testing.T) {
		before := len(foExecutions(t, ctx, client, failoverArn))
		if err := disabled.Handle(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		if after := len(foExecutions(t, ctx, client, failoverArn)); after != before {
			t.Errorf("failover executions %d -> %d", before, after)
		}
		if n := len(foExecutions(t, ctx, client, failbackArn)); n != 0 {
			t.Errorf("%d failback executions, want 0", n)
		}
		ignored := logs.lines(t, "ignored a detector event")
		if len(ignored) != 1 || ignored[0]["reason"] != "failback is disabled" {
			t.Errorf("ignored log lines %v, want one saying failback is disabled", ignored)
		}
	})

	t.Run("fresh with failback enabled starts one failback", func(t *testing.T) {
		for range 2 {
			if err := enabled.Handle(ctx, fresh); err != nil {
				t.Fatal(err)
			}
		}
		want := []foExecution{{Name: name(fresh), Status: "RUNNING", Input: map[string]any{
			"detector_event": message(fresh), "hold_down_seconds": float64(300)}}}
		if diff := cmp.Diff(want, foExecutions(t, ctx, client, failbackArn)); diff != "" {
			t.Errorf("failback executions (-want +got):\n%s", diff)
		}
	})

	t.Run("an event with a field this trigger does not know is dead-lettered, never retried", func(t *testing.T) {
		// Consumers act on exactly what they validated: a field added within version 1 reaches
		// them only after they know it (consumers are released before producers).
		newer := foSNSEvent(t, "trigger-stale")
		rec := &newer.Records[0]
		rec.SNS.MessageID = "f0f0f0f0-0000-4000-8000-000000000001"
		rec.SNS.Message = strings.Replace(rec.SNS.Message, `"sequence":42`, `"sequence":4242,"encoder":{"id":"enc-1"}`, 1)
		before := len(foExecutions(t, ctx, client, failoverArn))
		if err := disabled.Handle(ctx, newer); err != nil {
			t.Fatalf("Handle returned %v: a malformed message must not be retried", err)
		}
		if after := len(foExecutions(t, ctx, client, failoverArn)); after != before {
			t.Errorf("failover executions %d -> %d", before, after)
		}
		recs := deadLetters(t)
		if len(recs) != 1 || recs[0].RequestContext.Condition != "MalformedMessage" ||
			!strings.Contains(recs[0].ResponsePayload.ErrorMessage, `unknown field "encoder"`) {
			t.Errorf("dead letters %+v, want the delivery, refused for its unknown field", recs)
		}
	})

	t.Run("an execution Step Functions refuses for good is dead-lettered, not retried", func(t *testing.T) {
		// (Transient failures, which Handle returns so that Lambda retries and then dead-letters
		// the delivery itself, are tested in internal/trigger against a wire-level stand-in:
		// moto never throttles.)
		h, err := trigger.New(trigger.Config{SFN: awssfn.New(client), HoldDown: time.Minute,
			FailoverArn: "arn:aws:states:us-east-1:123456789012:stateMachine:missing",
			DeadLetters: awssqs.New(queues, aws.ToString(dlq.QueueUrl)), DeadLetterQueueURL: aws.ToString(dlq.QueueUrl),
			Log: slog.New(slog.NewJSONHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(ctx, stale); err != nil {
			t.Fatalf("Handle = %v, want nil: a retry cannot create the state machine", err)
		}
		recs := deadLetters(t)
		if len(recs) != 1 {
			t.Fatalf("%d dead letters, want 1", len(recs))
		}
		if r := recs[0]; r.RequestContext.Condition != "ExecutionRefused" || r.ResponsePayload.ErrorType != "StateMachineDoesNotExist" ||
			!cmp.Equal(r.RequestPayload, stale) {
			t.Errorf("dead letter %+v, want the stale delivery refused with StateMachineDoesNotExist", r)
		}
	})
}
