package testenv

import (
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// server is a local server process the tests started: the process group of cmd, which has its
// own group so that stopping it stops whatever it started, and which dies with the test binary
// even when the binary panics (see procAttr).
type server struct {
	cmd  *exec.Cmd
	port int
	done chan struct{}
	logs *lockedBuffer
}

// startAttempts bounds the fresh ports tried when a port taken between choosing and binding
// makes the server exit.
const startAttempts = 4

// startServer starts the server that command builds for a port chosen by nextPort and returns
// once the very process group it started listens on that port and ready(port) succeeds, so a
// server another package started on the same port is never taken for ours. A server that exits
// before it is ready (the port was taken after it was chosen) is started again on a fresh port.
func startServer(name string, nextPort func() (int, error), command func(port int) *exec.Cmd, ready func(port int) error, timeout time.Duration) (*server, error) {
	var last error
	for range startAttempts {
		port, err := nextPort()
		if err != nil {
			return nil, err
		}
		s := &server{cmd: command(port), port: port, done: make(chan struct{}), logs: &lockedBuffer{}}
		s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
		s.cmd.SysProcAttr = procAttr()
		if err := s.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		go func() { s.cmd.Wait(); close(s.done) }()
		err = s.wait(ready, timeout)
		if err == nil {
			return s, nil
		}
		s.stop()
		if !errors.Is(err, errExited) {
			return nil, fmt.Errorf("%s on port %d: %w:\n%s", name, port, err, s.logs.Tail(4096))
		}
		last = fmt.Errorf("%s on port %d exited before it answered:\n%s", name, port, s.logs.Tail(4096))
	}
	return nil, fmt.Errorf("%d attempts: %w", startAttempts, last)
}

var errExited = errors.New("exited")

func (s *server) wait(ready func(port int) error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.done:
			return errExited
		default:
		}
		// Ours only: the port is bound by a process of our group, and it answers.
		mine, err := listens(s.cmd.Process.Pid, s.port)
		if err != nil {
			return err
		}
		if mine {
			if err = ready(s.port); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s (listening: %v, last probe: %v)", timeout, mine, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the server's whole process group and waits for the server to exit.
func (s *server) stop() {
	select {
	case <-s.done:
	default:
		killGroup(s.cmd)
		<-s.done
	}
	killGroup(s.cmd) // anything it started that outlived it
}
