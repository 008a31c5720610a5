package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// The moto cross-check runs the definitions in statemachines/ unchanged in two engines: moto 5's
// Step Functions engine (a port of LocalStack's, which executes definitions when
// stepfunctions.execute_state_machine is on) and internal/asl. Both get the same canned Lambda
// results: moto from its Docker-free "lambda simple" backend, whose queue of results answers
// Lambda invocations in order (lambda.use_docker=false, POST /moto-api/static/lambda-simple/response),
// and the interpreter from in-process functions popping the same list behind asl.LambdaInvoke.
// Both publish their notifications to the same moto SNS topic, read back from an SQS queue. So
// the real Task states run on both sides (Parameters, the lambda:invoke result shape,
// ResultSelector, ResultPath, the sns:publish JSON message) and the test compares, per path, the
// states entered, every task's parameters, the notification, and the end state and output.
//
// Moto cannot make a Lambda function fail with a chosen error, but with lambda.use_docker=true a
// function that does not exist fails with Lambda.ResourceNotFoundException; the error paths use
// that, and the interpreter's function answers with the very error and cause moto reported.
//
// Two moto 5.2 quirks shape the test: a state machine backend with one finished execution cannot
// start another (StartExecution deep-copies the backend, execution threads included), so every
// path starts from /moto-api/reset; and moto's engine calls SNS and Lambda at localhost:$MOTO_PORT,
// so moto_server runs with MOTO_PORT set to its own port (testenv.Moto sets it).

const (
	motoRegion     = "us-east-1"
	motoAccount    = "123456789012"
	motoConfirmArn = "arn:aws:lambda:us-east-1:123456789012:function:cvs-confirm"
	motoCloseArn   = "arn:aws:lambda:us-east-1:123456789012:function:cvs-close"
	motoReopenArn  = "arn:aws:lambda:us-east-1:123456789012:function:cvs-reopen"
)

// syncBuffer collects a child process's output, safe for writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// motoAPI posts a JSON body to moto's control API.
func motoAPI(t *testing.T, endpoint, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(endpoint+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %s", path, resp.Status)
	}
}

// crossScenario is one path through a definition with the canned task results that take it.
type crossScenario struct {
	name       string
	definition string
	input      any
	// results answer Lambda invocations in order, whichever function is called.
	results []any
	// noFunctions: no Lambda function exists; invocations fail with moto's error.
	noFunctions bool
	// states is the path both engines must take (checked on both, so a wrong path in both
	// engines does not pass as agreement).
	states []string
}

// definitionFor is the one definition both engines run: the file with every ${...} substituted.
func definitionFor(t *testing.T, file, topicArn string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "statemachines", file))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for name, v := range map[string]string{
		contract.SubstConfirmFunctionArn:   motoConfirmArn,
		contract.SubstCloseFunctionArn:     motoCloseArn,
		contract.SubstReopenFunctionArn:    motoReopenArn,
		contract.SubstNotificationTopicArn: topicArn,
		contract.SubstPartition:            "aws",
	} {
		s = strings.ReplaceAll(s, "${"+name+"}", v)
	}
	if strings.Contains(s, "${") {
		t.Fatalf("%s has a substitution the cross-check does not know", file)
	}
	return []byte(s)
}

// engineRun is what one engine did on one path.
type engineRun struct {
	status, errName, cause string
	output                 any
	states                 []string
	taskParams             []any // every task's parameters, in order (retries included)
	notes                  []notification
	taskFailures           []sfntypes.TaskFailedEventDetails // moto only
}

type notification struct {
	Subject    string
	Message    any
	Attributes map[string]string
}

type motoClients struct {
	endpoint string
	sfn      *sfn.Client
	sns      *sns.Client
	sqs      *sqs.Client
}

func newMotoClients(endpoint string) motoClients {
	cfg := aws.Config{Region: motoRegion, Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	return motoClients{
		endpoint: endpoint,
		sfn:      sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		sns:      sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		sqs:      sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) }),
	}
}

// topicWithQueue creates the notification topic and an SQS queue subscribed to it.
func (c motoClients) topicWithQueue(t *testing.T, ctx context.Context) (topicArn, queueURL string) {
	t.Helper()
	topic, err := c.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("cvs-notifications")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cvs-operators")})
	if err != nil {
		t.Fatal(err)
	}
	queueArn := fmt.Sprintf("arn:aws:sqs:%s:%s:cvs-operators", motoRegion, motoAccount)
	if _, err := c.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueArn)}); err != nil {
		t.Fatal(err)
	}
	return *topic.TopicArn, *q.QueueUrl
}

