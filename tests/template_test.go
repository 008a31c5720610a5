package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestTemplateLints runs cfn-lint (with the SAM translator) over template.yaml.
func TestTemplateLints(t *testing.T) {
	lint := testenv.Command(t, "cfn-lint", "the template check")
	root := testenv.RepoRoot(t)
	cmd := exec.Command(lint, "--format", "parseable", filepath.Join(root, "template.yaml"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}

// TestEveryFunctionIsDeployableAndInvokable checks that each Lambda folder has a main.go, is a
// CodeUri of the template and has at least one sample event for `sam local invoke`.
func TestEveryFunctionIsDeployableAndInvokable(t *testing.T) {
	root := testenv.RepoRoot(t)
	tmpl, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		t.Run(name, func(t *testing.T) {
			if name == "copilot" {
				if _, err := os.Stat(filepath.Join(root, "functions", name, "copilot.js")); err != nil {
					t.Fatalf("functions/copilot holds no copilot.js: %v", err)
				}
				return
			}
			if _, err := os.Stat(filepath.Join(root, "functions", name, "main.go")); err != nil {
				t.Fatalf("functions/%s has no main.go", name)
			}
			if !strings.Contains(string(tmpl), "CodeUri: functions/"+name) {
				t.Errorf("template.yaml has no function with CodeUri: functions/%s", name)
			}
			events, _ := filepath.Glob(filepath.Join(root, "events", name+"-*.json"))
			if len(events) == 0 {
				t.Errorf("no events/%s-*.json sample for sam local invoke", name)
			}
		})
	}
}
