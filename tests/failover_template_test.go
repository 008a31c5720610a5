package tests

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// foTemplate reads template.yaml as a YAML tree.
func foTemplate(t *testing.T) *yaml.Node {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// foNode follows path from n, failing the test when a key is missing.
func foNode(t *testing.T, n *yaml.Node, path ...string) *yaml.Node {
	t.Helper()
	for i, p := range path {
		if n = child(n, p); n == nil {
			t.Fatalf("template.yaml has no %v", path[:i+1])
		}
	}
	return n
}

// TestTemplateConfirmJudgesWithTheDetectorsSettings: the Confirm task gets the detector's health
// settings from the very same source (a !Ref to one parameter each), so the two cannot drift.
func TestTemplateConfirmJudgesWithTheDetectorsSettings(t *testing.T) {
	root := foTemplate(t)
	vars := func(fn string) *yaml.Node {
		return foNode(t, root, "Resources", fn, "Properties", "Environment", "Variables")
	}
	detector, confirm := vars("DetectorFunction"), vars("ConfirmFunction")
	for _, name := range []string{health.EnvStaleMultiplier, health.EnvMinFailures, health.EnvVideoTolerance, health.EnvAudioTolerance} {
		d, c := child(detector, name), child(confirm, name)
		switch {
		case d == nil:
			t.Errorf("DetectorFunction does not set %s", name)
		case c == nil:
			t.Errorf("ConfirmFunction does not set %s (the detector sets it to %s %s)", name, d.Tag, d.Value)
		case d.Tag != "!Ref" || c.Tag != d.Tag || c.Value != d.Value:
			t.Errorf("%s: DetectorFunction %s %q, ConfirmFunction %s %q; want both !Ref to one parameter", name, d.Tag, d.Value, c.Tag, c.Value)
		default:
			if foNode(t, root, "Parameters", d.Value) == nil {
				t.Errorf("%s refers to no parameter %s", name, d.Value)
			}
		}
	}
}
