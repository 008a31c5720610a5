package main

import (
	"context"

	"github.com/clustered-video-streams/cvs/internal/api"
)

func runRegister(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "register")
	f := addAPIFlags(fs)
	var req api.RegisterRequest
	fs.Var(regionFlag{&req.Region}, "region", "the AWS region the instance runs in, e.g. eu-west-1 (required)")
	fs.Var(playlistURLFlag{&req.OriginPlaylistURL}, "origin", "the origin's playlist URL the detector polls (https; required)")
	fs.Var(playlistURLFlag{&req.DistributionPlaylistURL}, "distribution", "the playlist URL through this distribution (https; a custom domain is fine; required)")
	fs.StringVar(&req.Reason, "reason", "", "why (recorded in the audit trail; default \"registered\")")
	fs.Var(versionFlag{&req.ExpectedVersion}, "if-version", "update only if the instance is still at this version (0: any)")
	fs.Usage = usageFunc(fs, "[flags] CLUSTER DOMAIN", `
Registers a stream instance, or updates its region and URLs. DOMAIN is the regional
distribution's CloudFront domain (d111111abcdef8.cloudfront.net), the name the edge function
sees. A new instance starts open, health unknown, until the detector reports on it.`)
	pos, code, ok := parseCommand(e, fs, args, 2, 2)
	if !ok {
		return code
	}
	if err := checkKey(pos[0], pos[1]); err != nil {
		return fail(e, err)
	}
	if err := required(fs, "region", "origin", "distribution"); err != nil {
		return fail(e, err)
	}
	if req.Reason != "" {
		if err := checkReason(req.Reason); err != nil {
			return fail(e, err)
		}
	}
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	c, err := f.client(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	inst, err := c.Register(ctx, pos[0], pos[1], req)
	if err != nil {
		return fail(e, err)
	}
	return done(e, printChange(e.stdout, f.json, "registered", inst))
}
