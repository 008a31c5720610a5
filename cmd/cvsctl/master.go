package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
)

func runMaster(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "master")
	f := addAPIFlags(fs)
	var steering string
	fs.Var(playlistURLFlag{&steering}, "steering-uri", "add HLS content steering with this steering server URI (absolute http(s)); each region becomes a pathway")
	fs.Usage = usageFunc(fs, "[flags] CLUSTER", `
Regenerates CLUSTER's merged master playlist through the API: fetches every region's master
through its distribution, merges them into redundant streams, writes the result to every
region's master playlist bucket and invalidates it on the master distribution. When a region's
master cannot be fetched, nothing is written, the previous master stays, and the error names the
region (exit 1).`)
	pos, code, ok := parseCommand(e, fs, args, 1, 1)
	if !ok {
		return code
	}
	if err := checkKey(pos[0]); err != nil {
		return fail(e, err)
	}
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	c, err := f.client(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	res, err := c.RegenerateMaster(ctx, pos[0], api.MasterRequest{SteeringURI: steering})
	if err != nil {
		return fail(e, err)
	}
	printWarnings(e.stderr, "", res.Warnings, "; --json lists them all")
	if f.json {
		return done(e, printJSON(e.stdout, res))
	}
	return done(e, printMaster(e.stdout, res))
}

// printMaster says where the master went and what it holds.
func printMaster(w io.Writer, r regen.Result) error {
	var targets []string
	for _, t := range r.Targets {
		what := "written"
		if t.Unchanged {
			what = "unchanged"
		}
		targets = append(targets, fmt.Sprintf("%s %s (s3://%s)", t.Region, what, t.Bucket))
	}
	inv := "no invalidation"
	if r.InvalidationID != "" {
		inv = "invalidation " + r.InvalidationID
	}
	_, err := fmt.Fprintf(w, "master %s/%s: %s; %s; %s in %s, %s, %s from %s\n", r.Cluster, r.Key, strings.Join(targets, ", "), inv,
		plural(r.Variants, "variant"), plural(r.VariantGroups, "redundant group"), plural(r.IFrames, "I-frame variant"),
		plural(r.Renditions, "rendition"), plural(len(r.Sources), "region"))
	return err
}