// drain reads every notification waiting on the queue. Moto delivers SNS to SQS while
// publishing, so they are there when the execution has ended.
func (c motoClients) drain(t *testing.T, ctx context.Context, queueURL string) []notification {
	t.Helper()
	var out []notification
	for {
		resp, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Messages) == 0 {
			return out
		}
		for _, m := range resp.Messages {
			var env struct {
				Subject           string
				Message           string
				MessageAttributes map[string]struct{ Type, Value string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
				t.Fatalf("SNS envelope %s: %v", aws.ToString(m.Body), err)
			}
			n := notification{Subject: env.Subject, Attributes: map[string]string{}}
			if err := json.Unmarshal([]byte(env.Message), &n.Message); err != nil {
				t.Fatalf("notification message is not JSON: %s", env.Message)
			}
			for k, v := range env.MessageAttributes {
				n.Attributes[k] = v.Value
			}
			out = append(out, n)
			if _, err := c.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func decodeAny(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// runMoto runs the scenario in moto's engine.
func runMoto(t *testing.T, ctx context.Context, c motoClients, sc crossScenario, def []byte, queueURL, execName string) (engineRun, string) {
	t.Helper()
	if len(sc.results) > 0 {
		var results []string
		for _, r := range sc.results {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			results = append(results, string(b))
		}
		motoAPI(t, c.endpoint, "/moto-api/static/lambda-simple/response", map[string]any{"results": results, "region": motoRegion, "account_id": motoAccount})
	}
	sm, err := c.sfn.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(strings.TrimSuffix(sc.definition, ".asl.json")),
		Definition: aws.String(string(def)),
		RoleArn:    aws.String("arn:aws:iam::" + motoAccount + ":role/cvs-state-machine"),
	})
	if err != nil {
		t.Fatalf("moto CreateStateMachine: %v", err)
	}
	input, err := json.Marshal(sc.input)
	if err != nil {
		t.Fatal(err)
	}
	start, err := c.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String(execName), Input: aws.String(string(input))})
	if err != nil {
		t.Fatalf("moto StartExecution: %v", err)
	}
	var desc *sfn.DescribeExecutionOutput
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(25 * time.Millisecond) {
		if desc, err = c.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn}); err != nil {
			t.Fatal(err)
		}
		if desc.Status != sfntypes.ExecutionStatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("moto execution still running after 20s")
		}
	}
	r := engineRun{status: string(desc.Status), errName: aws.ToString(desc.Error), cause: aws.ToString(desc.Cause)}
	if desc.Output != nil {
		r.output = decodeAny(t, *desc.Output)
	}
	hist, err := c.sfn.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range hist.Events {
		switch {
		case e.StateEnteredEventDetails != nil:
			r.states = append(r.states, aws.ToString(e.StateEnteredEventDetails.Name))
		case e.TaskScheduledEventDetails != nil:
			r.taskParams = append(r.taskParams, decodeAny(t, aws.ToString(e.TaskScheduledEventDetails.Parameters)))
		case e.TaskFailedEventDetails != nil:
			r.taskFailures = append(r.taskFailures, *e.TaskFailedEventDetails)
		}
	}
	r.notes = c.drain(t, ctx, queueURL)
	return r, aws.ToString(sm.StateMachineArn)
}

