package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clustered-video-streams/cvs/internal/aws/sns/snstest"
	localsns "github.com/clustered-video-streams/cvs/internal/local/sns"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/topic"
	"github.com/clustered-video-streams/cvs/internal/topic/topictest"
)

// templateSNSFilters returns every SNS event source of template.yaml's functions that has a
// filter policy, by "<function>.<event>", as JSON with its scope.
func templateSNSFilters(t *testing.T) map[string][2]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// Resolve only the functions' Events: other resources use !Sub names without defaults.
	resources := child(doc.Content[0], "Resources")
	out := map[string][2]string{}
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name := resources.Content[i].Value
		if props := child(resources.Content[i+1], "Properties"); props == nil || child(props, "Events") == nil {
			continue
		}
		evs, _ := templateValue(t, "Resources", name, "Properties", "Events").(map[string]any)
		for evName, ev := range evs {
			ev, _ := ev.(map[string]any)
			p, _ := ev["Properties"].(map[string]any)
			if ev["Type"] != "SNS" || p["FilterPolicy"] == nil {
				continue
			}
			b, err := json.Marshal(p["FilterPolicy"])
			if err != nil {
				t.Fatal(err)
			}
			scope, _ := p["FilterPolicyScope"].(string)
			out[name+"."+evName] = [2]string{string(b), scope}
		}
	}
	if len(out) == 0 {
		t.Fatal("template.yaml has no SNS filter policy: the walk is broken")
	}
	return out
}

// s3Event is the body S3 publishes for an upload of key (URL-encoded as S3 writes it, or with
// %2F as moto does).
func s3Event(key string) topic.Message {
	return topic.Message{Body: fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"cvs-encoder"},"object":{"key":%q,"size":100}}}]}`, key)}
}

// TestTemplateFilterPoliciesOnTheTwin loads every filter policy the template deploys into the
// SNS twin (which refuses operators it does not implement) and checks, on the twin and on
// moto_server alike, which uploads the merge function hears of.
func TestTemplateFilterPoliciesOnTheTwin(t *testing.T) {
	filters := templateSNSFilters(t)
	names := make([]string, 0, len(filters))
	for n := range filters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := localsns.ParseFilter([]byte(filters[n][0]), localsns.Scope(filters[n][1])); err != nil {
			t.Errorf("%s: the twin cannot load the template's policy %s: %v", n, filters[n][0], err)
		}
	}
	merge, ok := filters["MergeFunction.MasterUploads"]
	if !ok {
		t.Fatalf("no MergeFunction.MasterUploads policy among %v", names)
	}
	master := templateValue(t, "Parameters", "EncoderMasterName", "Default").(string)
	msgs := []topic.Message{
		s3Event("primary/" + master), s3Event("failover/" + master),
		s3Event("primary%2F" + master), s3Event("failover%2F" + master),
		s3Event("primary/video_1.m3u8"), s3Event("primary/seg_100.ts"),
		s3Event("other/" + master), s3Event("primary/" + strings.TrimSuffix(master, ".m3u8")),
	}
	want := []bool{true, true, true, true, false, false, false, false}
	for _, h := range []struct {
		name string
		open func(*testing.T) topictest.Harness
	}{{"twin", topictest.Twin}, {"moto", snstest.Moto}} {
		t.Run(h.name, func(t *testing.T) {
			topictest.CheckFilter(t, h.open(t), merge[0], merge[1], msgs, want)
		})
	}
}
