package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/clustered-video-streams/cvs/internal/local/runtime"
)

// localFlags binds the flags of `cvsctl local` to a Config holding the defaults.
func localFlags(fs *flag.FlagSet) *runtime.Config {
	c := runtime.DefaultConfig()
	if u := os.Getenv("USER"); u != "" {
		c.User = u
	}
	fs.StringVar(&c.Listen, "listen", c.Listen, "loopback host:port; port 0 gives every server a free port, port P gives them P, P+1, ...")
	fs.IntVar(&c.Regions, "regions", c.Regions, "number of regions, at least 2")
	fs.DurationVar(&c.SegmentDuration, "segment-duration", c.SegmentDuration, "the origins' segment duration, whole seconds")
	fs.StringVar(&c.DynamoDBEndpoint, "dynamodb-endpoint", "", "keep the state in this DynamoDB Local (URL) instead of in memory")
	fs.StringVar(&c.Repo, "repo", "", "the repository whose copilot.js and state machines run (default: found from the working directory)")
	// Flags of the template's Parameters (runtime.Parameters), with the template's defaults.
	fs.BoolVar(&c.EnableFailback, "failback", c.EnableFailback, "EnableFailback: reopen a closed region once fresh for the hold-down")
	fs.IntVar(&c.HoldDownSeconds, "hold-down-seconds", c.HoldDownSeconds, "HoldDownSeconds: failback hold-down, and no close within this long of a reopen")
	fs.Float64Var(&c.StaleMultiplier, "stale-multiplier", c.StaleMultiplier, "StaleMultiplier: target durations without a new segment before a playlist is stale")
	fs.IntVar(&c.MinFailures, "min-failures", c.MinFailures, "MinFailures: consecutive failed requests for a playlist to be unreachable")
	fs.IntVar(&c.VideoTolerance, "video-tolerance", c.VideoTolerance, "VideoTolerance: stale video playlists an instance may have and stay fresh")
	fs.IntVar(&c.AudioTolerance, "audio-tolerance", c.AudioTolerance, "AudioTolerance: stale audio playlists an instance may have and stay fresh")
	fs.Int64Var(&c.MaxPlaylistBytes, "max-playlist-bytes", c.MaxPlaylistBytes, "MaxPlaylistBytes: the largest playlist read")
	fs.IntVar(&c.SteeringTTLSeconds, "steering-ttl-seconds", c.SteeringTTLSeconds, "SteeringTTLSeconds: TTL of the content steering manifest")
	fs.IntVar(&c.EdgeReconcileMinutes, "edge-reconcile-minutes", c.EdgeReconcileMinutes, "EdgeReconcileMinutes: period of the edge sync's full reconcile")
	fs.StringVar(&c.StateTableName, "state-table-name", c.StateTableName, "StateTableName: the state table, with --dynamodb-endpoint (created when missing)")
	return &c
}

func runLocal(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "local")
	cfg := localFlags(fs)
	fs.Usage = usageFunc(fs, "[flags]", `
Runs the whole system in this process, with no AWS: per region a simulated live origin, the
detector, the trigger, the failover (and with --failback the failback) workflows and an edge
running the copilot; shared, the state store, edge sync, the API and dashboard, and the master
distribution. Line 1 of stdout is a JSON object with master_url, api_url, dashboard_url,
control_url and regions; every later line is a JSON log line. POST
{control_url}/regions/{name}/encoder {"state":"stalled"} stalls a region's encoder (running,
stalled, error, missing, ended, late, restart, error-once); POST .../regions/{name}/redeliver
delivers its last detector event again; POST {control_url}/control-region {"state":"down"}
simulates a control-region outage (memory store). Stop with Ctrl-C.`)
	if _, code, ok := parseCommand(e, fs, args, 0, 0); !ok {
		return code
	}
	if err := cfg.Check(); err != nil {
		return fail(e, &usageError{err.Error()})
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runtime.Run(ctx, *cfg, e.stdout, e.stderr); err != nil {
		return fail(e, err)
	}
	return exitOK
}
