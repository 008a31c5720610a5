// Command api is the manual-override HTTP API's Lambda function: an HTTP API (payload 2.0,
// $default stage, IAM authorization) in front of internal/api on the DynamoDB state table.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

type handlerFunc = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

func main() {
	h, err := build(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		slog.Error("api: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// build wires the handler from the environment: TABLE_NAME (the state table) and CONTROL_REGION
// (the replica that decides guarded closes; default: this function's region). It logs JSON to
// logs (CloudWatch takes stdout).
func build(ctx context.Context, getenv func(string) string, logs io.Writer) (handlerFunc, error) {
	table := getenv("TABLE_NAME")
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	local := dynamodb.NewFromConfig(cfg)
	sc := dynamo.Config{Table: table, ControlRegion: cmp.Or(getenv("CONTROL_REGION"), cfg.Region), Control: local}
	if sc.ControlRegion != cfg.Region {
		sc.Control = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.Region = sc.ControlRegion })
		sc.Local = local
	}
	store, err := dynamo.New(sc)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	return api.LambdaHandler(api.New(api.Options{Store: store, Logger: log})), nil
}
