package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/clustered-video-streams/cvs/internal/state"
)

func runHistory(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "history")
	f := addAPIFlags(fs)
	domain := fs.String("domain", "", "only this instance's changes")
	limit := fs.Int("limit", 20, "records per page (1-1000)")
	cursor := fs.String("cursor", "", "continue after a previous page (the cursor it printed)")
	all := fs.Bool("all", false, "fetch every page")
	fs.Usage = usageFunc(fs, "[flags] CLUSTER", `
Prints a cluster's audit trail, newest first: every open, close, health change and registration,
who made it, when and why. When more records remain, the cursor for the next page goes to
stderr (or use --all).`)
	pos, code, ok := parseCommand(e, fs, args, 1, 1)
	if !ok {
		return code
	}
	if *limit < 1 || *limit > state.MaxHistoryLimit {
		return fail(e, &usageError{fmt.Sprintf("--limit must be from 1 to %d", state.MaxHistoryLimit)})
	}
	cursorSet := false
	fs.Visit(func(f *flag.Flag) { cursorSet = cursorSet || f.Name == "cursor" })
	if (cursorSet && *cursor == "") || strings.ContainsFunc(*cursor, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return fail(e, &usageError{"--cursor is not one that history printed"})
	}
	if isSet(fs, "domain") && *domain == "" {
		return fail(e, &usageError{"--domain is empty: leave it out for every instance"})
	}
	keys := []string{}
	if *domain != "" {
		keys = append(keys, *domain)
	}
	if err := checkKey(pos[0], keys...); err != nil {
		return fail(e, err)
	}
	ctx, cancel := f.withTimeout(ctx)
	defer cancel()
	c, err := f.client(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	page, err := c.History(ctx, pos[0], *domain, *limit, *cursor)
	if err != nil {
		return fail(e, err)
	}
	for *all && page.Next != "" {
		next, err := c.History(ctx, pos[0], *domain, *limit, page.Next)
		if err != nil {
			return fail(e, err)
		}
		page.Records, page.Next = append(page.Records, next.Records...), next.Next
	}
	if f.json {
		return done(e, printJSON(e.stdout, page))
	}
	if err := printHistory(e.stdout, page.Records); err != nil {
		return done(e, err)
	}
	if page.Next != "" {
		fmt.Fprintf(e.stderr, "more: cvsctl history --cursor %s %s\n", page.Next, pos[0])
	}
	return exitOK
}

func printHistory(w io.Writer, recs []state.AuditRecord) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "no changes recorded")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tDOMAIN\tWHAT\tBEFORE\tAFTER\tBY\tREASON")
	for _, r := range recs {
		what := string(r.Field)
		if r.Force {
			what += " (forced)"
		}
		before, after := r.Before, r.After
		if r.Field == state.FieldRegistration {
			// The registration's JSON is long: the table says that it changed, --json shows it.
			before, after = "", "registered"
			if r.Before != "" {
				after = "updated"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", stamp(r.At), r.Domain, what, dash(before), dash(after),
			shortPrincipal(r.By), dash(r.Reason))
	}
	return tw.Flush()
}
