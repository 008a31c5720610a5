// Command api is the manual-override HTTP API's Lambda function: an HTTP API (payload 2.0,
// $default stage, IAM authorization) in front of internal/api on the DynamoDB state table.
package main

import (
	"context"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/clustered-video-streams/cvs/internal/api"
	lambdaadapter "github.com/clustered-video-streams/cvs/internal/aws/lambda"
	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
)

type handlerFunc = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout)))
}

// build wires the handler from the environment: TABLE_NAME and CONTROL_REGION (the state
// table, with this region's replica as the fallback) and MERGE_FUNCTION_NAME (optional: the
// merge function that POST /clusters/{cluster}/master invokes). It logs JSON to logs.
func build(ctx context.Context, getenv func(string) string, logs io.Writer) (handlerFunc, error) {
	cfg, store, err := lambdaenv.ConfigAndStore(ctx, getenv, lambdaenv.LocalFallback)
	if err != nil {
		return nil, err
	}
	o := api.Options{Store: store, Logger: lambdaenv.Logger(logs)}
	if name := getenv("MERGE_FUNCTION_NAME"); name != "" {
		o.Master = &regen.Invoker{Functions: lambdaadapter.New(awslambda.NewFromConfig(cfg)), FunctionName: name}
	}
	return api.LambdaHandler(api.New(o)), nil
}
