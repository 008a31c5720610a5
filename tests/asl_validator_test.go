package tests

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// dummySubstitutions are what SAM's DefinitionSubstitutions would put in place of every
// ${Name} the definitions use, with the shapes of real ARNs.
var dummySubstitutions = map[string]string{
	contract.SubstConfirmFunctionArn:   "arn:aws:lambda:eu-west-1:123456789012:function:cvs-confirm",
	contract.SubstCloseFunctionArn:     "arn:aws:lambda:eu-west-1:123456789012:function:cvs-close",
	contract.SubstReopenFunctionArn:    "arn:aws:lambda:eu-west-1:123456789012:function:cvs-reopen",
	contract.SubstNotificationTopicArn: "arn:aws:sns:eu-west-1:123456789012:cvs-notifications",
	contract.SubstPartition:            "aws",
}

var substitutionRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// definitions returns every statemachines/*.asl.json by file name.
func definitions(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "statemachines", "*.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no statemachines/*.asl.json")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// substituted replaces every ${Name} with its dummy value; an unknown name fails the test, so
// a new substitution gets a value here and a line in the template.
func substituted(t *testing.T, name string, def []byte) []byte {
	t.Helper()
	var unknown []string
	out := substitutionRE.ReplaceAllStringFunc(string(def), func(s string) string {
		v, ok := dummySubstitutions[s[2:len(s)-1]]
		if !ok {
			unknown = append(unknown, s)
		}
		return v
	})
	if len(unknown) > 0 {
		t.Fatalf("%s uses substitutions with no dummy value: %v", name, unknown)
	}
	return []byte(out)
}

// validate runs asl-validator on one definition and returns its exit error and output.
func validate(t *testing.T, bin string, def []byte) (string, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "definition.asl.json")
	if err := os.WriteFile(f, def, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--json-path", f).CombinedOutput()
	return string(out), err
}

func TestStateMachinesPassASLValidator(t *testing.T) {
	bin := testenv.NodeBin(t, "asl-validator")
	names := make([]string, 0)
	defs := definitions(t)
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			out, err := validate(t, bin, substituted(t, name, defs[name]))
			if err != nil {
				t.Fatalf("asl-validator rejected %s: %v\n%s", name, err, out)
			}
			if !strings.Contains(out, "is valid") {
				t.Errorf("asl-validator said %q", out)
			}
		})
	}
}

func TestASLValidatorRejectsBrokenDefinitions(t *testing.T) {
	// The check above can fail: the validator refuses broken copies of our own definition.
	bin := testenv.NodeBin(t, "asl-validator")
	good := substituted(t, "failover.asl.json", definitions(t)["failover.asl.json"])
	tests := []struct {
		name   string
		mutate func(states map[string]any)
		want   string
	}{
		{"transition to a missing state", func(s map[string]any) { s["IsConfirmed"].(map[string]any)["Default"] = "Nowhere" },
			"Missing 'StartAt'|'Next'|'Default' target: Nowhere"},
		{"retry interval of the wrong type", func(s map[string]any) {
			s["Confirm"].(map[string]any)["Retry"].([]any)[0].(map[string]any)["IntervalSeconds"] = "one"
		}, "/States/Confirm/Retry/0/IntervalSeconds is invalid"},
		{"misspelt Next", func(s map[string]any) {
			c := s["Close"].(map[string]any)
			c["Nextt"] = c["Next"]
			delete(c, "Next")
		}, "/States/Close is invalid"},
		{"result path that is not a reference path", func(s map[string]any) { s["NotifyClosed"].(map[string]any)["ResultPath"] = "$.a[?(@" },
			"/States/NotifyClosed/ResultPath is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var def map[string]any
			if err := json.Unmarshal(good, &def); err != nil {
				t.Fatal(err)
			}
			tt.mutate(def["States"].(map[string]any))
			broken, err := json.Marshal(def)
			if err != nil {
				t.Fatal(err)
			}
			out, err := validate(t, bin, broken)
			if err == nil {
				t.Fatalf("asl-validator accepted the broken copy:\n%s", out)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("asl-validator exit %v, want status 1 (invalid definition)", err)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("asl-validator output does not say %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestStateMachinesLoadInTheInterpreter(t *testing.T) {
	// Every definition runs locally: internal/local/asl supports everything it uses, and its Task
	// resources are the two integrations the local runtime provides.
	noop := func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, nil }
	handlers := map[string]asl.Handler{asl.ResourceLambdaInvoke: noop, asl.ResourceSNSPublish: noop}
	for name, def := range definitions(t) {
		m, err := asl.Load(def, asl.Options{Substitutions: dummySubstitutions, Handlers: handlers})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(m.Resources()) == 0 {
			t.Errorf("%s has no Task states", name)
		}
	}
}
