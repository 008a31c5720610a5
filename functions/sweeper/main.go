// Command sweeper is the stale playlist sweeper (internal/sweeper): playlist uploads (SNS-wrapped
// S3 events) schedule delayed SQS checks, the checks delete playlists still stale, and an
// EventBridge schedule runs the backstop sweep.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	awss3 "github.com/clustered-video-streams/cvs/internal/aws/s3"
	awssqs "github.com/clustered-video-streams/cvs/internal/aws/sqs"
	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
	"github.com/clustered-video-streams/cvs/internal/sweeper"
)

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout)))
}

// build wires the handler from the environment template.yaml's SweeperFunction sets (the
// settings sweeper.ConfigFromEnv reads, CHECK_QUEUE_URL for the delayed checks and
// S3_FORCE_PATH_STYLE for local S3); logs get JSON.
func build(ctx context.Context, env func(string) string, logs io.Writer) (func(context.Context, json.RawMessage) (any, error), error) {
	c, err := sweeper.ConfigFromEnv(env)
	if err != nil {
		return nil, err
	}
	if env("CHECK_QUEUE_URL") == "" {
		return nil, errors.New("CHECK_QUEUE_URL must be set")
	}
	cfg, err := lambdaenv.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	c.S3 = awss3.New(s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = env("S3_FORCE_PATH_STYLE") == "true" }))
	c.Queue, c.Logger = awssqs.New(sqs.NewFromConfig(cfg), env("CHECK_QUEUE_URL")), lambdaenv.Logger(logs)
	h, err := sweeper.New(c)
	if err != nil {
		return nil, err
	}
	return h.Invoke, nil
}
