package testenv

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Moto starts a moto_server (the preinstalled Python moto 5) on a free loopback port for this
// test and returns its endpoint, e.g. "http://127.0.0.1:40123". SDK clients point at it with
// BaseEndpoint and any static credentials. The server stops when the test ends. It skips (fails
// in strict mode) when moto_server is missing; what names the suite for the skip line.
func Moto(t testing.TB, what string) string {
	t.Helper()
	bin := Command(t, "moto_server", what)
	port := FreePort(t)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
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
			t.Fatalf("moto_server exited before it answered:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s within 30s:\n%s", endpoint, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
