package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// localContract is line 1 of `cvsctl local`, decoded here as any outside tool would.
type localContract struct {
	MasterURL    string `json:"master_url"`
	APIURL       string `json:"api_url"`
	DashboardURL string `json:"dashboard_url"`
	ControlURL   string `json:"control_url"`
	Regions      []struct {
		Name      string `json:"name"`
		Domain    string `json:"domain"`
		EdgeURL   string `json:"edge_url"`
		OriginURL string `json:"origin_url"`
	} `json:"regions"`
}

// logLine is one JSON log line after line 1.
type logLine struct {
	Time   time.Time `json:"time"`
	Region string    `json:"region"`
	Msg    string    `json:"msg"`
	fields map[string]any
}

func (l logLine) str(k string) string { s, _ := l.fields[k].(string); return s }

// localRun is one `cvsctl local` process.
type localRun struct {
	t       *testing.T
	cmd     *exec.Cmd
	c       localContract
	started time.Duration // from exec to line 1
	exited  chan error
	stderr  *syncBuffer

	mu    sync.Mutex
	lines []logLine
	bad   []string
}

// buildCvsctl builds cmd/cvsctl into the test's temporary folder.
func buildCvsctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cvsctl")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/cvsctl")
	cmd.Dir = testenv.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build cvsctl: %v\n%s", err, out)
	}
	return bin
}

// startLocal runs `cvsctl local args...` from the repository and reads its first line.
func startLocal(t *testing.T, bin string, args ...string) *localRun {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"local"}, args...)...)
	cmd.Dir = testenv.RepoRoot(t)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &localRun{t: t, cmd: cmd, exited: make(chan error, 1), stderr: &syncBuffer{}}
	cmd.Stderr = r.stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		if !sc.Scan() {
			first <- fmt.Errorf("no first line: %v", sc.Err())
			r.exited <- cmd.Wait()
			return
		}
		first <- json.Unmarshal(sc.Bytes(), &r.c)
		for sc.Scan() {
			var l logLine
			err := json.Unmarshal(sc.Bytes(), &l)
			if err == nil {
				err = json.Unmarshal(sc.Bytes(), &l.fields)
			}
			r.mu.Lock()
			if err != nil || l.Time.IsZero() || l.Msg == "" || l.fields["region"] == nil {
				r.bad = append(r.bad, sc.Text())
			} else {
				r.lines = append(r.lines, l)
			}
			r.mu.Unlock()
		}
		r.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			<-r.exited
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.bad) > 0 {
			t.Errorf("stdout lines after line 1 that are not JSON log lines with time, region and msg: %q", r.bad[:min(3, len(r.bad))])
		}
		if t.Failed() {
			t.Logf("stderr: %s", r.stderr)
			for _, l := range r.lines[max(0, len(r.lines)-40):] {
				t.Logf("log: %s %s %s %v", l.Time.Format("15:04:05.000"), l.Region, l.Msg, l.fields)
			}
		}
	})
	select {
	case err := <-first:
		if err != nil {
			t.Fatalf("line 1: %v (stderr: %s)", err, r.stderr)
		}
	case <-time.After(8 * time.Second):
		t.Fatalf("no first line within 8 s (stderr: %s)", r.stderr)
	}
	r.started = time.Since(start)
	if len(r.c.Regions) < 2 || r.c.MasterURL == "" || r.c.APIURL == "" || r.c.DashboardURL == "" || r.c.ControlURL == "" {
		t.Fatalf("line 1 lacks fields: %+v", r.c)
	}
	return r
}

