package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// `sam local invoke FUNCTION -e events/FILE` without Docker: each function's real bootstrap,
// built for this machine with the Lambda build tags, runs as a child process against a Lambda
// Runtime API (2018-06-01) served here, with the environment template.yaml gives it (intrinsics
// resolved to local resources on DynamoDB Local and moto_server), and is invoked with its
// sample events. The cases live in local_invoke_cases_test.go; the README's "Local invoke"
// table lists exactly those invocations.

// lambdaBuild builds every function's bootstrap once per test binary.
var lambdaBuild struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// bootstraps returns the folder holding <function>/bootstrap for every functions/*/main.go,
// built as `make build` builds them (CGO off, -tags lambda.norpc -trimpath) for the host's
// GOOS/GOARCH instead of linux/arm64.
func bootstraps(t *testing.T) string {
	t.Helper()
	lambdaBuild.once.Do(func() {
		root := testenv.RepoRoot(t)
		dir, err := os.MkdirTemp("", "cvs-bootstraps-")
		if err != nil {
			lambdaBuild.err = err
			return
		}
		lambdaBuild.dir = dir
		mains, _ := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
		for _, m := range mains {
			name := filepath.Base(filepath.Dir(m))
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", filepath.Join(dir, name, "bootstrap"), "./functions/"+name)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
			if out, err := cmd.CombinedOutput(); err != nil {
				lambdaBuild.err, lambdaBuild.out = fmt.Errorf("go build ./functions/%s: %w", name, err), out
				return
			}
		}
	})
	if lambdaBuild.err != nil {
		t.Fatalf("%v\n%s", lambdaBuild.err, lambdaBuild.out)
	}
	return lambdaBuild.dir
}

// runtimeResult is what the function posted for one invocation.
type runtimeResult struct {
	Kind string // "response", "error", or "init-error"
	Body []byte
}

type pendingInvoke struct {
	id      string
	payload []byte
	done    chan runtimeResult
}

// lambdaRuntime is the Runtime API of one function process: Invoke hands an event to the
// process's GET .../invocation/next and waits for its POST .../response or .../error.
type lambdaRuntime struct {
	arn     string
	timeout time.Duration
	queue   chan *pendingInvoke
	initErr chan []byte

	mu      sync.Mutex
	seq     int
	waiting map[string]*pendingInvoke
}

