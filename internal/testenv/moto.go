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
// test and returns its endpoint, e.g. "http://127.0.0.1:40123": a port no other test's server
// holds, answered by this very process (see startServer). SDK clients point at it with
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
	s, err := startServer("moto_server", freePort, func(port int) *exec.Cmd {
		cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
		cmd.Env = append(append(os.Environ(), fmt.Sprintf("MOTO_PORT=%d", port)), env...)
		return cmd
	}, func(port int) error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/moto-api/", port))
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("moto_server log (last 4 KiB):\n%s", s.logs.Tail(4096))
		}
	})
	return fmt.Sprintf("http://127.0.0.1:%d", s.port)
}
