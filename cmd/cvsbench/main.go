// Command cvsbench prints the README's performance table (what `make bench` runs); `cvsbench
// origin` is the loopback playlist origin it starts in a separate process.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"github.com/clustered-video-streams/cvs/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "origin" {
		err = origin(ctx, os.Args[2:])
	} else {
		err = run(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cvsbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cvsbench", flag.ExitOnError)
	r := &bench.Runner{Out: os.Stdout, Log: os.Stderr}
	fs.IntVar(&r.Procs, "cpu", runtime.GOMAXPROCS(0), "GOMAXPROCS for the Go benchmarks")
	fs.StringVar(&r.Benchtime, "benchtime", "1s", "-benchtime of the Go benchmarks")
	fs.DurationVar(&r.PeerTime, "peertime", time.Second, "how long each peer parser runs on each body")
	fs.IntVar(&r.Polls, "polls", 20000, "detector polls per measurement")
	fs.BoolVar(&r.Demo, "demo", true, "run the demo's failover timeline (cvsctl demo --json) when cvsctl has it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r.Root, r.OriginCmd = root, []string{self, "origin"}
	return r.Run(ctx)
}

func origin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cvsbench origin", flag.ExitOnError)
	var cfg bench.OriginConfig
	fs.StringVar(&cfg.CertFile, "cert", "", "serve TLS and write the self-signed certificate here")
	fs.DurationVar(&cfg.Lifetime, "for", 2*time.Minute, "stop after this long in any case")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return bench.ServeOrigin(ctx, cfg, os.Stdin, os.Stdout)
}

// repoRoot is the nearest directory above the working directory that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s: run cvsbench inside the repository", dir)
		}
		dir = parent
	}
}
