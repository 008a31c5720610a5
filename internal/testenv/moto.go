package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Moto starts a moto_server (the preinstalled Python moto 5) on a free loopback port for this
// test and returns its endpoint, e.g. "http://127.0.0.1:40123". SDK clients point at it with
// BaseEndpoint and any static credentials. The server stops when the test ends; when the test
// failed, the end of the server's log goes to the test log. It skips (fails in strict mode)
// when moto_server is missing; what names the suite for the skip line.
//
// The server's environment is the test's, with MOTO_PORT set to the server's own port: moto's
// Step Functions engine calls its own SNS and Lambda at localhost:$MOTO_PORT, and moto_server
// sets it from -p only when it is not inherited already.
func Moto(t testing.TB, what string) string {
	t.Helper()
	return MotoWith(t, what)
}

// MotoWith is Moto with env ("KEY=value") added to the server's environment, after MOTO_PORT
// (a later entry wins).
func MotoWith(t testing.TB, what string, env ...string) string {
	t.Helper()
	bin := Command(t, "moto_server", what)
	port := FreePort(t)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Env = append(append(os.Environ(), fmt.Sprintf("MOTO_PORT=%d", port)), env...)
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
