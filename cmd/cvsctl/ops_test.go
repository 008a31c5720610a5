package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/local/apigw"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
)

const (
	opsCluster = "live-1"
	opsD1      = "d111111abcdef8.cloudfront.net"
	opsD2      = "d222222abcdef8.cloudfront.net"
	opsKeyID   = "AKIDEXAMPLEOPERATOR1"
	opsSecret  = "dummy-secret-for-tests-only"
	opsARN     = "arn:aws:sts::123456789012:assumed-role/StreamOperator/alice"
)

// dummyAWS points the default credential chain at temporary files with dummy keys, so no test
// reads the machine's real AWS configuration.
func dummyAWS(t *testing.T, keyID, secret string) {
	t.Helper()
	dir := t.TempDir()
	cfg, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfg, []byte("[default]\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+keyID+"\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_PROFILE": "default",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_REGION": "",
		"AWS_DEFAULT_REGION": "", "AWS_EC2_METADATA_DISABLED": "true", "CVS_ENDPOINT": "", "USER": "tester",
	} {
		t.Setenv(k, v)
	}
}

func seededStore(t *testing.T) *memory.Store {
	t.Helper()
	store := memory.New(nil)
	ctx := context.Background()
	for _, in := range []struct{ domain, region string }{{opsD1, "us-east-1"}, {opsD2, "eu-west-1"}} {
		r := state.Registration{Cluster: opsCluster, Domain: in.domain, Region: in.region,
			DistributionPlaylistURL: "https://" + in.domain + "/index.m3u8", OriginPlaylistURL: "https://origin.example.com/" + in.region + ".m3u8"}
		if _, err := store.Register(ctx, r, state.Change{By: "local:seed", Reason: "seed"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, opsCluster, in.domain, state.HealthFresh, state.Change{By: "local:seed"}); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// deployedAPI is the API as deployed: https, IAM (SigV4) authorization in front of the Lambda
// adapter, the real handler, a memory store.
func deployedAPI(t *testing.T) (*httptest.Server, *memory.Store) {
	t.Helper()
	store := seededStore(t)
	srv := httptest.NewTLSServer(&apigw.Gateway{
		Region:     "us-east-1",
		Principals: []apigw.Principal{{AccessKeyID: opsKeyID, SecretAccessKey: opsSecret, ARN: opsARN}},
		Lambda:     api.LambdaHandler(api.New(api.Options{Store: store, Logger: quietLog()})),
	})
	t.Cleanup(srv.Close)
	return srv, store
}

// localAPI is the API as the local runtime serves it: plain http on loopback, no IAM.
func localAPI(t *testing.T) (*httptest.Server, *memory.Store) {
	t.Helper()
	store := seededStore(t)
	srv := httptest.NewServer(api.New(api.Options{Store: store, Caller: api.LocalCaller("nobody"), LocalDomains: true, Logger: quietLog()}))
	t.Cleanup(srv.Close)
	return srv, store
}

func runWith(t *testing.T, client *http.Client, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := (&env{stdout: &stdout, stderr: &stderr, client: client}).run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

type step struct {
	name       string
	args       []string
	wantCode   int
	wantStdout string // a regular expression stdout must match ("" for any)
	wantStderr string // a regular expression stderr must match ("" for any)
}

func runSteps(t *testing.T, client *http.Client, endpoint string, steps []step) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			args := append([]string{s.args[0], "--endpoint", endpoint}, s.args[1:]...)
			code, stdout, stderr := runWith(t, client, args...)
			t.Logf("cvsctl %s -> exit %d\n%s%s", strings.Join(s.args, " "), code, stdout, stderr)
			if code != s.wantCode {
				t.Fatalf("cvsctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(s.args, " "), code, s.wantCode, stdout, stderr)
			}
			if s.wantStdout != "" && !regexp.MustCompile(s.wantStdout).MatchString(stdout) {
				t.Fatalf("stdout does not match %q:\n%s", s.wantStdout, stdout)
			}
			if s.wantStderr != "" && !regexp.MustCompile(s.wantStderr).MatchString(stderr) {
				t.Fatalf("stderr does not match %q:\n%s", s.wantStderr, stderr)
			}
		})
	}
}

func TestOperatorCommandsSigned(t *testing.T) {
	dummyAWS(t, opsKeyID, opsSecret)
	srv, store := deployedAPI(t)
	runSteps(t, srv.Client(), srv.URL, []step{
		{name: "status lists clusters", args: []string{"status"}, wantStdout: `(?m)^CLUSTER\s+INSTANCES\s+OPEN\s+HEALTHY\s*\nlive-1\s+2\s+2\s+2\s*$`},
		{name: "status of a cluster", args: []string{"status", "live-1"},
			wantStdout: `(?m)^eu-west-1\s+d222222abcdef8\.cloudfront\.net\s+fresh\s+open\s+2\s+\S+ \S+\s+local:seed\s+-\s*\nus-east-1\s+d111111abcdef8\.cloudfront\.net\s+fresh\s+open\s+2`},
		{name: "status of an unknown cluster", args: []string{"status", "live-9"}, wantCode: exitNotFound, wantStderr: `not_found`},
		{name: "close with a reason, flags after the arguments", args: []string{"close", "live-1", opsD1, "--reason", "encoder maintenance"},
			wantStdout: `^closed live-1/d111111abcdef8\.cloudfront\.net: now closed, health fresh, version 3, by ` + regexp.QuoteMeta(opsARN)},
		{name: "the guard refuses the last one", args: []string{"close", "--reason", "oops", "live-1", opsD2},
			wantCode: exitRefused, wantStderr: `guard_refused \(HTTP 409\): refused to close live-1/d222222abcdef8\.cloudfront\.net`},
		{name: "open at a stale version", args: []string{"open", "--reason", "back", "--if-version", "2", "live-1", opsD1},
			wantCode: exitRefused, wantStderr: `version_conflict`},
		{name: "open", args: []string{"open", "--reason", "back", "--if-version", "3", "live-1", opsD1}, wantStdout: `now open`},
		{name: "close of an unknown instance", args: []string{"close", "--reason", "x", "live-1", "d333333abcdef8.cloudfront.net"},
			wantCode: exitNotFound},
		{name: "forced close of the last one", args: []string{"close", "--reason", "off air", "--force", "live-1", opsD2}, wantStdout: `now closed`},
		{name: "history, one page", args: []string{"history", "--limit", "2", "live-1"},
			wantStdout: `(?m)^WHEN\s+DOMAIN\s+WHAT\s+BEFORE\s+AFTER\s+BY\s+REASON\s*\n\S+ \S+\s+d222222abcdef8\.cloudfront\.net\s+distro_open \(forced\)\s+true\s+false\s+assumed-role/StreamOperator/alice\s+off air`,
			wantStderr: `^cvsctl history: more: cvsctl history --cursor \S+ live-1\n$`},
		{name: "register a new instance", args: []string{"register", "--region", "ap-southeast-2", "--origin", "https://o.example.com/x.m3u8",
			"--distribution", "https://live.example.com/x.m3u8", "live-2", "d333333abcdef8.cloudfront.net"}, wantStdout: `^registered live-2/d333333abcdef8\.cloudfront\.net: now open, health unknown, version 1`},
		{name: "register with a bad region", args: []string{"register", "--region", "Sydney", "--origin", "https://o.example.com/x.m3u8",
			"--distribution", "https://live.example.com/x.m3u8", "live-2", "d333333abcdef8.cloudfront.net"}, wantCode: exitUsage, wantStderr: `-region: want an AWS region`},
		{name: "close without a reason", args: []string{"close", "live-1", opsD1}, wantCode: exitUsage, wantStderr: `--reason is required`},
		{name: "close with one argument", args: []string{"close", "--reason", "x", "live-1"}, wantCode: exitUsage, wantStderr: `wrong number of arguments`},
		{name: "history with a limit out of range", args: []string{"history", "--limit", "0", "live-1"}, wantCode: exitUsage},
		{name: "unknown flag", args: []string{"status", "--colour"}, wantCode: exitUsage, wantStderr: `flag provided but not defined`},
	})

	t.Run("history --all --json holds the whole trail", func(t *testing.T) {
		code, stdout, stderr := runWith(t, srv.Client(), "history", "--endpoint", srv.URL, "--all", "--limit", "2", "--json", "live-1")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got state.HistoryPage
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("stdout is not a history page: %v\n%s", err, stdout)
		}
		all, err := store.History(context.Background(), state.HistoryQuery{Cluster: opsCluster, Limit: state.MaxHistoryLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Records) != len(all.Records) || got.Next != "" || len(all.Records) != 7 {
			t.Fatalf("--all printed %d records (next %q), the store holds %d, want 7", len(got.Records), got.Next, len(all.Records))
		}
	})

	t.Run("status --json is the API's cluster", func(t *testing.T) {
		code, stdout, _ := runWith(t, srv.Client(), "status", "--json", "--endpoint", srv.URL, "live-1")
		var got api.Cluster
		if err := json.Unmarshal([]byte(stdout), &got); code != exitOK || err != nil {
			t.Fatalf("exit %d, decode: %v\n%s", code, err, stdout)
		}
		if len(got.Instances) != 2 || got.Instances[1].ChangedBy != opsARN {
			t.Fatalf("instances = %+v", got.Instances)
		}
	})

	if got, _ := store.Instance(context.Background(), opsCluster, opsD1); got.ChangedBy != opsARN || !got.Open {
		t.Fatalf("d1 after the scenario: open %v by %q", got.Open, got.ChangedBy)
	}
}

func TestOperatorCommandsFailures(t *testing.T) {
	srv, store := deployedAPI(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for _, tc := range []struct {
		name       string
		secret     string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"wrong secret", "not-the-secret", []string{"close", "--endpoint", srv.URL, "--reason", "x", "live-1", opsD1}, exitFailure, `http_403 \(HTTP 403\): The request signature we calculated does not match`},
		{"no endpoint", opsSecret, []string{"status"}, exitUsage, `no endpoint: pass --endpoint or set \$CVS_ENDPOINT`},
		{"plain http to a remote host", opsSecret, []string{"status", "--endpoint", "http://api.example.com"}, exitUsage, `plain http is allowed only to a loopback host`},
		{"API unreachable", opsSecret, []string{"status", "--endpoint", dead.URL}, exitFailure, `connect: connection refused`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dummyAWS(t, opsKeyID, tc.secret)
			code, _, stderr := runWith(t, srv.Client(), tc.args...)
			if code != tc.wantCode || !regexp.MustCompile(tc.wantStderr).MatchString(stderr) {
				t.Fatalf("exit %d, stderr %q; want %d matching %q", code, stderr, tc.wantCode, tc.wantStderr)
			}
		})
	}
	if got, _ := store.Instance(context.Background(), opsCluster, opsD1); !got.Open {
		t.Fatal("a failed command closed the instance")
	}
}

