package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
)

// The state machines' Retry and Catch match the error names the task Lambdas report, and the
// local runtime reports them through asl.LambdaInvoke. This test checks both against the real
// aws-lambda-go runtime: a child process (this test binary) runs lambda.Start against a Runtime
// API served by httptest, and the test compares what the runtime posts for each invocation with
// the workflow's error-name constants and with what asl.LambdaInvoke makes of the same handler.

const lambdaChildEnv = "CVS_ASL_LAMBDA_CHILD"

// runtimeCase is what the handler does for one kind of invocation.
func runtimeCase(kind string) (any, error) {
	cause := errors.New("connection reset by peer")
	switch kind {
	case "invalid-input":
		return nil, &contract.InvalidInputError{What: "close input", Problems: []string{"cluster: is required", `note: "quoted" <tag> & more`}}
	case "origin-probe":
		return nil, &contract.OriginProbeError{URL: "https://origin.example.com/index.m3u8", Err: cause}
	case "not-found":
		return nil, &contract.InstanceNotFoundError{Cluster: "news", Domain: "d1.cloudfront.net"}
	case "state-store":
		return nil, &contract.StateStoreError{Op: "close", Err: cause}
	case "wrapped":
		return nil, fmt.Errorf("close news/d1: %w", &contract.StateStoreError{Op: "close", Err: cause})
	case "ok":
		return contract.CloseOutput{Closed: true, Changed: true, Reason: "closed <now> & audited"}, nil
	}
	return nil, fmt.Errorf("unknown case %q", kind)
}

func runtimeHandler(ctx context.Context, in struct{ Kind string }) (any, error) {
	return runtimeCase(in.Kind)
}

// TestMain runs the test binary as the Lambda function process of
// TestASLLambdaErrorsMatchTheRuntime when that test starts it as its child, and the tests
// otherwise. (A child test that skips when not a child would fail under CVS_STRICT=1.)
func TestMain(m *testing.M) {
	if os.Getenv(lambdaChildEnv) == "1" {
		lambda.Start(runtimeHandler) // returns only by exiting the process
	}
	os.Exit(m.Run())
}

// runtimeAPI is a Lambda Runtime API (2018-06-01) that hands out a fixed list of invocations
// and records what the function posts back.
type runtimeAPI struct {
	mu      sync.Mutex
	pending []string // payloads, by request id "req-<index>"
	next    int
	results map[string]posted
	done    chan struct{}
}

type posted struct {
	kind string // "response" or "error"
	body []byte
}

func (a *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2018-06-01/runtime/invocation/"
	path := strings.TrimPrefix(r.URL.Path, prefix)
	switch {
	case r.Method == http.MethodGet && path == "next":
		a.mu.Lock()
		i := a.next
		a.next++
		a.mu.Unlock()
		if i >= len(a.pending) {
			// No more work: the runtime treats this as fatal and exits, which ends the child.
			http.Error(w, "done", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-"+strconv.Itoa(i))
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:cvs-close")
		io.WriteString(w, a.pending[i])
	case r.Method == http.MethodPost:
		id, kind, ok := strings.Cut(path, "/")
		if !ok || (kind != "response" && kind != "error") {
			http.NotFound(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.results[id] = posted{kind, body}
		if len(a.results) == len(a.pending) {
			close(a.done)
		}
		a.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

func TestASLLambdaErrorsMatchTheRuntime(t *testing.T) {
	kinds := []string{"invalid-input", "origin-probe", "not-found", "state-store", "wrapped", "ok"}
	api := &runtimeAPI{results: map[string]posted{}, done: make(chan struct{})}
	for _, k := range kinds {
		api.pending = append(api.pending, fmt.Sprintf(`{"Kind":%q}`, k))
	}
	srv := httptest.NewServer(api)
	defer srv.Close()

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), lambdaChildEnv+"=1", "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"))
	var logs syncBuffer
	child.Stdout, child.Stderr = &logs, &logs
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { child.Wait(); close(exited) }()
	defer func() {
		child.Process.Kill()
		<-exited
	}()
	select {
	case <-api.done:
	case <-exited:
		t.Fatalf("the Lambda process exited before answering every invocation:\n%s", logs.tail(4096))
	case <-time.After(30 * time.Second):
		t.Fatalf("the Lambda process did not answer within 30s:\n%s", logs.tail(4096))
	}

	wantType := map[string]string{
		"invalid-input": contract.ErrNameInvalidInput,
		"origin-probe":  contract.ErrNameOriginProbe,
		"not-found":     contract.ErrNameInstanceNotFound,
		"state-store":   contract.ErrNameStateStore,
		"wrapped":       "wrapError", // why task handlers must not wrap their errors
	}
	invoke := asl.LambdaInvoke(map[string]asl.LambdaFunction{"fn": lambda.NewHandler(runtimeHandler)})
	for i, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			got := api.results["req-"+strconv.Itoa(i)]
			local, localErr := invoke(context.Background(), json.RawMessage(`{"FunctionName":"fn","Payload":`+api.pending[i]+`}`))
			if kind == "ok" {
				if got.kind != "response" || localErr != nil {
					t.Fatalf("runtime posted %s %s; local error %v", got.kind, got.body, localErr)
				}
				var res struct{ Payload any }
				if err := json.Unmarshal(local, &res); err != nil {
					t.Fatal(err)
				}
				var runtimeOut any
				if err := json.Unmarshal(got.body, &runtimeOut); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(runtimeOut, res.Payload); diff != "" {
					t.Errorf("Payload (-runtime +local):\n%s", diff)
				}
				return
			}
			if got.kind != "error" {
				t.Fatalf("runtime posted a %s for an error: %s", got.kind, got.body)
			}
			var payload struct {
				ErrorMessage string `json:"errorMessage"`
				ErrorType    string `json:"errorType"`
			}
			if err := json.Unmarshal(got.body, &payload); err != nil {
				t.Fatalf("error payload %s: %v", got.body, err)
			}
			if payload.ErrorType != wantType[kind] {
				t.Errorf("runtime errorType %q, want %q", payload.ErrorType, wantType[kind])
			}
			var te *asl.TaskError
			if !errors.As(localErr, &te) {
				t.Fatalf("local error %T %v, want *asl.TaskError", localErr, localErr)
			}
			if te.Name != payload.ErrorType {
				t.Errorf("local error name %q, runtime errorType %q", te.Name, payload.ErrorType)
			}
			// Step Functions' cause for a function error is the function's error payload.
			if te.Cause != string(got.body) {
				t.Errorf("local cause\n%s\nruntime error payload\n%s", te.Cause, got.body)
			}
		})
	}
}
