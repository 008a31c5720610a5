package main

import (
	"strings"
	"testing"
)

// Bad demo flags are refused before anything starts, in the flag's terms; the run itself is
// tested through the binary in tests/demo_test.go.
func TestDemoRefusesBadFlags(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown viewer", []string{"demo", "--viewer", "vlc"}, `--viewer "vlc": want auto, chromium or client`},
		{"segment duration not whole seconds", []string{"demo", "--segment-duration", "1500ms"}, "--segment-duration"},
		{"negative hold-down", []string{"demo", "--hold-down-seconds", "-1"}, "--hold-down-seconds -1"},
		{"an argument", []string{"demo", "extra"}, "wrong number of arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, c.args...)
			if code != exitUsage || stdout != "" || !strings.Contains(stderr, c.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, exitUsage, c.stderr)
			}
		})
	}
}
