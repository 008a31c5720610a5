package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/origin"
)

// mergeSpec is one NAME=URL argument.
type mergeSpec struct {
	name, url string
}

func runMerge(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	steering := fs.String("steering-uri", "", "add EXT-X-CONTENT-STEERING with this steering manifest URI; each source becomes a pathway named NAME")
	timeout := fs.Duration("timeout", origin.DefaultTimeout, "time limit for fetching each master playlist")
	maxBytes := fs.Int64("max-bytes", origin.DefaultMaxBytes, "largest master playlist accepted, in bytes")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: cvsctl merge [flags] NAME=URL [NAME=URL ...]

Fetches each region's master playlist and prints one master that lists every variant of every
region as HLS redundant streams, URIs made absolute. NAME is the region (eu-west-1) or any name
of letters, digits, '.', '-' and '_'. Warnings (ladders that differ) go to stderr.

flags:
`)
		fs.PrintDefaults()
	}
	// Flags may come before, between or after the NAME=URL arguments, as for every command.
	sources, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "cvsctl merge: "+format+"\n", a...)
		fs.Usage()
		return exitUsage
	}
	if *timeout <= 0 {
		return usageErr("--timeout must be positive, not %s", *timeout)
	}
	if *maxBytes <= 0 {
		return usageErr("--max-bytes must be positive, not %d", *maxBytes)
	}
	if len(sources) == 0 {
		return usageErr("no sources: give at least one NAME=URL")
	}
	specs, err := parseMergeSpecs(sources)
	if err != nil {
		return usageErr("%v", err)
	}
	f := &origin.Fetcher{Client: e.client, Timeout: *timeout, MaxBytes: *maxBytes, UserAgent: "cvsctl-merge"}
	res, err := fetchAndMerge(ctx, f, specs, hls.MergeOptions{SteeringURI: *steering})
	if err != nil {
		fmt.Fprintf(e.stderr, "cvsctl merge: %v\n", err)
		return exitFailure
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(e.stderr, "cvsctl merge: warning: %s\n", w)
	}
	if _, err := e.stdout.Write(res.Playlist); err != nil {
		fmt.Fprintf(e.stderr, "cvsctl merge: write: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "cvsctl merge: %s\n", mergeSummary(len(specs), res))
	return exitOK
}

// parseMergeSpecs reads NAME=URL arguments.
func parseMergeSpecs(args []string) ([]mergeSpec, error) {
	specs := make([]mergeSpec, 0, len(args))
	seen := map[string]bool{}
	for _, arg := range args {
		name, raw, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not NAME=URL", arg)
		}
		if err := hls.CheckMergeName(name); err != nil {
			return nil, fmt.Errorf("%q: %v", arg, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("name %q given twice", name)
		}
		seen[name] = true
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("%q: %q is not an absolute http(s) URL", arg, raw)
		}
		specs = append(specs, mergeSpec{name: name, url: raw})
	}
	return specs, nil
}

// fetchAndMerge fetches every source's master at once and merges them. It is the code path of
// both cvsctl merge and cvsctl demo. When fetches fail, the error names every failed source.
func fetchAndMerge(ctx context.Context, f *origin.Fetcher, specs []mergeSpec, opts hls.MergeOptions) (*hls.MergeResult, error) {
	sources := make([]hls.MergeSource, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() {
			resp, err := f.Get(ctx, s.url)
			if err != nil {
				errs[i] = fmt.Errorf("source %s: %w", s.name, err)
				return
			}
			// Relative URIs resolve against where the master really was, after redirects.
			sources[i] = hls.MergeSource{Name: s.name, URL: resp.URL, Body: resp.Body}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return hls.Merge(sources, opts)
}

// mergeSummary says what a merge did in one line.
func mergeSummary(n int, r *hls.MergeResult) string {
	s := fmt.Sprintf("merged %s: %s in %s, %s in %s, %s",
		plural(n, "master"), plural(r.Variants, "variant"), plural(r.VariantGroups, "redundant group"),
		plural(r.IFrames, "I-frame variant"), plural(r.IFrameGroups, "group"), plural(r.Renditions, "rendition"))
	if len(r.Warnings) > 0 {
		s += ", " + plural(len(r.Warnings), "warning")
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
