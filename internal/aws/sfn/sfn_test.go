package sfn_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/clustered-video-streams/cvs/internal/aws/sfn"
	"github.com/clustered-video-streams/cvs/internal/execution"
	"github.com/clustered-video-streams/cvs/internal/execution/executiontest"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// TestContract runs the start contract on the adapter against moto_server, whose executions
// stay running until stopped (it does not execute definitions unless asked to).
func TestContract(t *testing.T) {
	endpoint := testenv.Moto(t, "the Step Functions adapter contract")
	c := awssfn.NewFromConfig(motoclient.Config(endpoint))
	ctx := context.Background()
	n := 0
	executiontest.Run(t, func(t *testing.T) executiontest.Harness {
		n++
		out, err := c.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{
			Name:       aws.String("hold-" + string(rune('a'+n))),
			Definition: aws.String(`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`),
			RoleArn:    aws.String("arn:aws:iam::123456789012:role/sfn"),
		})
		if err != nil {
			t.Fatal(err)
		}
		return executiontest.Harness{Starter: sfn.New(c), StateMachineARN: aws.ToString(out.StateMachineArn),
			Finish: func(t *testing.T, exec string) {
				if _, err := c.StopExecution(ctx, &awssfn.StopExecutionInput{ExecutionArn: aws.String(exec)}); err != nil {
					t.Fatal(err)
				}
			}}
	})
}

// TestRefusals: an error no retry mends comes back as *execution.RefusedError with the service's
// code; throttling, limits, faults and network errors come back as other errors (transient).
func TestRefusals(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // connection refused
	tests := []struct {
		name    string
		status  int
		errType string // "" with status 0: a refused connection
		refused bool
	}{
		{"throttling", 400, "ThrottlingException", false},
		{"KMS throttling", 400, "KmsThrottlingException", false},
		{"too many running executions", 400, "ExecutionLimitExceeded", false},
		{"a service fault", 500, "InternalFailure", false},
		{"a refused connection", 0, "", false},
		{"missing state machine", 400, "StateMachineDoesNotExist", true},
		{"state machine being deleted", 400, "StateMachineDeleting", true},
		{"refused input", 400, "InvalidExecutionInput", true},
		{"refused name", 400, "InvalidName", true},
		{"refused ARN", 400, "InvalidArn", true},
		{"KMS key disabled", 400, "KmsInvalidStateException", true},
		{"access denied", 400, "AccessDeniedException", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint := closedURL
			if tt.status != 0 {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/x-amz-json-1.0")
					w.WriteHeader(tt.status)
					fmt.Fprintf(w, `{"__type":"com.amazonaws.states#%s","message":"from the stand-in"}`, tt.errType)
				}))
				t.Cleanup(srv.Close)
				endpoint = srv.URL
			}
			c := awssfn.New(awssfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
				Credentials: credentials.NewStaticCredentialsProvider(testenv.DummyAccessKeyID, testenv.DummySecretAccessKey, "")})
			_, err := sfn.New(c).Start(context.Background(), "arn:aws:states:us-east-1:123456789012:stateMachine:f", "n", []byte(`{}`))
			if err == nil {
				t.Fatal("Start = nil error")
			}
			var refused *execution.RefusedError
			if got := errors.As(err, &refused); got != tt.refused {
				t.Fatalf("Start = %v; refused %v, want %v", err, got, tt.refused)
			}
			if tt.refused && refused.Code != tt.errType {
				t.Errorf("code %q, want %q", refused.Code, tt.errType)
			}
		})
	}
}
