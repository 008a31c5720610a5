// Command reopen is the failback workflow's Reopen task: it reopens a distribution that the
// failover workflow closed, never one an operator closed.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

func main() {
	r, err := build(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("reopen: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(r.Reopen)
}

// build wires the handler from the environment: TABLE_NAME (the state table) and CONTROL_REGION
// (the replica written; default: this function's region).
func build(ctx context.Context, getenv func(string) string, ddbOpts ...func(*dynamodb.Options)) (*failover.Reopener, error) {
	table := getenv("TABLE_NAME")
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set")
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
	return &failover.Reopener{Store: store, Log: slog.New(slog.NewJSONHandler(os.Stdout, nil))}, nil
}
