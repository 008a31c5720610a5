// Command trigger starts the failover (and, when enabled, failback) workflow for each detector
// event published on the detector topic.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
	"github.com/clustered-video-streams/cvs/internal/trigger"
)

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout, nil)).Handle)
}

// build wires the handler from the environment: FAILOVER_STATE_MACHINE_ARN,
// FAILBACK_STATE_MACHINE_ARN, ENABLE_FAILBACK ("true" or "false"), HOLD_DOWN_SECONDS and
// DEAD_LETTER_QUEUE_URL (the function's on-failure destination, which also takes what no retry
// mends). It logs JSON to logs; sfnOpts and sqsOpts adjust the clients (tests point them at a
// local endpoint).
func build(ctx context.Context, getenv func(string) string, logs io.Writer, sfnOpts []func(*sfn.Options), sqsOpts ...func(*sqs.Options)) (*trigger.Handler, error) {
	enable, err := strconv.ParseBool(getenv("ENABLE_FAILBACK"))
	if err != nil {
		return nil, fmt.Errorf("ENABLE_FAILBACK=%q: want true or false", getenv("ENABLE_FAILBACK"))
	}
	holdDown, err := lambdaenv.Seconds(getenv, "HOLD_DOWN_SECONDS", "")
	if err != nil {
		return nil, err
	}
	failback := getenv("FAILBACK_STATE_MACHINE_ARN")
	if !enable {
		failback = ""
	} else if failback == "" {
		return nil, errors.New("ENABLE_FAILBACK=true needs FAILBACK_STATE_MACHINE_ARN")
	}
	if getenv("DEAD_LETTER_QUEUE_URL") == "" {
		return nil, errors.New("DEAD_LETTER_QUEUE_URL is required: events that cannot start a workflow are kept there")
	}
	cfg, err := lambdaenv.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return trigger.New(trigger.Config{SFN: sfn.NewFromConfig(cfg, sfnOpts...), FailoverArn: getenv("FAILOVER_STATE_MACHINE_ARN"),
		FailbackArn: failback, HoldDown: holdDown, DeadLetters: sqs.NewFromConfig(cfg, sqsOpts...),
		DeadLetterQueueURL: getenv("DEAD_LETTER_QUEUE_URL"), Log: lambdaenv.Logger(logs)})
}