func (rt *lambdaRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const base = "/2018-06-01/runtime/"
	path, ok := strings.CutPrefix(r.URL.Path, base)
	switch {
	case !ok:
		http.NotFound(w, r)
	case r.Method == http.MethodGet && path == "invocation/next":
		select {
		case inv := <-rt.queue:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(rt.timeout).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", rt.arn)
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
			w.Write(inv.payload)
		case <-r.Context().Done():
		}
	case r.Method == http.MethodPost && path == "init/error":
		body, _ := io.ReadAll(r.Body)
		select {
		case rt.initErr <- body:
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		id, kind, _ := strings.Cut(strings.TrimPrefix(path, "invocation/"), "/")
		body, err := io.ReadAll(r.Body)
		rt.mu.Lock()
		inv := rt.waiting[id]
		delete(rt.waiting, id)
		rt.mu.Unlock()
		if inv == nil || err != nil || (kind != "response" && kind != "error") {
			http.Error(w, "no such invocation", http.StatusBadRequest)
			return
		}
		inv.done <- runtimeResult{Kind: kind, Body: body}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

// lambdaProcess is one function's bootstrap running under its lambdaRuntime.
type lambdaProcess struct {
	name   string
	rt     *lambdaRuntime
	logs   *syncBuffer
	exited chan struct{}
}

// startFunction runs function's bootstrap with env (and nothing of the test's own environment,
// as in Lambda) until the test ends.
func startFunction(t *testing.T, function string, env map[string]string, timeout time.Duration) *lambdaProcess {
	t.Helper()
	rt := &lambdaRuntime{arn: "arn:aws:lambda:us-east-1:123456789012:function:cvs-" + function, timeout: timeout,
		queue: make(chan *pendingInvoke), initErr: make(chan []byte, 1), waiting: map[string]*pendingInvoke{}}
	srv := httptest.NewServer(rt)
	none := filepath.Join(t.TempDir(), "none")
	vars := map[string]string{
		"AWS_LAMBDA_RUNTIME_API": strings.TrimPrefix(srv.URL, "http://"), "AWS_LAMBDA_FUNCTION_NAME": "cvs-" + function,
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": testenv.DummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY": testenv.DummySecretAccessKey, "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED": "true", "TZ": "UTC",
	}
	for k, v := range env {
		vars[k] = v
	}
	cmd := exec.Command(filepath.Join(bootstraps(t), function, "bootstrap"))
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &lambdaProcess{name: function, rt: rt, logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		srv.Close()
		if t.Failed() {
			t.Logf("%s logs (last 4 KiB):\n%s", function, p.logs.tail(4096))
		}
	})
	return p
}

// invoke hands payload to the process and returns what it posted: the response, the error, or
// the init error of a function that could not start.
func (p *lambdaProcess) invoke(t *testing.T, payload []byte) runtimeResult {
	t.Helper()
	res, err := p.tryInvoke(payload)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tryInvoke is invoke for callers outside the test's goroutine (the Lambda Invoke stand-in).
func (p *lambdaProcess) tryInvoke(payload []byte) (runtimeResult, error) {
	rt := p.rt
	rt.mu.Lock()
	rt.seq++
	inv := &pendingInvoke{id: fmt.Sprintf("%s-%d", p.name, rt.seq), payload: payload, done: make(chan runtimeResult, 1)}
	rt.waiting[inv.id] = inv
	rt.mu.Unlock()
	deadline := time.After(rt.timeout + 10*time.Second)
	select {
	case rt.queue <- inv:
	case body := <-rt.initErr:
		return runtimeResult{Kind: "init-error", Body: body}, nil
	case <-p.exited:
		return runtimeResult{}, fmt.Errorf("%s exited before taking the invocation", p.name)
	case <-deadline:
		return runtimeResult{}, fmt.Errorf("%s did not ask for an invocation", p.name)
	}
	select {
	case res := <-inv.done:
		return res, nil
	case <-p.exited:
		return runtimeResult{}, fmt.Errorf("%s exited during the invocation", p.name)
	case <-deadline:
		return runtimeResult{}, fmt.Errorf("%s did not answer within its timeout", p.name)
	}
}

// cfnTemplate is template.yaml as the invoke test reads it.
type cfnTemplate struct {
	params    map[string]*yaml.Node
	resources map[string]*yaml.Node
	globals   *yaml.Node
}

func readTemplate(t *testing.T) *cfnTemplate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	tm := &cfnTemplate{params: map[string]*yaml.Node{}, resources: map[string]*yaml.Node{}}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch v := root.Content[i+1]; root.Content[i].Value {
		case "Parameters":
			for j := 0; j+1 < len(v.Content); j += 2 {
				tm.params[v.Content[j].Value] = v.Content[j+1]
			}
		case "Resources":
			for j := 0; j+1 < len(v.Content); j += 2 {
				tm.resources[v.Content[j].Value] = v.Content[j+1]
			}
		case "Globals":
			tm.globals = yamlKey(v, "Function")
		}
	}
	return tm
}

// yamlKey returns the value of key in mapping n, or nil.
func yamlKey(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// localStack is what the template's intrinsics resolve to on this machine: parameter values
// (the template's defaults unless set here), resources' Ref and GetAtt values, and conditions.
type localStack struct {
	tm         *cfnTemplate
	params     map[string]string
	refs       map[string]string // resource logical ID, or "ID.Attribute" for GetAtt
	conditions map[string]bool
}

// function returns the function's environment variables (Globals, then its own) and timeout.
func (s *localStack) function(t *testing.T, logicalID string) (map[string]string, time.Duration) {
	t.Helper()
	res := s.tm.resources[logicalID]
	if res == nil || yamlKey(res, "Type").Value != "AWS::Serverless::Function" {
		t.Fatalf("template.yaml has no function %s", logicalID)
	}
	env := map[string]string{}
	timeout := 3 * time.Second // SAM's default
	for _, props := range []*yaml.Node{s.tm.globals, yamlKey(res, "Properties")} {
		if vars := yamlKey(props, "Environment", "Variables"); vars != nil {
			for i := 0; i+1 < len(vars.Content); i += 2 {
				env[vars.Content[i].Value] = s.str(t, vars.Content[i+1])
			}
		}
		if n := yamlKey(props, "Timeout"); n != nil {
			sec, err := strconv.Atoi(n.Value)
			if err != nil {
				t.Fatalf("%s Timeout %q", logicalID, n.Value)
			}
			timeout = time.Duration(sec) * time.Second
		}
	}
	return env, timeout
}

func (s *localStack) str(t *testing.T, n *yaml.Node) string {
	t.Helper()
	switch v := s.eval(t, n).(type) {
	case string:
		return v
	case []string:
		return strings.Join(v, ",")
	}
	panic("unreachable")
}

var subRef = regexp.MustCompile(`\$\{([^}!]+)\}`)

// eval resolves the intrinsics template.yaml's environment variables use: Ref, GetAtt, Sub,
// Join and If, to a string or a list. Anything it cannot resolve fails the test, so a variable
// added to the template gets a local value here.
func (s *localStack) eval(t *testing.T, n *yaml.Node) any {
	t.Helper()
	ref := func(name string) any {
		switch name {
		case "AWS::Region":
			return "us-east-1"
		case "AWS::AccountId":
			return "123456789012"
		case "AWS::Partition":
			return "aws"
		case "AWS::URLSuffix":
			return "amazonaws.com"
		}
		if v, ok := s.refs[name]; ok {
			return v
		}
		p := s.tm.params[name]
		if p == nil {
			t.Fatalf("template.yaml: no local value for %s", name)
		}
		v, ok := s.params[name]
		if !ok {
			d := yamlKey(p, "Default")
			if d == nil {
				t.Fatalf("template.yaml: parameter %s has no default and no local value", name)
			}
			v = d.Value
		}
		if yamlKey(p, "Type").Value == "CommaDelimitedList" {
			if v == "" {
				return []string{}
			}
			return strings.Split(v, ",")
		}
		return v
	}
	switch n.Tag {
	case "!Ref":
		return ref(n.Value)
	case "!GetAtt":
		return ref(n.Value)
	case "!Sub":
		text, vars := n.Value, map[string]any{}
		if n.Kind == yaml.SequenceNode {
			text = n.Content[0].Value
			for i := 0; i+1 < len(n.Content[1].Content); i += 2 {
				vars[n.Content[1].Content[i].Value] = s.eval(t, n.Content[1].Content[i+1])
			}
		}
		return subRef.ReplaceAllStringFunc(text, func(m string) string {
			name := m[2 : len(m)-1]
			v, ok := vars[name]
			if !ok {
				v = ref(name)
			}
			if l, isList := v.([]string); isList {
				return strings.Join(l, ",")
			}
			return v.(string)
		})
	case "!Join":
		var parts []string
		for _, item := range n.Content[1].Content {
			switch v := s.eval(t, item).(type) {
			case string:
				parts = append(parts, v)
			case []string:
				parts = append(parts, v...)
			}
		}
		if len(n.Content[1].Content) == 1 && n.Content[1].Kind != yaml.SequenceNode {
			t.Fatalf("template.yaml line %d: Join of a non-list", n.Line)
		}
		return strings.Join(parts, n.Content[0].Value)
	case "!If":
		cond, ok := s.conditions[n.Content[0].Value]
		if !ok {
			t.Fatalf("template.yaml line %d: no local value for condition %s", n.Line, n.Content[0].Value)
		}
		if cond {
			return s.eval(t, n.Content[1])
		}
		return s.eval(t, n.Content[2])
	case "!!str", "!!int", "!!float", "!!bool":
		return n.Value
	case "!!seq":
		var l []string
		for _, item := range n.Content {
			l = append(l, s.str(t, item))
		}
		return l
	}
	t.Fatalf("template.yaml line %d: %s is not resolved locally", n.Line, n.Tag)
	return nil
}

var readmeInvoke = regexp.MustCompile("`sam local invoke ([A-Za-z]+) -e events/([A-Za-z0-9_.-]+\\.json)`")

// readmeInvocations returns the README's "Local invoke" table as "Function events/file.json".
func readmeInvocations(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := bytes.Cut(b, []byte("\n### Local invoke\n"))
	if !ok {
		t.Fatal(`README.md has no "### Local invoke" section`)
	}
	if end := bytes.Index(section, []byte("\n#")); end >= 0 {
		section = section[:end]
	}
	var rows []string
	for _, m := range readmeInvoke.FindAllSubmatch(section, -1) {
		rows = append(rows, string(m[1])+" events/"+string(m[2]))
	}
	return rows
}

// TestLocalInvokeListsAgree: every events/*.json is invoked by TestLocalInvoke, and the
// README's table lists exactly its invocations.
func TestLocalInvokeListsAgree(t *testing.T) {
	var cases []string
	covered := map[string]bool{}
	for _, fc := range invokeCases {
		for _, ev := range fc.events {
			cases = append(cases, fc.function+" events/"+ev.file)
			covered[ev.file] = true
		}
	}
	files, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "events", "*.json"))
	for _, f := range files {
		name := filepath.Base(f)
		switch pending := slices.Contains(pendingEvents, name); {
		case covered[name] && pending:
			t.Errorf("events/%s: invoked now, take it off pendingEvents", name)
		case !covered[name] && !pending:
			t.Errorf("events/%s: no case in TestLocalInvoke", name)
		}
	}
	readme := readmeInvocations(t)
	slices.Sort(cases)
	slices.Sort(readme)
	if !slices.Equal(cases, readme) {
		t.Errorf("README's Local invoke table:\n  %s\nTestLocalInvoke's cases:\n  %s", strings.Join(readme, "\n  "), strings.Join(cases, "\n  "))
	}
}

// decodeJSON decodes a function's response, failing the test on anything else.
func decodeJSON[T any](t *testing.T, res runtimeResult) T {
	t.Helper()
	var v T
	if res.Kind != "response" {
		t.Fatalf("function posted %s %s, want a response", res.Kind, res.Body)
	}
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatalf("response %s: %v", res.Body, err)
	}
	return v
}

// originHost is the sample events' origin: pointed at the test's origin server.
var originHost = regexp.MustCompile(`https://origin[a-z0-9-]*\.example\.com`)

// size is how many bytes were written so far.
func (s *syncBuffer) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// since returns what was written after the first off bytes.
func (s *syncBuffer) since(off int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b.Bytes()[off:])
}
