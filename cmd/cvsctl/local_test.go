package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clustered-video-streams/cvs/internal/local/runtime"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestLocalFlagsMatchTheTemplate: every Parameter of template.yaml has a flag of cvsctl local
// with the template's default, or a reason why a local run has none.
func TestLocalFlagsMatchTheTemplate(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Parameters map[string]struct {
			Default any `yaml:"Default"`
		} `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	localFlags(fs)
	for name, p := range tpl.Parameters {
		t.Run(name, func(t *testing.T) {
			flagName, ok := runtime.Parameters[name]
			if !ok {
				if runtime.NotLocal[name] == "" {
					t.Fatalf("parameter %s has neither a flag (runtime.Parameters) nor a reason for none (runtime.NotLocal)", name)
				}
				return
			}
			f := fs.Lookup(flagName)
			if f == nil {
				t.Fatalf("no flag --%s for parameter %s", flagName, name)
			}
			want := fmt.Sprint(p.Default)
			if n, err := strconv.ParseFloat(want, 64); err == nil {
				if got, err := strconv.ParseFloat(f.DefValue, 64); err != nil || got != n {
					t.Fatalf("--%s defaults to %s, the template's %s to %s", flagName, f.DefValue, name, want)
				}
				return
			}
			if f.DefValue != want {
				t.Fatalf("--%s defaults to %q, the template's %s to %q", flagName, f.DefValue, name, want)
			}
		})
	}
	for name := range runtime.Parameters {
		if _, ok := tpl.Parameters[name]; !ok {
			t.Errorf("runtime.Parameters names %s, which template.yaml does not have", name)
		}
	}
	for name := range runtime.NotLocal {
		if _, ok := tpl.Parameters[name]; !ok {
			t.Errorf("runtime.NotLocal names %s, which template.yaml does not have", name)
		}
	}

}

// TestLocalRefusesBadFlags: a non-loopback --listen, too few regions or an odd segment
// duration are usage errors, before anything starts.
func TestLocalRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "0.0.0.0:0"},
		{"--regions", "1"},
		{"--segment-duration", "1500ms"},
		{"--hold-down-seconds", "-1"},
		{"--dynamodb-endpoint", "localhost:8000"},
		{"extra"},
	} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			var out, errs bytes.Buffer
			code := (&env{stdout: &out, stderr: &errs}).run(t.Context(), append([]string{"local"}, args...))
			if code != exitUsage || out.String() != "" || errs.String() == "" {
				t.Fatalf("exit %d, stdout %q, stderr %q: want exit %d, nothing on stdout and the reason on stderr", code, out.String(), errs.String(), exitUsage)
			}
		})
	}
}
