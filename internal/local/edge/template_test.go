package edge

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

var updateTemplate = flag.Bool("update-template", false, "copy functions/copilot/copilot.js into template.yaml's CopilotFunction")

// TestTemplateHoldsTheCopilotFile checks that the FunctionCode CloudFormation deploys, as a
// YAML parser reads it, is byte for byte the copilot.js every other test runs. CloudFormation
// cannot read FunctionCode from a file and neither sam build nor cloudformation package fills
// it in, so template.yaml carries an inline copy; this test keeps it honest.
func TestTemplateHoldsTheCopilotFile(t *testing.T) {
	root := testenv.RepoRoot(t)
	path := filepath.Join(root, "template.yaml")
	js := copilotSource(t)
	if *updateTemplate {
		if err := copyIntoTemplate(path, js); err != nil {
			t.Fatalf("update template: %v", err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	fn := lookup(doc.Content[0], "Resources", "CopilotFunction")
	if fn == nil {
		t.Fatalf("template.yaml has no Resources.CopilotFunction")
	}
	for _, want := range []struct {
		path  []string
		value string
	}{
		{[]string{"Type"}, "AWS::CloudFront::Function"},
		{[]string{"Properties", "AutoPublish"}, "true"},
		{[]string{"Properties", "FunctionConfig", "Runtime"}, "cloudfront-js-2.0"},
	} {
		if n := lookup(fn, want.path...); n == nil || n.Value != want.value {
			t.Errorf("CopilotFunction.%s is not %s", strings.Join(want.path, "."), want.value)
		}
	}
	if n := lookup(fn, "Properties", "FunctionConfig", "KeyValueStoreAssociations"); n == nil || len(n.Content) != 1 {
		t.Errorf("CopilotFunction has no KeyValueStoreAssociations entry")
	}
	code := lookup(fn, "Properties", "FunctionCode")
	if code == nil {
		t.Fatalf("CopilotFunction has no FunctionCode")
	}
	if code.Value != js {
		t.Fatalf("template.yaml's CopilotFunction FunctionCode (%d bytes) differs from %s (%d bytes) at byte %d; run go test ./internal/local/edge -run TestTemplateHoldsTheCopilotFile -update-template",
			len(code.Value), CopilotPath, len(js), firstDifference(code.Value, js))
	}
}

// lookup follows mapping keys from n.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func firstDifference(a, b string) int {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// copyIntoTemplate replaces the literal block after CopilotFunction's `FunctionCode: |` with
// js, indented, leaving every other byte of the template as it is.
func copyIntoTemplate(path, js string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(b), "\n")
	start := -1
	inFunction := false
	for i, l := range lines {
		if strings.HasPrefix(l, "  CopilotFunction:") {
			inFunction = true
		}
		if inFunction && strings.TrimSpace(l) == "FunctionCode: |" {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return os.ErrNotExist
	}
	indent := strings.Repeat(" ", strings.Index(lines[start-1], "FunctionCode")+2)
	end := start
	for end < len(lines) && (strings.TrimSpace(lines[end]) == "" || strings.HasPrefix(lines[end], indent)) {
		end++
	}
	// Blank lines after the block belong to what follows.
	for end > start && strings.TrimSpace(lines[end-1]) == "" {
		end--
	}
	var block strings.Builder
	for _, l := range strings.SplitAfter(js, "\n") {
		if strings.TrimSpace(l) != "" {
			block.WriteString(indent)
		}
		block.WriteString(l)
	}
	out := strings.Join(lines[:start], "") + block.String() + strings.Join(lines[end:], "")
	return os.WriteFile(path, []byte(out), 0o644)
}
