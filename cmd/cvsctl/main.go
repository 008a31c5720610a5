// Command cvsctl is the operator's and developer's tool for Clustered Video Streams. Against the
// operator API (--endpoint, or CVS_ENDPOINT) it shows clusters and instances (status), closes
// and opens an instance's distribution (close, open), reads the audit trail (history), registers
// instances (register), regenerates a cluster's merged master (master) and serves the dashboard
// on loopback (dashboard). Offline, it merges regional master playlists fetched over HTTP (merge)
// and runs the local demo (demo). Flags may come before, between or after the arguments; run
// "cvsctl help" for every command's synopsis.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// env is what every subcommand works with.
type env struct {
	stdout, stderr io.Writer
	client         *http.Client
}

// command is one subcommand: its name, its argument synopsis, a one-line summary and what runs it
// with the arguments after its name.
type command struct {
	name, synopsis, summary string
	run                     func(ctx context.Context, e *env, args []string) int
}

// commands is every subcommand, in the order the usage text lists them.
var commands = []command{
	{"merge", "[--steering-uri URI] [--timeout D] [--max-bytes N] NAME=URL [NAME=URL ...]", "fetch regional master playlists and print them merged into one", runMerge},
	{"demo", "[--segment-duration D] [--failback] [--json] [--keep]", "the failover, watched by a player: stall the region played, see the switch (what make demo runs)", runDemo},
	{"status", "[CLUSTER]", "show clusters, or one cluster's instances: health, open/closed, last change", runStatus},
	{"close", "--reason TEXT [--force] CLUSTER DOMAIN", "close an instance's distribution (the guard may refuse: exit 3)", runClose},
	{"open", "--reason TEXT [--force] CLUSTER DOMAIN", "open an instance's distribution again", runOpen},
	{"history", "[--domain D] [--limit N] [--cursor C] [--all] CLUSTER", "show a cluster's audit trail, newest first", runHistory},
	{"register", "--region R --origin URL --distribution URL CLUSTER DOMAIN", "register or update a stream instance", runRegister},
	{"master", "[--steering-uri URI] CLUSTER", "regenerate a cluster's merged master in every region's bucket and invalidate it", runMaster},
	{"dashboard", "[--listen ADDR]", "serve the dashboard on loopback, signing its API calls with your credentials", runDashboard},
	{"local", "[--regions N] [--segment-duration D] [--failback] [--dynamodb-endpoint URL] [flags]", "run the whole system in this process, no AWS (line 1: JSON of its URLs)", runLocal},
	{"deploy-plan", "[--stack-name NAME] CONTROL_REGION [REGION ...]", "print the sam deploy commands, in order, from the deployed stacks' outputs", runDeployPlan},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := (&env{stdout: os.Stdout, stderr: os.Stderr, client: &http.Client{}}).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the exit code.
func (e *env) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		e.usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		e.usage(e.stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			stderr := &prefixWriter{prefix: "cvsctl " + c.name + ": ", out: e.stderr}
			defer stderr.Flush()
			return c.run(ctx, &env{stdout: e.stdout, stderr: stderr, client: e.client}, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "cvsctl: unknown command %q: run cvsctl help for the commands\n", redact(args[0]))
	return exitUsage
}

func (e *env) usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: cvsctl <command> [arguments]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %s\n        %s\n", strings.TrimSpace(c.name+" "+c.synopsis), c.summary)
	}
	b.WriteString("\nRun cvsctl <command> -h for a command's flags.\n")
	io.WriteString(w, b.String())
}
