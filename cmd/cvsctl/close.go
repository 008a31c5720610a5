package main

import (
	"context"
	"fmt"
	"io"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/state"
)

func runClose(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "close")
	f := addAPIFlags(fs)
	reason := fs.String("reason", "", "why (required; recorded in the audit trail)")
	force := fs.Bool("force", false, "close even the cluster's last open, healthy instance (viewers may lose the stream)")
	var ifVersion int64
	fs.Var(versionFlag{&ifVersion}, "if-version", "close only if the instance is still at this version (from status; 0: any)")
	fs.Usage = usageFunc(fs, "[flags] --reason TEXT CLUSTER DOMAIN", `
Closes an instance's distribution: its edge answers 404 and players move to another region.
The guard refuses (exit 3) when no other instance of the cluster is open and healthy, unless
--force.`)
	pos, code, ok := parseCommand(e, fs, args, 2, 2)
	if !ok {
		return code
	}
	if err := checkKey(pos[0], pos[1]); err != nil {
		return fail(e, err)
	}
	if err := checkReason(*reason); err != nil {
		return fail(e, err)
	}
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	c, err := f.client(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	inst, err := c.Close(ctx, pos[0], pos[1], api.CloseRequest{Reason: *reason, Force: *force, ExpectedVersion: ifVersion})
	if err != nil {
		return fail(e, err)
	}
	return done(e, printChange(e.stdout, f.json, "closed", inst))
}

// printChange reports the instance after a write.
func printChange(w io.Writer, asJSON bool, verb string, i state.Instance) error {
	if asJSON {
		return printJSON(w, i)
	}
	state := "open"
	if !i.Open {
		state = "closed"
	}
	_, err := fmt.Fprintf(w, "%s %s/%s: now %s, health %s, version %d, by %s\n", verb, i.Cluster, i.Domain, state, i.Health, i.Version, i.ChangedBy)
	return err
}
