package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

type nodeCase struct {
	Name  string            `json:"name"`
	KVS   map[string]string `json:"kvs"`
	Fail  bool              `json:"fail,omitempty"`
	Event Event             `json:"event"`
}

type nodeOutput struct {
	Results []struct {
		Name   string         `json:"name"`
		Result map[string]any `json:"result"`
	} `json:"results"`
	Bench []struct {
		Name         string  `json:"name"`
		NsPerRequest float64 `json:"nsPerRequest"`
		Iterations   int     `json:"iterations"`
	} `json:"bench"`
}

// TestCopilotInNodeMatchesGoja runs the real copilot.js in Node (V8, with Node's own ES module
// loader resolving `import cf from 'cloudfront'` to a KeyValueStore emulation), for every
// request class, and checks that Node and goja decide the same. It also reports Node's
// per-request time (CVS_NODE_BENCH_ITERATIONS sets the loop count; default 20000).
func TestCopilotInNodeMatchesGoja(t *testing.T) {
	node := testenv.Command(t, "node", "the Node cross-check of copilot.js")
	kvsItems := testKVS().Items()
	var cases []nodeCase
	for _, rc := range requestClasses {
		for _, d := range []struct{ name, domain string }{{"closed", closedDomain}, {"open", openDomain}, {"unknown", unknownDomain}} {
			cases = append(cases, nodeCase{Name: d.name + " " + rc.name, KVS: kvsItems, Event: viewerEvent(d.domain, "GET", rc.uri)})
		}
		cases = append(cases, nodeCase{Name: "KVS failure " + rc.name, KVS: kvsItems, Fail: true, Event: viewerEvent(closedDomain, "GET", rc.uri)})
	}
	cases = append(cases,
		nodeCase{Name: "steering", KVS: kvsItems, Event: viewerEvent(openDomain, "GET", "/steering/news.json")},
		nodeCase{Name: "steering on a closed distribution", KVS: kvsItems, Event: viewerEvent(closedDomain, "GET", "/steering/news.json")},
		nodeCase{Name: "steering unknown cluster", KVS: kvsItems, Event: viewerEvent(openDomain, "GET", "/steering/sports.json")},
		nodeCase{Name: "steering KVS failure", KVS: kvsItems, Fail: true, Event: viewerEvent(openDomain, "GET", "/steering/news.json")},
		nodeCase{Name: "reason sanitized", KVS: map[string]string{closedDomain: `{"open":false,"reason":"a\nb é"}`}, Event: viewerEvent(closedDomain, "GET", "/a.ts")},
		nodeCase{Name: "not JSON", KVS: map[string]string{closedDomain: `closed`}, Event: viewerEvent(closedDomain, "GET", "/a.ts")},
	)
	iterations := 20000
	if s := os.Getenv("CVS_NODE_BENCH_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("CVS_NODE_BENCH_ITERATIONS=%q: want a positive integer", s)
		}
		iterations = n
	}
	job := map[string]any{
		"cases": cases,
		"bench": []nodeCase{
			{Name: "open segment", KVS: kvsItems, Event: viewerEvent(openDomain, "GET", "/live/news/720p/seg_000123.ts")},
			{Name: "closed segment", KVS: kvsItems, Event: viewerEvent(closedDomain, "GET", "/live/news/720p/seg_000123.ts")},
			{Name: "unknown domain", KVS: kvsItems, Event: viewerEvent(unknownDomain, "GET", "/live/news/720p/index.m3u8")},
			{Name: "steering manifest", KVS: kvsItems, Event: viewerEvent(openDomain, "GET", "/steering/news.json")},
		},
		"iterations": iterations,
	}
	in, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	root := testenv.RepoRoot(t)
	cmd := exec.Command(node, filepath.Join("testdata", "copilot_node.mjs"), filepath.Join(root, filepath.FromSlash(CopilotPath)))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got nodeOutput
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode node output: %v\n%s", err, out)
	}
	if len(got.Results) != len(cases) {
		t.Fatalf("node returned %d results for %d cases", len(got.Results), len(cases))
	}
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r := got.Results[i]
			if e, ok := r.Result["error"]; ok {
				t.Fatalf("node: the handler threw: %v", e)
			}
			nodeRes, err := resultFromExport(r.Result)
			if err != nil {
				t.Fatalf("node result: %v", err)
			}
			kvs := KeyValueStore(mapKVS(c.KVS))
			if c.Fail {
				kvs = KVSFunc(func(context.Context, string) (string, error) { return "", os.ErrDeadlineExceeded })
			}
			gojaRes, err := loadCopilot(t, kvs).Handle(context.Background(), c.Event)
			if err != nil {
				t.Fatalf("goja: %v", err)
			}
			if diff := cmp.Diff(gojaRes, nodeRes); diff != "" {
				t.Fatalf("goja and Node disagree (-goja +node):\n%s", diff)
			}
		})
	}
	for _, b := range got.Bench {
		t.Logf("node %s: %.0f ns/request (%d iterations)", b.Name, b.NsPerRequest, b.Iterations)
	}
}

func mapKVS(items map[string]string) *MemoryKVS {
	m := &MemoryKVS{}
	for k, v := range items {
		m.Put(k, v)
	}
	return m
}