func TestOperatorCommandsLocal(t *testing.T) {
	dummyAWS(t, "unused", "unused")
	srv, store := localAPI(t)
	runSteps(t, &http.Client{}, srv.URL, []step{
		{name: "close unsigned", args: []string{"close", "--reason", "local test", "live-1", opsD1}, wantStdout: `by local:tester`},
		{name: "register a loopback instance", args: []string{"register", "--region", "eu-west-1", "--origin", "http://127.0.0.1:9000/o.m3u8",
			"--distribution", "http://127.0.0.1:9001/d.m3u8", "live-1", "127.0.0.1:9001"}, wantStdout: `registered live-1/127\.0\.0\.1:9001`},
	})
	if got, _ := store.Instance(context.Background(), opsCluster, opsD1); got.Open || got.ChangedBy != "local:tester" {
		t.Fatalf("d1: open %v by %q, want closed by local:tester", got.Open, got.ChangedBy)
	}
}

// lineWriter hands the first line written to it to a channel: the dashboard prints its URL.
type lineWriter struct {
	lines chan<- string // buffered, one line

	mu   sync.Mutex
	buf  bytes.Buffer
	sent bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if i := bytes.IndexByte(w.buf.Bytes(), '\n'); i >= 0 && !w.sent {
		w.lines <- w.buf.String()[:i]
		w.sent = true
	}
	return len(p), nil
}