// waitLog waits for a log line that matches and returns it.
func (r *localRun) waitLog(within time.Duration, what string, match func(logLine) bool) logLine {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r.mu.Lock()
		for _, l := range r.lines {
			if match(l) {
				r.mu.Unlock()
				return l
			}
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			r.t.Fatalf("no log line %s within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *localRun) setEncoder(region, state string) time.Time {
	r.t.Helper()
	resp, err := http.Post(r.c.ControlURL+"/regions/"+region+"/encoder", "application/json", strings.NewReader(`{"state":"`+state+`"}`))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		r.t.Fatalf("set %s encoder %s: %s %s", region, state, resp.Status, b)
	}
	return time.Now()
}

// get answers a GET's status, headers and body.
func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// waitStatus polls url until it answers code and returns when it first did.
func waitStatus(t *testing.T, url string, code int, within time.Duration) (time.Time, http.Header) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, h, _ := get(t, url)
		if got == code {
			return time.Now(), h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answered %d, not %d, for %s", url, got, code, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop interrupts the process and returns how long it took to exit.
func (r *localRun) stop() time.Duration {
	r.t.Helper()
	start := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		r.t.Fatal(err)
	}
	select {
	case err := <-r.exited:
		if err != nil {
			r.t.Errorf("cvsctl local exited with %v after SIGINT", err)
		}
	case <-time.After(10 * time.Second):
		r.t.Fatal("cvsctl local still running 10 s after SIGINT")
	}
	return time.Since(start)
}

// TestLocalFailover starts `cvsctl local`, stalls the first region (the one a player of the
// merged master is served first), and observes through the contract only: the stale event, a
// closed execution, that region's edge answering 404 closed with CORS, the other region still
// 200; with --failback, the reopen once the encoder runs again. The same on DynamoDB Local.
func TestLocalFailover(t *testing.T) {
	testenv.Short(t, "runs cvsctl local for about 20 s per case")
	bin := buildCvsctl(t)
	const holdDown = 3
	cases := []struct {
		name     string
		failback bool
		dynamo   bool
	}{
		{name: "memory store"},
		{name: "memory store with failback", failback: true},
		{name: "DynamoDB Local with failback", failback: true, dynamo: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"--segment-duration", "2s"}
			if tc.failback {
				args = append(args, "--failback", "--hold-down-seconds", fmt.Sprint(holdDown))
			}
			if tc.dynamo {
				d := testenv.DynamoDB(t)
				args = append(args, "--dynamodb-endpoint", d.Endpoint, "--state-table-name", "cvs-local-test")
			}
			r := startLocal(t, bin, args...)
			t.Logf("line 1 after %s", r.started)
			served, other := r.c.Regions[0], r.c.Regions[1]

			// Before: both regions fresh and open, the master and every edge answering with CORS.
			for _, reg := range r.c.Regions {
				r.waitLog(15*time.Second, reg.Name+" fresh", func(l logLine) bool {
					return l.Region == reg.Name && l.Msg == "event published" && l.str("event") == "fresh"
				})
			}
			for _, u := range []string{r.c.MasterURL, served.EdgeURL + "/master.m3u8", other.EdgeURL + "/v180.m3u8"} {
				code, h, _ := get(t, u)
				if code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" {
					t.Fatalf("GET %s = %d with Access-Control-Allow-Origin %q, want 200 and *", u, code, h.Get("Access-Control-Allow-Origin"))
				}
			}

			r.setEncoder(served.Name, "stalled")
			r.waitLog(20*time.Second, "stale event of "+served.Name, func(l logLine) bool {
				return l.Region == served.Name && l.Msg == "event published" && l.str("event") == "stale" && l.str("domain") == served.Domain
			})
			r.waitLog(20*time.Second, "closed execution in "+served.Name, func(l logLine) bool {
				return l.Region == served.Name && l.Msg == "execution finished" && l.str("outcome") == "closed"
			})
			_, h := waitStatus(t, served.EdgeURL+"/v180.m3u8", http.StatusNotFound, 10*time.Second)
			if h.Get("X-Cvs-State") != "closed" || h.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("closed edge headers %v: want x-cvs-state closed and Access-Control-Allow-Origin *", h)
			}
			r.waitLog(5*time.Second, "edge 404 in "+served.Name, func(l logLine) bool {
				return l.Region == served.Name && l.Msg == "edge: answered 404" && l.str("x_cvs_state") == "closed"
			})
			if code, h, body := get(t, other.EdgeURL+"/v180.m3u8"); code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(body, "#EXTM3U") {
				t.Fatalf("other region's edge: %d %v", code, h)
			}
			var regions []struct {
				Name         string `json:"name"`
				EncoderState string `json:"encoder_state"`
				LastSequence *int64 `json:"last_media_sequence"`
				Instance     *struct {
					Open   bool   `json:"open"`
					Health string `json:"health"`
				} `json:"instance"`
			}
			_, _, body := get(t, r.c.ControlURL+"/regions")
			if err := json.Unmarshal([]byte(body), &regions); err != nil || len(regions) != len(r.c.Regions) {
				t.Fatalf("GET /regions: %v %s", err, body)
			}
			if g := regions[0]; g.EncoderState != "stalled" || g.LastSequence == nil || g.Instance == nil || g.Instance.Open || g.Instance.Health != "stale" {
				t.Fatalf("GET /regions says of %s: %s", served.Name, body)
			}
			if g := regions[1]; g.EncoderState != "running" || g.Instance == nil || !g.Instance.Open {
				t.Fatalf("GET /regions says of %s: %s", other.Name, body)
			}

			if tc.failback {
				recovered := r.setEncoder(served.Name, "running")
				l := r.waitLog(holdDown*time.Second+30*time.Second, "reopened execution in "+served.Name, func(l logLine) bool {
					return l.Region == served.Name && l.Msg == "execution finished" && l.str("outcome") == "reopened"
				})
				t.Logf("reopened %s after recovery (hold-down %ds)", l.Time.Sub(recovered).Round(time.Millisecond), holdDown)
				waitStatus(t, served.EdgeURL+"/v180.m3u8", http.StatusOK, 10*time.Second)
			}
			took := r.stop()
			t.Logf("exit %s after SIGINT", took)
			if took > 2*time.Second {
				t.Errorf("exit took %s after SIGINT, want within 2 s", took)
			}
		})
	}
}