// runInterpreter runs the scenario in internal/local/asl, with the same canned results and moto's SNS.
func runInterpreter(t *testing.T, ctx context.Context, c motoClients, sc crossScenario, def []byte, smArn, queueURL, execName string, motoFailures []sfntypes.TaskFailedEventDetails) engineRun {
	t.Helper()
	var mu sync.Mutex
	results := append([]any(nil), sc.results...)
	canned := lambdaFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(results) == 0 {
			return nil, fmt.Errorf("no canned result left")
		}
		r := results[0]
		results = results[1:]
		return json.Marshal(r)
	})
	invoke := asl.LambdaInvoke(map[string]asl.LambdaFunction{motoConfirmArn: canned, motoCloseArn: canned, motoReopenArn: canned})
	if sc.noFunctions {
		// The functions do not exist: answer with the failures moto reported, in order.
		failures := append([]sfntypes.TaskFailedEventDetails(nil), motoFailures...)
		invoke = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			defer mu.Unlock()
			if len(failures) == 0 {
				return nil, fmt.Errorf("moto reported fewer task failures than the interpreter asked for")
			}
			f := failures[0]
			failures = failures[1:]
			return nil, &asl.TaskError{Name: aws.ToString(f.Error), Cause: aws.ToString(f.Cause)}
		}
	}
	publish := asl.SNSPublish(func(ctx context.Context, m asl.SNSMessage) (string, error) {
		in := &sns.PublishInput{TopicArn: aws.String(m.TopicArn), Message: aws.String(m.Message)}
		if m.Subject != "" {
			in.Subject = aws.String(m.Subject)
		}
		if len(m.Attributes) > 0 {
			in.MessageAttributes = map[string]snstypes.MessageAttributeValue{}
			for k, v := range m.Attributes {
				in.MessageAttributes[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
			}
		}
		out, err := c.sns.Publish(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.MessageId), nil
	})
	m, err := asl.Load(def, asl.Options{
		Handlers:        map[string]asl.Handler{asl.ResourceLambdaInvoke: invoke, asl.ResourceSNSPublish: publish},
		Clock:           asl.NewVirtualClock(time.Now()),
		StateMachineArn: smArn,
	})
	if err != nil {
		t.Fatalf("interpreter: %v", err)
	}
	input, err := json.Marshal(sc.input)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := m.Run(ctx, execName, input)
	if err != nil {
		t.Fatal(err)
	}
	r := engineRun{status: string(ex.Status), errName: ex.Error, cause: ex.Cause, states: ex.StateNames()}
	if ex.Status == asl.StatusSucceeded {
		r.output = decodeAny(t, string(ex.Output))
	}
	for _, s := range ex.Steps {
		for _, a := range s.Attempts {
			r.taskParams = append(r.taskParams, decodeAny(t, string(a.Input)))
		}
	}
	r.notes = c.drain(t, ctx, queueURL)
	return r
}

type lambdaFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f lambdaFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// maskMessageIDs replaces SNS message IDs (random) in a workflow output.
func maskMessageIDs(v any) any {
	if m, ok := v.(map[string]any); ok {
		if n, ok := m["notification"].(map[string]any); ok {
			if _, ok := n["message_id"]; ok {
				n["message_id"] = "<message id>"
			}
		}
	}
	return v
}

