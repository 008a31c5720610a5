// Command trigger starts the failover (and, when enabled, failback) workflow for each detector
// event published on the detector topic.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/clustered-video-streams/cvs/internal/trigger"
)

func main() {
	h, err := build(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("trigger: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// build wires the handler from the environment: FAILOVER_STATE_MACHINE_ARN,
// FAILBACK_STATE_MACHINE_ARN, ENABLE_FAILBACK ("true" or "false") and HOLD_DOWN_SECONDS.
// sfnOpts adjust the Step Functions client (tests point it at a local endpoint).
func build(ctx context.Context, getenv func(string) string, sfnOpts ...func(*sfn.Options)) (*trigger.Handler, error) {
	enable, err := strconv.ParseBool(getenv("ENABLE_FAILBACK"))
	if err != nil {
		return nil, fmt.Errorf("ENABLE_FAILBACK=%q: want true or false", getenv("ENABLE_FAILBACK"))
	}
	holdDown, err := strconv.Atoi(getenv("HOLD_DOWN_SECONDS"))
	if err != nil {
		return nil, fmt.Errorf("HOLD_DOWN_SECONDS=%q: want a whole number of seconds", getenv("HOLD_DOWN_SECONDS"))
	}
	failback := getenv("FAILBACK_STATE_MACHINE_ARN")
	if !enable {
		failback = ""
	} else if failback == "" {
		return nil, fmt.Errorf("ENABLE_FAILBACK=true needs FAILBACK_STATE_MACHINE_ARN")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return trigger.New(trigger.Config{
		SFN:         sfn.NewFromConfig(cfg, sfnOpts...),
		FailoverArn: getenv("FAILOVER_STATE_MACHINE_ARN"),
		FailbackArn: failback,
		HoldDown:    time.Duration(holdDown) * time.Second,
		Log:         slog.New(slog.NewJSONHandler(os.Stdout, nil)),
	})
}
