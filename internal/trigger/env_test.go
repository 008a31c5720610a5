package trigger_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/trigger"
)

func TestConfigFromEnv(t *testing.T) {
	const (
		failover = "arn:aws:states:us-east-1:123456789012:stateMachine:cvs-failover"
		failback = "arn:aws:states:us-east-1:123456789012:stateMachine:cvs-failback"
		dlq      = "https://sqs.us-east-1.amazonaws.com/123456789012/cvs-trigger-dead-letters"
	)
	base := map[string]string{"FAILOVER_STATE_MACHINE_ARN": failover, "FAILBACK_STATE_MACHINE_ARN": failback,
		"ENABLE_FAILBACK": "true", "HOLD_DOWN_SECONDS": "300", "DEAD_LETTER_QUEUE_URL": dlq}
	tests := []struct {
		name string
		over map[string]string
		want trigger.Config
		errs []string // each must appear in the error; nil means no error
	}{
		{name: "failback enabled", want: trigger.Config{FailoverArn: failover, FailbackArn: failback, HoldDown: 300 * time.Second, DeadLetterQueueURL: dlq}},
		{name: "failback disabled blanks its state machine", over: map[string]string{"ENABLE_FAILBACK": "false"},
			want: trigger.Config{FailoverArn: failover, HoldDown: 300 * time.Second, DeadLetterQueueURL: dlq}},
		{name: "failback disabled needs no state machine", over: map[string]string{"ENABLE_FAILBACK": "0", "FAILBACK_STATE_MACHINE_ARN": ""},
			want: trigger.Config{FailoverArn: failover, HoldDown: 300 * time.Second, DeadLetterQueueURL: dlq}},
		{name: "zero hold-down", over: map[string]string{"HOLD_DOWN_SECONDS": "0"},
			want: trigger.Config{FailoverArn: failover, FailbackArn: failback, DeadLetterQueueURL: dlq}},
		{name: "failback neither true nor false", over: map[string]string{"ENABLE_FAILBACK": "yes please"}, errs: []string{`ENABLE_FAILBACK="yes please"`}},
		{name: "failback unset", over: map[string]string{"ENABLE_FAILBACK": ""}, errs: []string{`ENABLE_FAILBACK=""`}},
		{name: "failback enabled without its state machine", over: map[string]string{"FAILBACK_STATE_MACHINE_ARN": ""}, errs: []string{"needs FAILBACK_STATE_MACHINE_ARN"}},
		{name: "hold-down not a number", over: map[string]string{"HOLD_DOWN_SECONDS": "5m"}, errs: []string{`HOLD_DOWN_SECONDS="5m"`}},
		{name: "hold-down negative", over: map[string]string{"HOLD_DOWN_SECONDS": "-1"}, errs: []string{`HOLD_DOWN_SECONDS="-1"`}},
		{name: "hold-down unset", over: map[string]string{"HOLD_DOWN_SECONDS": ""}, errs: []string{`HOLD_DOWN_SECONDS=""`}},
		{name: "no dead-letter queue", over: map[string]string{"DEAD_LETTER_QUEUE_URL": ""}, errs: []string{"DEAD_LETTER_QUEUE_URL is required"}},
		{name: "every problem reported", over: map[string]string{"ENABLE_FAILBACK": "maybe", "HOLD_DOWN_SECONDS": "x", "DEAD_LETTER_QUEUE_URL": ""},
			errs: []string{"ENABLE_FAILBACK", "HOLD_DOWN_SECONDS", "DEAD_LETTER_QUEUE_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := trigger.ConfigFromEnv(func(k string) string {
				if v, ok := tt.over[k]; ok {
					return v
				}
				return base[k]
			})
			if tt.errs != nil {
				if err == nil {
					t.Fatalf("ConfigFromEnv = %+v, want an error naming %q", got, tt.errs)
				}
				for _, want := range tt.errs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ConfigFromEnv (-want +got):\n%s", diff)
			}
		})
	}
}
