// Package testenv decides whether a heavier test suite can run on this machine and finds the
// tools it needs. A suite whose tool is missing skips with a one-line reason, unless CVS_STRICT=1,
// where a missing tool fails the test: CI must run every suite.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// StrictEnv is the variable that turns every skip into a failure: "1" in CI, "0" or unset to
// let suites whose tools are missing skip. Any other value is refused.
const StrictEnv = "CVS_STRICT"

// parseStrict reads a CVS_STRICT value: only "", "0" and "1" mean something.
func parseStrict(v string) (bool, error) {
	switch v {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, fmt.Errorf("%s=%q: want 0 or 1", StrictEnv, v)
}

// A test binary that imports testenv refuses to run under a CVS_STRICT it cannot read: "yes" or
// "true" would otherwise let every suite skip while CI believed it strict.
func init() {
	if !testing.Testing() {
		return
	}
	if _, err := parseStrict(os.Getenv(StrictEnv)); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(2)
	}
}

// Unavailable skips the test with reason, or fails it in strict mode. Every skip in the
// repository goes through it (Short is its other door), so CVS_STRICT=1 runs every test.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	strict, err := parseStrict(os.Getenv(StrictEnv))
	switch {
	case err != nil:
		t.Fatal(err)
	case strict:
		t.Fatalf("%s=1 and %s", StrictEnv, reason)
	}
	t.Skip(reason)
}

// Short skips a long test under go test -short (fails it in strict mode); what names the test.
func Short(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		Unavailable(t, what+": not run with -short")
	}
}

// RepoRoot returns the repository root: the nearest folder above the test's working directory
// that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
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

// FreePort returns a loopback TCP port that was free a moment ago, for a test that needs a port
// nothing answers on. Servers started as processes get theirs from startServer, which makes
// sure the port is theirs; in-process servers use httptest.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
