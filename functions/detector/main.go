// Command detector polls its region's origin playlists and publishes health transitions to SNS.
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
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

func main() {
	h, err := build(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("detector: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// build wires the handler from TABLE_NAME, CONTROL_REGION (default: this region) and what
// detector.ConfigFromEnv reads (TOPIC_ARN, REGION, poll settings).
func build(ctx context.Context, getenv func(string) string) (*detector.Handler, error) {
	cfg, err := detector.ConfigFromEnv(getenv)
	table := getenv("TABLE_NAME")
	if err != nil || table == "" {
		return nil, cmp.Or(err, errors.New("TABLE_NAME must be set"))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	local := dynamodb.NewFromConfig(awsCfg)
	sc := dynamo.Config{Table: table, ControlRegion: cmp.Or(getenv("CONTROL_REGION"), awsCfg.Region), Control: local}
	if sc.ControlRegion != awsCfg.Region {
		sc.Control = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.Region = sc.ControlRegion })
		sc.Local = local
	}
	store, err := dynamo.New(sc)
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	d, err := detector.New(cfg, detector.Deps{Registry: store, Memory: store, Publisher: sns.NewFromConfig(awsCfg),
		Getter: detector.NewGetter(detector.NewHTTPClient(cfg.MaxConcurrency), cfg), Log: log})
	if err != nil {
		return nil, err
	}
	return &detector.Handler{Detector: d, Log: log}, nil
}
