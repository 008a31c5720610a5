// Command tablestream is the custom resource that looks up the stream ARN of this region's
// replica of the state table for the edge sync's event source (stacks outside the control region).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/tablestream"
)

func main() {
	cfg := lambdaenv.Must(lambdaenv.AWSConfig(context.Background()))
	lambda.Start(cfn.LambdaWrap(tablestream.Handler(dynamo.StreamFinder{Client: dynamodb.NewFromConfig(cfg)}, lambdaenv.Logger(os.Stdout))))
}
