package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

// runCLI runs cvsctl with args and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := (&env{stdout: &stdout, stderr: &stderr, client: &http.Client{}}).run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // a part of stdout, "" for none at all
		stderrPart string
	}{
		{"no command prints usage", nil, exitUsage, "", "usage: cvsctl <command>"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `cvsctl: unknown command "frobnicate"`},
		{"help lists every command", []string{"help"}, exitOK, "  merge [--steering-uri URI] [--timeout D] [--max-bytes N] NAME=URL [NAME=URL ...]\n        fetch regional master playlists", ""},
		{"--help", []string{"--help"}, exitOK, "  demo [--segment-duration D] [--failback] [--json] [--keep]\n        the failover, watched by a player", ""},
		{"merge -h", []string{"merge", "-h"}, exitOK, "usage: cvsctl merge [flags] NAME=URL", ""},
		{"demo with arguments", []string{"demo", "extra"}, exitUsage, "", "cvsctl demo: wrong number of arguments (cvsctl demo -h for help)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if tc.stdout == "" && stdout != "" || !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderrPart) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.stderrPart)
			}
		})
	}
}

func TestUsageListsEveryCommand(t *testing.T) {
	_, stdout, _ := runCLI(t, "help")
	for _, c := range commands {
		if want := "\n  " + strings.TrimSpace(c.name+" "+c.synopsis) + "\n        " + c.summary + "\n"; !strings.Contains(stdout, want) {
			t.Errorf("usage lacks %q:\n%s", want, stdout)
		}
	}
}
