// Command confirm is the workflows' Confirm task: a fresh, cache-busting probe of an instance's
// origin playlists, judged by the detector's rules.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

// probeTimeout bounds each playlist fetch; the task's own timeout is 20 s.
const probeTimeout = 5 * time.Second

func main() {
	c, err := build(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("confirm: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(c.Confirm)
}

// build wires the handler from the environment: TABLE_NAME (the state table, whose audit trail
// fresh mode reads) and CONTROL_REGION (the replica read; default: this function's region).
func build(ctx context.Context, getenv func(string) string, ddbOpts ...func(*dynamodb.Options)) (*failover.Confirmer, error) {
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
	return &failover.Confirmer{
		Fetcher: &origin.Fetcher{Client: &http.Client{}, Timeout: probeTimeout, UserAgent: "cvs-confirm"},
		History: store,
		Log:     slog.New(slog.NewJSONHandler(os.Stdout, nil)),
	}, nil
}
