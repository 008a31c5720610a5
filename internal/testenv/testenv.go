// Package testenv decides whether a heavier test suite can run on this machine and finds the
// tools it needs. A suite whose tool is missing skips with a one-line reason, unless CVS_STRICT=1,
// where a missing tool fails the test: CI must run every suite.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Strict reports whether missing tools fail tests instead of skipping them (CVS_STRICT=1).
func Strict() bool {
	v, _ := strconv.ParseBool(os.Getenv("CVS_STRICT"))
	return v
}

// Unavailable skips the test with reason, or fails it in strict mode.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("CVS_STRICT=1 and %s", reason)
	}
	t.Skip(reason)
}

// RepoRoot returns the repository root: the nearest folder above the test's working directory
// that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's working directory")
		}
		dir = parent
	}
}

// SampleEvent returns the sample event events/<name> (e.g. "close-confirmed.json"), the file
// `sam local invoke -e` takes, so that a function's tests run on the very samples it ships.
func SampleEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(t), "events", name))
	if err != nil {
		t.Fatalf("sample event: %v", err)
	}
	return b
}

// Command returns the path of a program on PATH, or skips (fails in strict mode) when it is
// missing. what says which suite needs it, for the skip line.
func Command(t testing.TB, name, what string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, name+" is not installed; "+what+" needs it")
	}
	return p
}

// NodeBin returns the path of an npm-installed program under node_modules/.bin (make test runs
// npm ci first), or skips (fails in strict mode) when it is missing.
func NodeBin(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "node_modules", ".bin", name)
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "node_modules/.bin/"+name+" is missing (run make test, which runs npm ci)")
	}
	return p
}

// FreePort returns a loopback TCP port that was free a moment ago, for servers the tests start
// as separate processes (DynamoDB Local, moto_server). In-process servers use httptest instead.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
