package main

import (
	"context"
	"errors"
	"fmt"
	"math"
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
	fs := newFlagSet(e, "merge")
	var steering string
	fs.Var(urlFlag{&steering}, "steering-uri", "add EXT-X-CONTENT-STEERING with this steering manifest URI (absolute http(s)); each source becomes a pathway named NAME")
	timeout := origin.DefaultTimeout
	fs.Var(durationFlag{&timeout}, "timeout", "time limit for fetching each master playlist (positive)")
	maxBytes := fs.Int64("max-bytes", hls.DefaultMaxBody, "largest master playlist accepted, in bytes")
	fs.Usage = usageFunc(fs, "[flags] NAME=URL [NAME=URL ...]", `
Fetches each region's master playlist and prints one master that lists every variant of every
region as HLS redundant streams, URIs made absolute. NAME is the region (eu-west-1) or any name
of letters, digits, '.', '-' and '_'. Warnings (ladders that differ) go to stderr, the first
few and a count of the rest. User info in a URL is used to fetch, never copied into the merged
master nor printed.`)
	// Flags may come before, between or after the NAME=URL arguments, as for every command.
	sources, code, ok := parseCommand(e, fs, args, 0, math.MaxInt)
	if !ok {
		return code
	}
	if *maxBytes <= 0 {
		return fail(e, &usageError{fmt.Sprintf("--max-bytes must be positive, not %d", *maxBytes)})
	}
	if len(sources) == 0 {
		return fail(e, &usageError{"no sources: give at least one NAME=URL"})
	}
	specs, warnings, err := parseMergeSpecs(sources)
	if err != nil {
		return fail(e, &usageError{err.Error()})
	}
	f := &origin.Fetcher{Client: e.client, Timeout: timeout, MaxBytes: *maxBytes, UserAgent: "cvsctl-merge"}
	res, err := fetchAndMerge(ctx, f, specs, hls.MergeOptions{SteeringURI: steering})
	if err != nil {
		return fail(e, err)
	}
	for _, w := range res.Warnings {
		warnings = append(warnings, w.String())
	}
	printWarnings(e.stderr, "", warnings, "")
	if _, err := e.stdout.Write(res.Playlist); err != nil {
		return fail(e, fmt.Errorf("write: %w", err))
	}
	fmt.Fprintf(e.stderr, "%s\n", mergeSummary(len(specs), res))
	return exitOK
}

// parseMergeSpecs reads NAME=URL arguments, with a warning for each URL given twice: two names
// for one origin merge into redundant variants that fail together.
func parseMergeSpecs(args []string) ([]mergeSpec, []string, error) {
	specs := make([]mergeSpec, 0, len(args))
	seen := map[string]bool{}
	byURL := map[string]string{}
	var warnings []string
	for _, arg := range args {
		name, raw, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, nil, fmt.Errorf("%q is not NAME=URL", arg)
		}
		if err := hls.CheckMergeName(name); err != nil {
			return nil, nil, fmt.Errorf("%q: %v", arg, err)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("name %q given twice", name)
		}
		seen[name] = true
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, nil, fmt.Errorf("%q: %q is not an absolute http(s) URL", arg, raw)
		}
		// Scheme and host are case-insensitive; user info does not change the origin.
		u.Scheme, u.Host, u.User = strings.ToLower(u.Scheme), strings.ToLower(u.Host), nil
		if first, dup := byURL[u.String()]; dup {
			warnings = append(warnings, fmt.Sprintf("%s and %s have the same URL: their variants are one origin, not redundant", first, name))
		} else {
			byURL[u.String()] = name
		}
		specs = append(specs, mergeSpec{name: name, url: raw})
	}
	return specs, warnings, nil
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
			// Relative URIs resolve against where the master really was, after redirects; the
			// user info that fetched it stays out of the merge and its errors.
			sources[i] = hls.MergeSource{Name: s.name, URL: withoutUserinfo(resp.URL), Body: resp.Body}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return hls.Merge(sources, opts)
}

// withoutUserinfo drops the user info of an absolute URL, and returns anything else as it is.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
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
