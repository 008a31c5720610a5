// Command merge is the playlist merge function: an encoder's master upload rewrites the pair's
// redundant master (internal/encoderpair); {"cluster": ...} regenerates a multi-region master.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	awscloudfront "github.com/clustered-video-streams/cvs/internal/aws/cloudfront"
	awss3 "github.com/clustered-video-streams/cvs/internal/aws/s3"
	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/encoderpair"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
	"github.com/clustered-video-streams/cvs/internal/mastermerge"
	"github.com/clustered-video-streams/cvs/internal/origin"
)

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout)))
}

// build wires both jobs from the environment template.yaml's MergeFunction sets (the state
// table in this region: no CONTROL_REGION, no fallback needed); logs get JSON.
func build(ctx context.Context, env func(string) string, logs io.Writer) (func(context.Context, json.RawMessage) (any, error), error) {
	cfg, err := lambdaenv.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	log := lambdaenv.Logger(logs)
	maxBytes, err := hls.MaxBodyFromEnv(env)
	if err != nil {
		return nil, err
	}
	s3For := func(region string) blob.Store {
		return awss3.New(s3.NewFromConfig(cfg, func(o *s3.Options) { o.Region, o.UsePathStyle = region, env("S3_FORCE_PATH_STYLE") == "true" }))
	}
	pair, err1 := encoderpair.New(encoderpair.Config{S3: s3For(cfg.Region), Bucket: env("ENCODER_BUCKET"), Logger: log, MaxBytes: maxBytes,
		Layout: encoderpair.Layout{PrimaryKey: env("PRIMARY_MASTER_KEY"), FailoverKey: env("FAILOVER_MASTER_KEY"), OutputKey: env("MERGED_MASTER_KEY")}})
	targets, err2 := mastermerge.ParseTargets(env("MASTER_BUCKETS"), s3For)
	store, err3 := lambdaenv.StateStore(cfg, env, lambdaenv.ControlOnly)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	master, err := mastermerge.New(mastermerge.Config{Store: store, Fetcher: &origin.Fetcher{MaxBytes: maxBytes, UserAgent: "cvs-merge"}, Targets: targets, Logger: log,
		CloudFront: awscloudfront.New(cloudfront.NewFromConfig(cfg)), DistributionID: env("MASTER_DISTRIBUTION_ID"), KeyFormat: env("MASTER_KEY_FORMAT"), SteeringURI: env("STEERING_URI")})
	if err != nil {
		return nil, err
	}
	return mastermerge.Dispatch(master, pair.HandleEvent), nil
}
