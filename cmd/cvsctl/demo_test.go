package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/hls"
)

// The demo prints its narration as playlist comments, so each merged master it prints parses as
// is. It must merge both samples over its loopback origins, each region's URIs pointing at that
// region, and stop by itself.
func TestDemo(t *testing.T) {
	code, stdout, stderr := runCLI(t, "demo")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	hosts := regexp.MustCompile(`(?m)^#   (eu-west-1|us-east-1) +(http://127\.0\.0\.1:\d+)/`).FindAllStringSubmatch(stdout, -1)
	if len(hosts) != 2 {
		t.Fatalf("the demo does not say where its two regions listen:\n%s", stdout)
	}
	eu, us := hosts[0][2], hosts[1][2]
	parts := strings.Split(stdout, "#EXTM3U\n")
	if len(parts) != 3 {
		t.Fatalf("want 2 merged masters in the output, got %d", len(parts)-1)
	}
	for i, want := range []struct{ variants, iframes, renditions int }{{6, 2, 0}, {12, 8, 12}} {
		m, err := hls.ParseMaster([]byte("#EXTM3U\n" + parts[i+1]))
		if err != nil {
			t.Fatalf("merged master %d does not parse: %v", i+1, err)
		}
		if len(m.Variants) != want.variants || len(m.IFrames) != want.iframes || len(m.Renditions) != want.renditions {
			t.Errorf("merged master %d: %d variants, %d I-frame variants, %d renditions; want %+v",
				i+1, len(m.Variants), len(m.IFrames), len(m.Renditions), want)
		}
		for j, v := range m.Variants {
			host := []string{eu, us}[j%2] // redundant pairs: eu-west-1 first
			if !strings.HasPrefix(v.URI, host+"/") {
				t.Errorf("merged master %d variant %d: %s, want it on %s", i+1, j, v.URI, host)
			}
		}
	}
	for _, want := range []string{"# eu-west-1 answered 2 requests.\n", "# us-east-1 answered 2 requests.\n", "PATHWAY-ID=\"us-east-1\""} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
}
