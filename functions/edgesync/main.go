// Command edgesync mirrors the state table's DynamoDB stream into the copilot's KeyValueStore.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/edgesync"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

func main() {
	h, err := build(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("edgesync: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// build wires the handler from the environment: KVS_ARN (the KeyValueStore), TABLE_NAME (the
// state table), CONTROL_REGION (whose replica the state is read from; default: this region)
// and STEERING_TTL_SECONDS (optional). kvsOpts adjust the KeyValueStore client (tests).
func build(ctx context.Context, getenv func(string) string, kvsOpts ...func(*cloudfrontkeyvaluestore.Options)) (*edgesync.Handler, error) {
	arn, table := getenv("KVS_ARN"), getenv("TABLE_NAME")
	if arn == "" || table == "" {
		return nil, errors.New("KVS_ARN and TABLE_NAME must be set")
	}
	ttl, err := strconv.Atoi(cmp.Or(getenv("STEERING_TTL_SECONDS"), "0"))
	if err != nil || ttl < 0 {
		return nil, fmt.Errorf("STEERING_TTL_SECONDS=%q: want a whole number of seconds", getenv("STEERING_TTL_SECONDS"))
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
		return nil, fmt.Errorf("state store: %w", err)
	}
	log, kvs := slog.New(slog.NewJSONHandler(os.Stdout, nil)), cloudfrontkeyvaluestore.NewFromConfig(cfg, kvsOpts...)
	return &edgesync.Handler{Log: log, Sync: &edgesync.Syncer{Store: store, KVS: kvs, KVSARN: arn, SteeringTTL: ttl, Log: log}}, nil
}
