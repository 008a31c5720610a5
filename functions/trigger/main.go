// Command trigger starts the failover (and, when enabled, failback) workflow for each detector
// event published on the detector topic.
package main

import (
	"context"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	awssfn "github.com/clustered-video-streams/cvs/internal/aws/sfn"
	awssqs "github.com/clustered-video-streams/cvs/internal/aws/sqs"
	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
	"github.com/clustered-video-streams/cvs/internal/trigger"
)

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout, nil)).Handle)
}

// build wires the handler from the environment trigger.ConfigFromEnv reads
// (FAILOVER_STATE_MACHINE_ARN, ENABLE_FAILBACK, FAILBACK_STATE_MACHINE_ARN, HOLD_DOWN_SECONDS,
// DEAD_LETTER_QUEUE_URL). It logs JSON to logs; sfnOpts and sqsOpts adjust the clients (tests
// point them at a local endpoint).
func build(ctx context.Context, getenv func(string) string, logs io.Writer, sfnOpts []func(*sfn.Options), sqsOpts ...func(*sqs.Options)) (*trigger.Handler, error) {
	c, err := trigger.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := lambdaenv.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	c.SFN, c.Log = awssfn.New(sfn.NewFromConfig(cfg, sfnOpts...)), lambdaenv.Logger(logs)
	if c.DeadLetterQueueURL != "" {
		c.DeadLetters = awssqs.New(sqs.NewFromConfig(cfg, sqsOpts...), c.DeadLetterQueueURL)
	}
	return trigger.New(c)
}
