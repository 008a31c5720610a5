// Command sweeper is the stale playlist sweeper (internal/sweeper): playlist uploads (SNS-wrapped
// S3 events) schedule delayed SQS checks, the checks delete playlists still stale, and an
// EventBridge schedule runs the backstop sweep.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
	"github.com/clustered-video-streams/cvs/internal/sweeper"
)

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout)))
}

// build wires the handler from the environment template.yaml's SweeperFunction sets (BUCKET,
// PREFIXES, CHECK_QUEUE_URL, MULTIPLIER, DRY_RUN, SWEEP_MIN_AGE as a Go duration); logs get JSON.
func build(ctx context.Context, env func(string) string, logs io.Writer) (func(context.Context, json.RawMessage) (any, error), error) {
	cfg, err := lambdaenv.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	c := sweeper.Config{
		S3:       s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = env("S3_FORCE_PATH_STYLE") == "true" }),
		Queue:    sqs.NewFromConfig(cfg),
		QueueURL: env("CHECK_QUEUE_URL"), Bucket: env("BUCKET"), Prefixes: strings.Split(env("PREFIXES"), ","),
		DryRun: env("DRY_RUN") == "true", Logger: lambdaenv.Logger(logs),
	}
	var err1, err2 error
	c.Multiplier, err1 = strconv.ParseFloat(cmp.Or(env("MULTIPLIER"), "0"), 64)
	c.SweepMinAge, err2 = time.ParseDuration(cmp.Or(env("SWEEP_MIN_AGE"), "0s"))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	h, err := sweeper.New(c)
	if err != nil {
		return nil, err
	}
	return h.Invoke, nil
}
