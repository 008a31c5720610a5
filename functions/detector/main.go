// Command detector polls its region's origin playlists and publishes health transitions to SNS.
package main

import (
	"context"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	awssns "github.com/clustered-video-streams/cvs/internal/aws/sns"
	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
)

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout)).Handle)
}

// build wires the handler from TABLE_NAME and CONTROL_REGION (the state table, with this
// region's replica as the fallback) and what detector.ConfigFromEnv reads (TOPIC_ARN, REGION,
// poll settings). It logs JSON to logs.
func build(ctx context.Context, getenv func(string) string, logs io.Writer) (*detector.Handler, error) {
	cfg, err := detector.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, store, err := lambdaenv.ConfigAndStore(ctx, getenv, lambdaenv.LocalFallback)
	if err != nil {
		return nil, err
	}
	log := lambdaenv.Logger(logs)
	d, err := detector.New(cfg, detector.Deps{Registry: store, Memory: store, Publisher: awssns.New(sns.NewFromConfig(awsCfg)),
		Getter: detector.NewGetter(detector.NewHTTPClient(cfg.MaxConcurrency), cfg), Log: log})
	if err != nil {
		return nil, err
	}
	return &detector.Handler{Detector: d, Log: log}, nil
}