func TestDashboardCommand(t *testing.T) {
	dummyAWS(t, opsKeyID, opsSecret)
	srv, store := deployedAPI(t)

	t.Run("refuses a non-loopback listen address", func(t *testing.T) {
		code, _, stderr := runWith(t, srv.Client(), "dashboard", "--endpoint", srv.URL, "--listen", "0.0.0.0:0")
		if code != exitUsage || !strings.Contains(stderr, "want a loopback address") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("serves the page and signs what it forwards", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		lines := make(chan string, 1)
		out := &lineWriter{lines: lines}
		var stderr bytes.Buffer
		exited := make(chan int, 1)
		go func() {
			exited <- (&env{stdout: out, stderr: &stderr, client: srv.Client()}).run(ctx,
				[]string{"dashboard", "--endpoint", srv.URL, "--listen", "127.0.0.1:0"})
		}()
		var line string
		select {
		case line = <-lines:
		case code := <-exited:
			t.Fatalf("dashboard exited %d before serving: %s", code, stderr.String())
		}
		m := regexp.MustCompile(`^dashboard: (http://127\.0\.0\.1:\d+)/dashboard/ `).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("first line %q does not give the dashboard's URL", line)
		}
		page, err := http.Get(m[1] + "/dashboard/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(page.Body)
		page.Body.Close()
		if page.StatusCode != 200 || !strings.Contains(string(body), "Clustered Video Streams") {
			t.Fatalf("page: %d %s", page.StatusCode, body)
		}
		resp, err := http.Post(m[1]+"/clusters/live-1/instances/"+opsD1+"/close", "application/json", strings.NewReader(`{"reason":"from the dashboard"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("close through the dashboard: %d", resp.StatusCode)
		}
		if got, _ := store.Instance(context.Background(), opsCluster, opsD1); got.Open || got.ChangedBy != opsARN {
			t.Fatalf("d1: open %v by %q, want closed by %s", got.Open, got.ChangedBy, opsARN)
		}
		cancel()
		if code := <-exited; code != exitOK {
			t.Fatalf("dashboard exited %d after interrupt: %s", code, stderr.String())
		}
	})
}
