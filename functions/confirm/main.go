// Command confirm is the workflows' Confirm task: a fresh, cache-busting probe of an instance's
// origin playlists, judged by the detector's rules and settings.
package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/lambdaenv"
	"github.com/clustered-video-streams/cvs/internal/origin"
)

// probeTimeout bounds each playlist fetch; the task's own timeout is 20 s.
const probeTimeout = 5 * time.Second

func main() {
	lambda.Start(lambdaenv.Must(build(context.Background(), os.Getenv, os.Stdout)).Confirm)
}

// build wires the handler from the environment: TABLE_NAME and CONTROL_REGION (the state table,
// whose audit trail fresh mode reads in the control region), and the detector's health settings
// as health.PolicyFromEnv reads them (STALE_MULTIPLIER, MIN_FAILURES, VIDEO_TOLERANCE,
// AUDIO_TOLERANCE, MAX_PLAYLIST_BYTES). It logs JSON to logs.
func build(ctx context.Context, getenv func(string) string, logs io.Writer) (*failover.Confirmer, error) {
	pol, err := health.PolicyFromEnv(getenv)
	if err == nil {
		pol, err = pol.WithDefaults()
	}
	if err != nil {
		return nil, err
	}
	_, store, err := lambdaenv.ConfigAndStore(ctx, getenv, lambdaenv.ControlOnly)
	if err != nil {
		return nil, err
	}
	return &failover.Confirmer{
		Fetcher: &origin.Fetcher{Client: &http.Client{}, Timeout: probeTimeout, MaxBytes: pol.Tracker.MaxBody, UserAgent: "cvs-confirm"},
		History: store,
		Policy:  pol,
		Log:     lambdaenv.Logger(logs),
	}, nil
}
