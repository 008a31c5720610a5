package sfn_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/execution"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/local/sfn"
	localsns "github.com/clustered-video-streams/cvs/internal/local/sns"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestRunsTheRealFailoverDefinition starts statemachines/failover.asl.json on the twin with an
// input that is not a detector event: the real definition notifies operators through the SNS
// twin and fails, the outcome reaches OnFinish, and the name reused answers already-exists.
func TestRunsTheRealFailoverDefinition(t *testing.T) {
	def, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "statemachines", "failover.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	broker := localsns.New(localsns.Options{Region: "us-east-1", Account: "123456789012"})
	notifications := broker.CreateTopic("cvs-notifications")
	got := make(chan localsns.Delivery, 1)
	if _, err := broker.Subscribe(notifications, localsns.Subscription{Name: "operators", Handler: func(_ context.Context, d localsns.Delivery) error {
		got <- d
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	finished := make(chan *asl.Execution, 1)
	s := sfn.New(sfn.Options{OnFinish: func(ex *asl.Execution) { finished <- ex }})
	t.Cleanup(s.Close)
	const arn = "arn:aws:states:us-east-1:123456789012:stateMachine:cvs-failover"
	err = s.AddDefinition(arn, def, asl.Options{
		Substitutions: map[string]string{
			contract.SubstConfirmFunctionArn:   "cvs-confirm",
			contract.SubstCloseFunctionArn:     "cvs-close",
			contract.SubstNotificationTopicArn: notifications,
			contract.SubstPartition:            "aws",
		},
		Handlers: map[string]asl.Handler{
			asl.ResourceLambdaInvoke: asl.LambdaInvoke(nil), // never reached with this input
			asl.ResourceSNSPublish:   sfn.PublishTask(broker),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := s.Start(ctx, arn, "news_a.example_1", []byte(`{"not":"an event"}`))
	if err != nil || r.Outcome != execution.Started {
		t.Fatalf("Start = %+v, %v", r, err)
	}
	var ex *asl.Execution
	select {
	case ex = <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("OnFinish was not called")
	}
	if ex.ARN != r.ExecutionARN || ex.Status != asl.StatusFailed || ex.Error != "InvalidInputError" {
		t.Fatalf("execution %s ended %s %s, want %s FAILED InvalidInputError", ex.ARN, ex.Status, ex.Error, r.ExecutionARN)
	}
	broker.Flush()
	d := <-got
	var body struct{ Outcome string }
	if err := json.Unmarshal([]byte(d.Body), &body); err != nil || body.Outcome != "failed" || !strings.Contains(d.Subject, "invalid input") {
		t.Fatalf("notification %q %s, want outcome failed about invalid input (%v)", d.Subject, d.Body, err)
	}
	if r, err := s.Start(ctx, arn, "news_a.example_1", []byte(`{"not":"an event"}`)); err != nil || r.Outcome != execution.AlreadyExists {
		t.Fatalf("Start of the ended name = %+v, %v, want already exists", r, err)
	}
}
