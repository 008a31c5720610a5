package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/state"
)

func runStatus(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "status")
	f := addAPIFlags(fs)
	fs.Usage = usageFunc(fs, "[flags] [CLUSTER]", `
Without CLUSTER, lists every cluster with how many of its instances are open and healthy.
With CLUSTER, shows each instance: region, domain, health, open or closed, version, last change,
who made it and why.`)
	pos, code, ok := parseCommand(e, fs, args, 0, 1)
	if !ok {
		return code
	}
	if len(pos) == 1 {
		if err := checkKey(pos[0]); err != nil {
			return fail(e, err)
		}
	}
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	c, err := f.client(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	if len(pos) == 0 {
		list, err := c.Clusters(ctx)
		if err != nil {
			return fail(e, err)
		}
		if f.json {
			return done(e, printJSON(e.stdout, list))
		}
		return done(e, printClusters(e.stdout, list))
	}
	cl, err := c.Cluster(ctx, pos[0])
	if err != nil {
		return fail(e, err)
	}
	if f.json {
		return done(e, printJSON(e.stdout, cl))
	}
	return done(e, printInstances(e.stdout, cl.Instances))
}

// done turns a write error on stdout into exit code 1.
func done(e *env, err error) int {
	if err != nil {
		return fail(e, fmt.Errorf("write: %w", err))
	}
	return exitOK
}

func printClusters(w io.Writer, list api.ClusterList) error {
	if len(list.Clusters) == 0 {
		_, err := fmt.Fprintln(w, "no clusters registered")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tINSTANCES\tOPEN\tHEALTHY\t")
	for _, c := range list.Clusters {
		note := ""
		if c.Healthy == 0 {
			note = "no open, healthy instance"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", c.Cluster, c.Instances, c.Open, c.Healthy, note)
	}
	return tw.Flush()
}

func printInstances(w io.Writer, insts []state.Instance) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tDOMAIN\tHEALTH\tSTATE\tVERSION\tLAST CHANGE\tBY\tREASON")
	for _, i := range insts {
		st := "open"
		if !i.Open {
			st = "closed"
		}
		last := i.OpenChangedAt
		if i.HealthChangedAt.After(last) {
			last = i.HealthChangedAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", i.Region, i.Domain, i.Health, st, i.Version,
			stamp(last), shortPrincipal(i.ChangedBy), dash(i.Reason))
	}
	return tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	q := strconv.Quote(s) // keeps a table on one line whatever the text holds
	return q[1 : len(q)-1]
}
