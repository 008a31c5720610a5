package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/trigger"
)

func TestBuildRefusesBadConfig(t *testing.T) {
	testenv.OfflineAWS(t, nil)
	base := map[string]string{"FAILOVER_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:f",
		"ENABLE_FAILBACK": "false", "HOLD_DOWN_SECONDS": "300", "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq"}
	tests := []struct {
		name, key, value, want string
	}{
		{"failback neither true nor false", "ENABLE_FAILBACK", "yes please", "ENABLE_FAILBACK"},
		{"failback enabled without its state machine", "ENABLE_FAILBACK", "true", "FAILBACK_STATE_MACHINE_ARN"},
		{"hold-down not a number", "HOLD_DOWN_SECONDS", "5m", "HOLD_DOWN_SECONDS"},
		{"hold-down over a day", "HOLD_DOWN_SECONDS", "86401", "hold-down 24h0m1s"},
		{"no failover state machine", "FAILOVER_STATE_MACHINE_ARN", "", "no failover state machine"},
		{"no dead-letter queue", "DEAD_LETTER_QUEUE_URL", "", "DEAD_LETTER_QUEUE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			env[tt.key] = tt.value
			_, err := build(context.Background(), func(k string) string { return env[k] }, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("build = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// placeholder is a DefinitionSubstitutions placeholder; any ARN will do, moto runs nothing.
var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9]*)\}`)

// TestBuildStartsExecutionsOnTheConfiguredMachine wires the function to moto's Step Functions
// and SQS: the sample event starts one execution; for a state machine that does not exist, the
// event is put on the dead-letter queue and the invocation succeeds (no retry mends it).
func TestBuildStartsExecutionsOnTheConfiguredMachine(t *testing.T) {
	endpoint := testenv.Moto(t, "the trigger wiring test") // before OfflineAWS: moto reads AWS_* too
	testenv.OfflineAWS(t, nil)
	ctx := context.Background()
	opt := func(o *sfn.Options) { o.BaseEndpoint = aws.String(endpoint) }
	sqsOpt := func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) }
	creds := credentials.NewStaticCredentialsProvider(testenv.DummyAccessKeyID, testenv.DummySecretAccessKey, "")
	client := sfn.New(sfn.Options{Region: "us-east-1", Credentials: creds}, opt)
	queues := sqs.New(sqs.Options{Region: "us-east-1", Credentials: creds}, sqsOpt)
	q, err := queues.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cvs-trigger-dead-letters")})
	if err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "statemachines", "failover.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("cvs-failover"),
		Definition: aws.String(placeholder.ReplaceAllString(string(def), "arn:aws:lambda:us-east-1:123456789012:function:$1")), RoleArn: aws.String("arn:aws:iam::123456789012:role/cvs")})
	if err != nil {
		t.Fatal(err)
	}
	var e events.SNSEvent
	if err := json.Unmarshal(testenv.SampleEvent(t, "trigger-stale.json"), &e); err != nil {
		t.Fatal(err)
	}
	handle := func(machineArn string) error {
		env := map[string]string{"FAILOVER_STATE_MACHINE_ARN": machineArn, "ENABLE_FAILBACK": "false", "HOLD_DOWN_SECONDS": "300",
			"DEAD_LETTER_QUEUE_URL": aws.ToString(q.QueueUrl)}
		h, err := build(ctx, func(k string) string { return env[k] }, io.Discard, []func(*sfn.Options){opt}, sqsOpt)
		if err != nil {
			t.Fatal(err)
		}
		return h.Handle(ctx, e)
	}

	if err := handle(aws.ToString(sm.StateMachineArn)); err != nil {
		t.Fatal(err)
	}
	list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Executions) != 1 || !strings.HasPrefix(aws.ToString(list.Executions[0].Name), "news-channel_d111111abcdef8-cloudfront-net_42_") {
		t.Errorf("executions %+v, want one for news-channel #42", list.Executions)
	}

	if err := handle("arn:aws:states:us-east-1:123456789012:stateMachine:deleted"); err != nil {
		t.Fatalf("Handle = %v for a missing state machine, want the event dead-lettered and no retry", err)
	}
	got, err := queues.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("%d dead letters, want 1", len(got.Messages))
	}
	var rec trigger.DeadLetterRecord
	if err := json.Unmarshal([]byte(aws.ToString(got.Messages[0].Body)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.Condition != "ExecutionRefused" || rec.ResponsePayload.ErrorType != "StateMachineDoesNotExist" ||
		len(rec.RequestPayload.Records) != 1 || rec.RequestPayload.Records[0].SNS.Message != e.Records[0].SNS.Message {
		t.Errorf("dead letter %+v, want the refused event with StateMachineDoesNotExist", rec)
	}
}
