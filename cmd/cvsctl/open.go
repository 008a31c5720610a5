package main

import (
	"context"

	"github.com/clustered-video-streams/cvs/internal/api"
)

func runOpen(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "open")
	f := addAPIFlags(fs)
	reason := fs.String("reason", "", "why (required; recorded in the audit trail)")
	force := fs.Bool("force", false, "open even while the control region is unreachable (written to this region's replica, audited as a fallback)")
	var ifVersion int64
	fs.Var(versionFlag{&ifVersion}, "if-version", "open only if the instance is still at this version (from status; 0: any)")
	fs.Usage = usageFunc(fs, "[flags] --reason TEXT CLUSTER DOMAIN", `
Opens an instance's distribution again: its edge serves viewers. While the control region is
unreachable the API refuses (503) unless --force.`)
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
	inst, err := c.Open(ctx, pos[0], pos[1], api.OpenRequest{Reason: *reason, Force: *force, ExpectedVersion: ifVersion})
	if err != nil {
		return fail(e, err)
	}
	return done(e, printChange(e.stdout, f.json, "opened", inst))
}
