// Package lambdaenv is the wiring every Lambda function's main shares: the AWS configuration,
// the state table's store as TABLE_NAME and CONTROL_REGION name it (with or without the local
// fallback), the JSON logger CloudWatch reads, whole-second settings and the end of a failed start.
package lambdaenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

// AWSConfig loads the SDK's default configuration: in Lambda, the function's role and region.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// Logger returns a JSON logger writing to w (a function's main passes stdout, which CloudWatch
// Logs collects).
func Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// Fallback says whether a state store may use this region's replica when the control region's
// is unreachable; README "The state table and the control region" says which functions do.
type Fallback bool

// Fallback values.
const (
	// LocalFallback adds a client of this region's replica when the control region is another.
	LocalFallback Fallback = true
	// ControlOnly reads and writes the control region's replica only.
	ControlOnly Fallback = false
)

// StateStore returns the state table's store: TABLE_NAME (required) in the replica of
// CONTROL_REGION (default: cfg.Region, this function's region), with this region's replica as
// the fallback when fallback is LocalFallback and the control region is another. opts adjust
// both DynamoDB clients.
func StateStore(cfg aws.Config, getenv func(string) string, fallback Fallback, opts ...func(*dynamodb.Options)) (*dynamo.Store, error) {
	table := getenv("TABLE_NAME")
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set")
	}
	control := cmp.Or(getenv("CONTROL_REGION"), cfg.Region)
	sc := dynamo.Config{Table: table, ControlRegion: control,
		Control: dynamodb.NewFromConfig(cfg, append(opts[:len(opts):len(opts)], func(o *dynamodb.Options) { o.Region = control })...)}
	if fallback && control != cfg.Region {
		sc.Local = dynamodb.NewFromConfig(cfg, opts...)
	}
	store, err := dynamo.New(sc)
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	return store, nil
}

// ConfigAndStore loads the AWS configuration (AWSConfig) and builds the state store on it
// (StateStore): how the functions on the state table start.
func ConfigAndStore(ctx context.Context, getenv func(string) string, fallback Fallback) (aws.Config, *dynamo.Store, error) {
	cfg, err := AWSConfig(ctx)
	if err != nil {
		return cfg, nil, err
	}
	store, err := StateStore(cfg, getenv, fallback)
	return cfg, store, err
}

// Seconds reads the environment variable key as a whole, non-negative number of seconds. An
// empty value is an error unless def is not empty, when def stands for it.
func Seconds(getenv func(string) string, key, def string) (time.Duration, error) {
	v := cmp.Or(getenv(key), def)
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a whole number of seconds", key, getenv(key))
	}
	return time.Duration(n) * time.Second, nil
}

// Must returns v, the handler a function's build made, or, when err is set, logs it as the
// reason the function cannot start and ends the process with status 1, which Lambda reports
// as an initialization error.
func Must[T any](v T, err error) T {
	return must(v, err, os.Stdout, os.Exit)
}

func must[T any](v T, err error, logs io.Writer, exit func(int)) T {
	if err != nil {
		Logger(logs).Error("cannot start", "function", os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), "err", err.Error())
		exit(1)
	}
	return v
}