func TestASLAgreesWithMoto(t *testing.T) {
	testenv.Short(t, "the moto cross-check")
	endpoint := testenv.Moto(t, "the Step Functions cross-check")
	c := newMotoClients(endpoint)
	ctx := context.Background()

	probed := time.Date(2025, 3, 1, 12, 0, 11, 0, time.UTC)
	stale := contract.DetectorEvent{
		Version: 1, Event: state.HealthStale, Cluster: "news", Domain: "d111111abcdef8.cloudfront.net", Region: "eu-west-1",
		OriginPlaylistURL: "https://origin-eu.example.com/news/index.m3u8",
		Playlists: []contract.PlaylistDetail{{URL: "https://origin-eu.example.com/news/720p.m3u8", State: state.HealthStale,
			MediaSequence: 18234, TargetDuration: 6, LastChange: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}},
		DetectedAt: time.Date(2025, 3, 1, 12, 0, 9, 0, time.UTC), StaleForMS: 9000, Sequence: 42,
	}
	fresh := stale
	fresh.Event, fresh.StaleForMS, fresh.Sequence = state.HealthFresh, 0, 43
	failback := contract.FailbackInput{DetectorEvent: fresh, HoldDownSeconds: 0}
	stillStale := contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale, Reason: "media sequence 18234 unchanged for 11.0 s", ProbedAt: probed}
	advancing := contract.ConfirmOutput{Confirmed: false, Health: state.HealthFresh, Reason: "media sequence advanced to 18236", ProbedAt: probed}
	freshNow := contract.ConfirmOutput{Confirmed: true, Health: state.HealthFresh, Reason: "fresh since the event", ProbedAt: probed}

	scenarios := []crossScenario{
		{name: "failover closes", definition: "failover.asl.json", input: stale,
			results: []any{stillStale, contract.CloseOutput{Closed: true, Changed: true, Reason: "closed"}},
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyClosed"}},
		{name: "failover false alarm", definition: "failover.asl.json", input: stale,
			results: []any{advancing},
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "NotifyFalseAlarm"}},
		{name: "failover guard refusal", definition: "failover.asl.json", input: stale,
			results: []any{stillStale, contract.CloseOutput{Refused: true, Reason: "no other instance is open and healthy"}},
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyRefused"}},
		{name: "failover skipped", definition: "failover.asl.json", input: stale,
			results: []any{stillStale, contract.CloseOutput{Skipped: true, Reason: "detector event #42 is not newer than event #44"}},
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifySkipped"}},
		{name: "failover already closed", definition: "failover.asl.json", input: stale,
			results: []any{stillStale, contract.CloseOutput{Closed: true, Reason: "already closed by an operator"}},
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyAlreadyClosed"}},
		{name: "failover unexpected close result", definition: "failover.asl.json", input: stale,
			results: []any{stillStale, contract.CloseOutput{Reason: "?"}},
			states:  []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "UnexpectedCloseResult", "CloseFailed", "NotifyFailure", "Failed"}},
		{name: "failover task error caught and notified", definition: "failover.asl.json", input: stale, noFunctions: true,
			states: []string{"CheckInput", "Confirm", "ConfirmFailed", "NotifyFailure", "Failed"}},
		{name: "failover invalid input", definition: "failover.asl.json", input: map[string]any{"cluster": "news"},
			states: []string{"CheckInput", "InvalidInput", "NotifyInvalidInput", "Failed"}},
		{name: "failback reopens", definition: "failback.asl.json", input: failback,
			results: []any{freshNow, contract.ReopenOutput{Opened: true, Changed: true, Reason: "reopened"}},
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "NotifyReopened"}},
		{name: "failback origin not fresh", definition: "failback.asl.json", input: failback,
			results: []any{contract.ConfirmOutput{Confirmed: false, Health: state.HealthStale, Reason: "stale again", ProbedAt: probed}},
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "NotifyNotFresh"}},
		{name: "failback reopen refused", definition: "failback.asl.json", input: failback,
			results: []any{freshNow, contract.ReopenOutput{Refused: true, Reason: "closed by an operator"}},
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "NotifyReopenRefused"}},
		{name: "failback reopen skipped", definition: "failback.asl.json", input: failback,
			results: []any{freshNow, contract.ReopenOutput{Skipped: true, Reason: "detector event #43 is not newer than event #46"}},
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "NotifyReopenSkipped"}},
		{name: "failback unexpected reopen result", definition: "failback.asl.json", input: failback,
			results: []any{freshNow, contract.ReopenOutput{Reason: "?"}},
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "UnexpectedReopenResult", "ReopenFailed", "NotifyFailure", "Failed"}},
		{name: "failback task error caught and notified", definition: "failback.asl.json", input: failback, noFunctions: true,
			states: []string{"CheckInput", "HoldDown", "Reprobe", "ReprobeFailed", "NotifyFailure", "Failed"}},
	}
	began, ran := time.Now(), 0
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ran++
			motoAPI(t, endpoint, "/moto-api/reset", map[string]any{})
			motoAPI(t, endpoint, "/moto-api/config", map[string]any{
				"stepfunctions": map[string]any{"execute_state_machine": true},
				"lambda":        map[string]any{"use_docker": sc.noFunctions},
			})
			topicArn, queueURL := c.topicWithQueue(t, ctx)
			def := definitionFor(t, sc.definition, topicArn)
			execName := fmt.Sprintf("cross-%d", i)

			got, smArn := runMoto(t, ctx, c, sc, def, queueURL, execName)
			if sc.noFunctions && len(got.taskFailures) == 0 {
				t.Fatalf("moto reported no task failure; states %v", got.states)
			}
			want := runInterpreter(t, ctx, c, sc, def, smArn, queueURL, execName, got.taskFailures)

			for _, r := range []struct {
				engine string
				run    engineRun
			}{{"moto", got}, {"asl", want}} {
				if diff := cmp.Diff(sc.states, r.run.states); diff != "" {
					t.Errorf("%s took another path (-want +got):\n%s", r.engine, diff)
				}
				if len(r.run.notes) != 1 {
					t.Errorf("%s sent %d notifications, want 1", r.engine, len(r.run.notes))
				}
			}
			if got.status != want.status || got.errName != want.errName || got.cause != want.cause {
				t.Errorf("end: moto %s %q %q, asl %s %q %q", got.status, got.errName, got.cause, want.status, want.errName, want.cause)
			}
			if diff := cmp.Diff(maskMessageIDs(got.output), maskMessageIDs(want.output)); diff != "" {
				t.Errorf("output (-moto +asl):\n%s", diff)
			}
			if diff := cmp.Diff(got.taskParams, want.taskParams); diff != "" {
				t.Errorf("task parameters (-moto +asl):\n%s", diff)
			}
			if diff := cmp.Diff(got.notes, want.notes); diff != "" {
				t.Errorf("notifications (-moto +asl):\n%s", diff)
			}
		})
	}
	t.Logf("%d paths through both engines in %v", ran, time.Since(began).Round(time.Millisecond))
}
