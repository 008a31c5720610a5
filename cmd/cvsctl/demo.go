package main

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/origin"
)

// The demo's regional masters. basic is the master of the install guide (seed 002), relative URIs
// and all; advanced is an fMP4 master with audio groups, subtitles, closed captions, I-frame
// variants and session tags.
var (
	//go:embed demodata/basic.m3u8
	demoBasic []byte
	//go:embed demodata/advanced.m3u8
	demoAdvanced []byte
)

// demoSteeringURI is written into the advanced merge; the demo does not serve it.
const demoSteeringURI = "https://steering.example.com/harbour.json"

// demoRegion is one loopback origin standing in for a region's CloudFront distribution.
type demoRegion struct {
	name, channel string
	base          string // http://127.0.0.1:port
	srv           *http.Server
	requests      atomic.Int64
}

func (r *demoRegion) url(file string) string {
	return r.base + "/out/v1/" + r.channel + "/" + file
}

func runDemo(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "demo")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: cvsctl demo\n\nServes two sample regional masters on loopback, merges them over HTTP with the code\nof cvsctl merge, prints the merged masters and stops.\n")
	}
	if _, code, ok := parseCommand(e, fs, args, 0, 0); !ok {
		return code
	}
	regions := []*demoRegion{
		{name: "eu-west-1", channel: "f53b2dd7810e43f4a05bffec4aa5c7a1"},
		{name: "us-east-1", channel: "3889cc3066c34b11ad01a1be071fb09a"},
	}
	for _, r := range regions {
		if err := r.start(); err != nil {
			return fail(e, err)
		}
		defer r.stop()
	}

	var out strings.Builder
	say := func(format string, a ...any) {
		for _, line := range strings.Split(fmt.Sprintf(format, a...), "\n") {
			out.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
	}
	say("cvsctl demo: two regions, each a loopback HTTP origin in this process:")
	for _, r := range regions {
		say("  %-10s %s", r.name, r.url("index.m3u8"))
	}
	f := &origin.Fetcher{Client: e.client, Timeout: 5 * time.Second, UserAgent: "cvsctl-demo"}
	steps := []struct {
		title, file string
		opts        hls.MergeOptions
		flags       string
	}{
		{
			title: "1. The install guide's master (relative URIs), fetched from both regions and merged as the\n" +
				"   guide does by hand: one header, every URI absolute, same-bitrate variants side by side,\n" +
				"   I-frame variants made absolute and grouped too.",
			file: "index.m3u8",
		},
		{
			title: "2. An advanced fMP4 master (audio groups with CHANNELS, subtitles, closed captions with\n" +
				"   INSTREAM-ID, I-frame variants, session data and keys), merged with content steering:\n" +
				"   every rendition group is namespaced by region, so a variant never plays another region's\n" +
				"   audio, and every variant carries its region as PATHWAY-ID.",
			file:  "advanced/master.m3u8",
			opts:  hls.MergeOptions{SteeringURI: demoSteeringURI},
			flags: "--steering-uri " + demoSteeringURI + " ",
		},
	}
	for _, step := range steps {
		specs := make([]mergeSpec, len(regions))
		args := make([]string, len(regions))
		for i, r := range regions {
			specs[i] = mergeSpec{name: r.name, url: r.url(step.file)}
			args[i] = r.name + "=" + specs[i].url
		}
		say("")
		say("%s", step.title)
		say("   Same as: cvsctl merge %s%s", step.flags, strings.Join(args, " "))
		res, err := fetchAndMerge(ctx, f, specs, step.opts)
		if err != nil {
			fmt.Fprint(e.stdout, out.String())
			return fail(e, err)
		}
		out.Write(res.Playlist)
		printWarnings(&out, "# ", res.Warnings, "")
		say("%s", mergeSummary(len(specs), res))
	}
	say("")
	for _, r := range regions {
		say("%s answered %d requests.", r.name, r.requests.Load())
	}
	say("The variant playlists themselves are not served: this demo shows the merge. Done.")
	if _, err := fmt.Fprint(e.stdout, out.String()); err != nil {
		return exitFailure
	}
	return exitOK
}

// start serves the sample masters on a loopback port.
func (r *demoRegion) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("region %s: listen on loopback: %w", r.name, err)
	}
	r.base = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	serve := func(body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			r.requests.Add(1)
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			w.Write(body)
		}
	}
	mux.Handle("GET /out/v1/"+r.channel+"/index.m3u8", serve(demoBasic))
	mux.Handle("GET /out/v1/"+r.channel+"/advanced/master.m3u8", serve(demoAdvanced))
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return nil
}

func (r *demoRegion) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.srv.Shutdown(ctx)
}
