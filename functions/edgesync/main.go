// Command edgesync mirrors the state table's DynamoDB stream into the copilot's KeyValueStore,
// and on a schedule reconciles the whole store with the table.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"

	awskvs "github.com/clustered-video-streams/cvs/internal/aws/kvs"
	"github.com/clustered-video-streams/cvs/internal/edgesync"
	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
)

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout)).Invoke)
}

// build wires the function from the environment: KVS_ARN (the KeyValueStore), TABLE_NAME and
// CONTROL_REGION (the state table, with this region's replica as the fallback; the reconcile
// confirms removed instances in the control region's alone) and STEERING_TTL_SECONDS
// (optional). It logs JSON to logs; kvsOpts adjust the KeyValueStore client (tests).
func build(ctx context.Context, getenv func(string) string, logs io.Writer, kvsOpts ...func(*cloudfrontkeyvaluestore.Options)) (*edgesync.Function, error) {
	arn := getenv("KVS_ARN")
	if arn == "" || getenv("TABLE_NAME") == "" {
		return nil, errors.New("KVS_ARN and TABLE_NAME must be set")
	}
	ttl, err := lambdaenv.Seconds(getenv, "STEERING_TTL_SECONDS", "0")
	if err != nil {
		return nil, err
	}
	cfg, store, err := lambdaenv.ConfigAndStore(ctx, getenv, lambdaenv.LocalFallback)
	if err != nil {
		return nil, err
	}
	authority, err := lambdaenv.StateStore(cfg, getenv, lambdaenv.ControlOnly)
	if err != nil {
		return nil, err
	}
	log, kvs := lambdaenv.Logger(logs), cloudfrontkeyvaluestore.NewFromConfig(cfg, kvsOpts...)
	sync := &edgesync.Syncer{Store: store, KVS: awskvs.New(kvs, arn), SteeringTTL: int(ttl / time.Second), Log: log}
	return &edgesync.Function{Log: log, Stream: &edgesync.Handler{Log: log, Sync: sync},
		Reconcile: &edgesync.Reconciler{Sync: sync, Registry: store, Authority: authority, Log: log}}, nil
}
