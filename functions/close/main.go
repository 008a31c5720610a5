// Command close is the failover workflow's Close task: the guarded close of an instance's
// distribution in the state table.
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
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout)).Close)
}

// build wires the handler from the environment: TABLE_NAME and CONTROL_REGION (the state table,
// control region only: guarded closes are decided there) and HOLD_DOWN_SECONDS (no close within
// this long of a reopen). It logs JSON to logs.
func build(ctx context.Context, getenv func(string) string, logs io.Writer) (*failover.Closer, error) {
	holdDown, err := lambdaenv.Seconds(getenv, "HOLD_DOWN_SECONDS", "")
	if err != nil {
		return nil, err
	}
	_, store, err := lambdaenv.ConfigAndStore(ctx, getenv, lambdaenv.ControlOnly)
	if err != nil {
		return nil, err
	}
	return &failover.Closer{Store: store, HoldDown: holdDown, Log: lambdaenv.Logger(logs)}, nil
}
