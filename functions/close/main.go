// Command close is the failover workflow's Close task: the guarded close of an instance's
// distribution in the state table.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

func main() {
	c, err := build(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("close: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(c.Close)
}

// build wires the handler from the environment: TABLE_NAME (the state table), CONTROL_REGION
// (the replica that decides guarded closes; default: this function's region) and
// HOLD_DOWN_SECONDS (no close within this long of a reopen).
func build(ctx context.Context, getenv func(string) string, ddbOpts ...func(*dynamodb.Options)) (*failover.Closer, error) {
	table := getenv("TABLE_NAME")
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set")
	}
	holdDown, err := strconv.Atoi(getenv("HOLD_DOWN_SECONDS"))
	if err != nil || holdDown < 0 {
		return nil, fmt.Errorf("HOLD_DOWN_SECONDS=%q: want a whole number of seconds", getenv("HOLD_DOWN_SECONDS"))
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	control := cmp.Or(getenv("CONTROL_REGION"), cfg.Region)
	ddbOpts = append(ddbOpts, func(o *dynamodb.Options) { o.Region = control })
	store, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: control, Control: dynamodb.NewFromConfig(cfg, ddbOpts...)})
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	return &failover.Closer{Store: store, HoldDown: time.Duration(holdDown) * time.Second, Log: log}, nil
}
