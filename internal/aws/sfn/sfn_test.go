package sfn_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/clustered-video-streams/cvs/internal/aws/sfn"
	"github.com/clustered-video-streams/cvs/internal/execution/executiontest"
	"github.com/clustered-video-streams/cvs/internal/s3event/s3test"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestContract runs the start contract on the adapter against moto_server, whose executions
// stay running until stopped (it does not execute definitions unless asked to).
func TestContract(t *testing.T) {
	endpoint := testenv.Moto(t, "the Step Functions adapter contract")
	c := awssfn.NewFromConfig(s3test.Config(endpoint))
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
