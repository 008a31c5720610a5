package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// MotoOptions adjust the moto_server that MotoWith starts.
type MotoOptions struct {
	// SelfPort sets MOTO_PORT to the server's own port. Moto's Step Functions engine calls its
	// own SNS and Lambda at localhost:$MOTO_PORT, so executions that run tasks need it.
	SelfPort bool
	// Env adds "KEY=value" entries to the server's environment (which otherwise is the test
	// process's).
	Env []string
}

// Moto starts a moto_server (the preinstalled Python moto 5) on a free loopback port for this
// test and returns its endpoint, e.g. "http://127.0.0.1:40123". SDK clients point at it with
// BaseEndpoint and any static credentials. The server stops when the test ends. It skips (fails
// in strict mode) when moto_server is missing; what names the suite for the skip line.
func Moto(t testing.TB, what string) string {
	t.Helper()
	return MotoWith(t, what, MotoOptions{})
}

// MotoWith is Moto with options for the server's environment. When the test fails, the end of
// the server's log goes to the test log.
func MotoWith(t testing.TB, what string, o MotoOptions) string {
	t.Helper()
	bin := Command(t, "moto_server", what)
	port := FreePort(t)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Env = append(os.Environ(), o.Env...)
	if o.SelfPort {
		cmd.Env = append(cmd.Env, fmt.Sprintf("MOTO_PORT=%d", port))
	}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("moto_server log (last 4 KiB):\n%s", logs.Tail(4096))
		}
	})
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return endpoint
		}
		select {
		case <-done:
			t.Fatalf("moto_server exited before it answered:\n%s", logs.Tail(4096))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s within 30s:\n%s", endpoint, logs.Tail(4096))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
