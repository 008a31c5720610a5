package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary a child that starts the local servers, prints their process
// groups' members and panics, as a crashed test run would.
const childEnv = "CVS_TESTENV_CRASHING_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		crashingChild()
	}
	os.Exit(m.Run())
}

func crashingChild() {
	var pids []int
	moto, err := exec.LookPath("moto_server")
	if err != nil {
		panic(err)
	}
	s, err := startServer("moto_server", freePort, func(port int) *exec.Cmd {
		return exec.Command(moto, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	}, httpReady("/moto-api/"), 30*time.Second)
	if err != nil {
		panic(err)
	}
	pids = append(pids, groupMembers(s.cmd.Process.Pid)...)
	if jar, reason := dynamoDBJar(); reason == "" {
		d, err := StartDynamoDBLocal(jar)
		if err != nil {
			panic(err)
		}
		pids = append(pids, groupMembers(d.srv.cmd.Process.Pid)...)
	}
	fmt.Println("pids", strings.Trim(fmt.Sprint(pids), "[]"))
	panic("a test panicked: no cleanup runs")
}

func httpReady(path string) func(port int) error {
	return func(port int) error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
}

// TestServersDieWithTheTestBinary crashes a test binary that started moto_server and DynamoDB
// Local (java) and checks that every process of their groups is gone after it.
func TestServersDieWithTheTestBinary(t *testing.T) {
	Command(t, "moto_server", "the crash test")
	if _, reason := dynamoDBJar(); reason != "" {
		Unavailable(t, reason)
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"=1")
	out, err := child.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child: %v, want it to crash:\n%s", err, out)
	}
	var pids []int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "pids "); ok {
			for _, f := range strings.Fields(rest) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) < 2 {
		t.Fatalf("child reported %v, want moto's and java's processes:\n%s", pids, out)
	}
	t.Logf("processes of the crashed binary's servers: %v", pids)
	// The kernel sends SIGKILL at the parent's death; reaping them takes a moment.
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("process %d outlived the crashed test binary", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// alive reports whether pid runs (a zombie awaiting its reaper counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

// TestServerOnATakenPort offers moto_server a port where another server already answers the
// readiness probe: the impostor must not be taken for it, and a fresh port is tried.
func TestServerOnATakenPort(t *testing.T) {
	moto := Command(t, "moto_server", "the port test")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	impostor := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go impostor.Serve(l)
	t.Cleanup(func() { impostor.Close() })
	taken := l.Addr().(*net.TCPAddr).Port
	offered := 0
	s, err := startServer("moto_server", func() (int, error) {
		offered++
		if offered == 1 {
			return taken, nil
		}
		return freePort()
	}, func(port int) *exec.Cmd {
		return exec.Command(moto, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	}, httpReady("/moto-api/"), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	if s.port == taken || offered != 2 {
		t.Fatalf("server on port %d after %d offers, want a fresh port after the taken %d", s.port, offered, taken)
	}
	if mine, err := listens(s.cmd.Process.Pid, taken); mine || err != nil {
		t.Fatalf("listens on the impostor's port = %v, %v", mine, err)
	}
}
