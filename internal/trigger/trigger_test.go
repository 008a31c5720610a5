package trigger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/trigger"
)

// noStarts fails the test if the trigger tries to start anything. (Starting executions is
// checked on the wire against moto_server in tests/failover_trigger_test.go.)
type noStarts struct{ t *testing.T }

func (n noStarts) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	n.t.Errorf("StartExecution(%s, %s) for a message that must start nothing", *in.StateMachineArn, *in.Name)
	return &sfn.StartExecutionOutput{}, nil
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
	tests := []struct {
		name   string
		record events.SNSEventRecord
		want   trigger.Outcome
		log    string
	}{
		{"malformed event", sample(t, "trigger-malformed"), trigger.Dropped, "version: is 2, want 1"},
		{"not JSON", notJSON, trigger.Dropped, "decode JSON"},
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
