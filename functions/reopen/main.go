// Command reopen is the failback workflow's Reopen task: it reopens a distribution that the
// failover workflow closed, never one an operator closed.
package main

import (
	"context"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
)

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout)).Reopen)
}

// build wires the handler from the environment: TABLE_NAME and CONTROL_REGION (the state table,
// control region only: who closed the distribution is read where guarded writes are decided).
// It logs JSON to logs.
func build(ctx context.Context, getenv func(string) string, logs io.Writer) (*failover.Reopener, error) {
	_, store, err := lambdaenv.ConfigAndStore(ctx, getenv, lambdaenv.ControlOnly)
	if err != nil {
		return nil, err
	}
	return &failover.Reopener{Store: store, Log: lambdaenv.Logger(logs)}, nil
}
