package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

// These tests run the real statemachines/failover.asl.json and failback.asl.json through
// internal/local/asl with the real task handlers in process (Confirm against an httptest origin whose
// playlists follow the interpreter's virtual clock, Close and Reopen against the memory store or
// DynamoDB Local), and check each path end to end: the states taken, the retries and waits,
// what operators are told, and what the state table holds afterwards.

const (
	foCluster  = "news-channel"
	foOurs     = "d111111abcdef8.cloudfront.net" // the sample events' instance
	foPeer     = "d222222abcdef8.cloudfront.net"
	foHoldDown = 300 * time.Second
	foTD       = 6 * time.Second
)

// foOrigin serves the sample events' two media playlists; what they hold follows a script of
// the virtual time.
type foOrigin struct {
	*httptest.Server
	clock  *asl.VirtualClock
	mu     sync.Mutex
	answer func(now time.Time) (status int, body string)
}

func newFoOrigin(t *testing.T, clock *asl.VirtualClock) *foOrigin {
	o := &foOrigin{clock: clock}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/news/720p.m3u8" && r.URL.Path != "/news/360p.m3u8" {
			http.NotFound(w, r)
			return
		}
		o.mu.Lock()
		answer := o.answer
		o.mu.Unlock()
		status, body := answer(clock.Now())
		if status != http.StatusOK {
			http.Error(w, http.StatusText(status), status)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *foOrigin) serve(f func(now time.Time) (int, string)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answer = f
}

// foMedia is a sliding-window live playlist of 5 segments from media sequence msn.
func foMedia(msn uint64, ended bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:%d\n", msn)
	for i := range uint64(5) {
		fmt.Fprintf(&b, "#EXTINF:6.000,\nseg%d.ts\n", msn+i)
	}
	if ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.String()
}

// foEventPlaylist is an EVENT playlist (it only grows) of n segments from media sequence msn.
func foEventPlaylist(msn uint64, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:%d\n", msn)
	for i := range uint64(n) {
		fmt.Fprintf(&b, "#EXTINF:6.000,\nseg%d.ts\n", msn+i)
	}
	return b.String()
}

// Origin behaviours.
func foStalled(msn uint64) func(time.Time) (int, string) {
	return func(time.Time) (int, string) { return http.StatusOK, foMedia(msn, false) }
}

// foAdvancing adds a segment every target duration from msn at since.
func foAdvancing(msn uint64, since time.Time) func(time.Time) (int, string) {
	return func(now time.Time) (int, string) {
		return http.StatusOK, foMedia(msn+uint64(max(0, now.Sub(since))/foTD), false)
	}
}

func foStatus(code int) func(time.Time) (int, string) {
	return func(time.Time) (int, string) { return code, "" }
}

// foWorld is one run's state machines, task handlers, state store and notifications.
type foWorld struct {
	t        *testing.T
	clock    *asl.VirtualClock
	origin   *foOrigin
	store    state.Store
	failover *asl.Machine
	failback *asl.Machine

	mu     sync.Mutex
	notes  []asl.SNSMessage
	faults map[string][]*asl.TaskError // Lambda service faults to answer first, by function ARN
}

var foQuiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newFoWorld starts the virtual clock at start and wires the real handlers to store (nil: a
// memory store on the virtual clock) and publish (nil: record the notifications).
func newFoWorld(t *testing.T, start time.Time, store func(now func() time.Time) state.Store, publish asl.SNSPublisher) *foWorld {
	w := &foWorld{t: t, clock: asl.NewVirtualClock(start), faults: map[string][]*asl.TaskError{}}
	w.origin = newFoOrigin(t, w.clock)
	if store == nil {
		w.store = memory.New(w.clock.Now)
	} else {
		w.store = store(w.clock.Now)
	}
	if publish == nil {
		publish = func(ctx context.Context, m asl.SNSMessage) (string, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.notes = append(w.notes, m)
			return fmt.Sprintf("msg-%d", len(w.notes)), nil
		}
	}
	confirm := &failover.Confirmer{
		Fetcher: &origin.Fetcher{Client: w.origin.Client(), Now: w.clock.Now},
		History: w.store, Now: w.clock.Now, Log: foQuiet,
	}
	closer := &failover.Closer{Store: w.store, HoldDown: foHoldDown, Now: w.clock.Now, Log: foQuiet}
	reopener := &failover.Reopener{Store: w.store, Log: foQuiet}
	invoke := asl.LambdaInvoke(map[string]asl.LambdaFunction{
		foSubstitutions[contract.SubstConfirmFunctionArn]: lambda.NewHandler(confirm.Confirm),
		foSubstitutions[contract.SubstCloseFunctionArn]:   lambda.NewHandler(closer.Close),
		foSubstitutions[contract.SubstReopenFunctionArn]:  lambda.NewHandler(reopener.Reopen),
	})
	handlers := map[string]asl.Handler{
		asl.ResourceLambdaInvoke: func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var req struct{ FunctionName string }
			if err := json.Unmarshal(in, &req); err != nil {
				return nil, err
			}
			w.mu.Lock()
			var fault *asl.TaskError
			if q := w.faults[req.FunctionName]; len(q) > 0 {
				fault, w.faults[req.FunctionName] = q[0], q[1:]
			}
			w.mu.Unlock()
			if fault != nil {
				return nil, fault
			}
			return invoke(ctx, in)
		},
		asl.ResourceSNSPublish: asl.SNSPublish(publish),
	}
	load := func(file, name string) *asl.Machine {
		m, err := asl.Load(foDefinition(t, file, foSubstitutions), asl.Options{
			Handlers: handlers, Clock: w.clock,
			StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:" + name,
		})
		if err != nil {
			t.Fatalf("load %s: %v", file, err)
		}
		return m
	}
	w.failover, w.failback = load("failover.asl.json", "cvs-failover"), load("failback.asl.json", "cvs-failback")
	return w
}

// register puts the sample instance and a peer in the store, both open and fresh.
func (w *foWorld) register() {
	ctx := context.Background()
	for _, d := range []string{foOurs, foPeer} {
		_, err := w.store.Register(ctx, state.Registration{Cluster: foCluster, Domain: d, Region: "eu-west-1",
			DistributionPlaylistURL: "https://" + d + "/news/index.m3u8", OriginPlaylistURL: w.origin.URL + "/news/index.m3u8"},
			state.Change{By: "arn:aws:iam::123456789012:user/operator", Reason: "register"})
		if err != nil {
			w.t.Fatal(err)
		}
		w.health(d, state.HealthFresh)
	}
}

// vouchPeer is the peer's detector running on while the virtual clock moves: it saves its
// memory about once a minute, which stamps the peer's heartbeat that the close guard wants
// recent (state.Instance.HealthyAt).
func (w *foWorld) vouchPeer() {
	s, ok := w.store.(*memory.Store)
	if !ok {
		w.t.Fatalf("vouchPeer needs the memory store, not %T", w.store)
	}
	if _, err := s.Vouch(context.Background(), foCluster, foPeer); err != nil {
		w.t.Fatal(err)
	}
}

func (w *foWorld) health(domain string, h state.Health) {
	if _, err := w.store.RecordHealth(context.Background(), foCluster, domain, h, state.Change{By: "detector", Reason: "test"}); err != nil {
		w.t.Fatal(err)
	}
}

// event is the sample detector event of events/trigger-<kind>.json, pointed at the test origin,
// with the given sequence, detection time, last change and media sequence, and the live edge
// the detector saw then: the newest of foMedia's 5 segments.
func (w *foWorld) event(kind string, seq int64, detected, lastChange time.Time, msn uint64) contract.DetectorEvent {
	w.t.Helper()
	body := foSNSEvent(w.t, "trigger-"+kind).Records[0].SNS.Message
	body = strings.ReplaceAll(body, "https://origin-eu.example.com", w.origin.URL)
	e, err := contract.ParseDetectorEvent([]byte(body))
	if err != nil {
		w.t.Fatal(err)
	}
	e.Sequence, e.DetectedAt = seq, detected
	if kind == "stale" {
		e.StaleForMS = detected.Sub(lastChange).Milliseconds()
	}
	for i := range e.Playlists {
		e.Playlists[i].LastChange, e.Playlists[i].MediaSequence = lastChange, msn
		e.Playlists[i].LiveEdge = &contract.LiveEdge{Sequence: msn + 4, SegmentURI: fmt.Sprintf("seg%d.ts", msn+4)}
	}
	return e
}

// runFailover runs the failover workflow on e, as the trigger starts it.
func (w *foWorld) runFailover(e contract.DetectorEvent) *asl.Execution {
	return w.run(w.failover, e, e)
}

// runFailback runs the failback workflow on e, as the trigger starts it.
func (w *foWorld) runFailback(e contract.DetectorEvent) *asl.Execution {
	return w.run(w.failback, e, contract.FailbackInput{DetectorEvent: e, HoldDownSeconds: int(foHoldDown / time.Second)})
}

func (w *foWorld) run(m *asl.Machine, e contract.DetectorEvent, input any) *asl.Execution {
	w.t.Helper()
	body, err := json.Marshal(input)
	if err != nil {
		w.t.Fatal(err)
	}
	ex, err := m.Run(context.Background(), contract.ExecutionName(e), body)
	if err != nil {
		w.t.Fatal(err)
	}
	return ex
}

// notification returns the one notification sent since the last call, decoded.
func (w *foWorld) notification() (subject string, msg map[string]any) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.notes) != 1 {
		w.t.Fatalf("%d notifications, want 1: %+v", len(w.notes), w.notes)
	}
	n := w.notes[0]
	w.notes = nil
	if err := json.Unmarshal([]byte(n.Message), &msg); err != nil {
		w.t.Fatalf("notification %q: %v", n.Message, err)
	}
	if got, want := n.Attributes["outcome"], msg["outcome"]; got != want {
		w.t.Errorf("outcome attribute %q, message outcome %v", got, want)
	}
	return n.Subject, msg
}

// snapshot is what the store holds for the sample instance: its version, open state, and its
// audit trail (oldest first).
type foSnapshot struct {
	Version int64
	Open    bool
	Trail   []string // "<field> <before> -> <after> by <who>"
}

func (w *foWorld) snapshot() foSnapshot {
	w.t.Helper()
	in, err := w.store.Instance(context.Background(), foCluster, foOurs)
	if err != nil {
		w.t.Fatal(err)
	}
	page, err := w.store.History(context.Background(), state.HistoryQuery{Cluster: foCluster, Domain: foOurs, Limit: 500})
	if err != nil {
		w.t.Fatal(err)
	}
	s := foSnapshot{Version: in.Version, Open: in.Open}
	for i := len(page.Records) - 1; i >= 0; i-- {
		r := page.Records[i]
		s.Trail = append(s.Trail, fmt.Sprintf("%s %s -> %s by %s", r.Field, r.Before, r.After, r.By))
	}
	return s
}

// openChanges lists the trail's changes of distro_open.
func (s foSnapshot) openChanges() []string {
	var out []string
	for _, l := range s.Trail {
		if strings.HasPrefix(l, string(state.FieldOpen)+" ") {
			out = append(out, l)
		}
	}
	return out
}

func foExecArn(machine string, e contract.DetectorEvent) string {
	return "arn:aws:states:us-east-1:123456789012:execution:" + machine + ":" + contract.ExecutionName(e)
}

// Sample times: the stale sample's playlists last changed at 12:00:00 at media sequence 18234;
// the detector's event came at 12:00:09.2 and the workflow runs at 12:00:10.
var (
	foLastChange = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	foDetected   = time.Date(2025, 3, 1, 12, 0, 9, 200e6, time.UTC)
	foStart      = time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC)
)

func TestFailoverWorkflowWithRealTasks(t *testing.T) {
	type want struct {
		status  asl.Status
		states  []string
		retries map[string]int
		sleeps  []time.Duration
		outcome string
		summary string // substring of the notification's summary
		err     string // execution error when FAILED
		closed  bool   // the instance is closed afterwards, by this execution
	}
	stalled := foStalled(18234)
	tests := []struct {
		name   string
		origin func(time.Time) (int, string)
		prep   func(w *foWorld)
		faults map[string][]*asl.TaskError
		// event changes the stale event #42 before the run.
		event func(e *contract.DetectorEvent)
		want  want
	}{
		{name: "stalled origin: confirmed, closed, notified", origin: stalled, want: want{
			status: asl.StatusSucceeded, states: []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyClosed"},
			outcome: "closed", summary: "Closed d111111abcdef8.cloudfront.net (eu-west-1) of cluster news-channel: players move to the other regions. Why: detector stale event #42 confirmed: ",
			closed: true}},
		{name: "origin answering 404: still failing, closed", origin: foStatus(http.StatusNotFound), want: want{
			status: asl.StatusSucceeded, states: []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyClosed"},
			outcome: "closed", summary: "HTTP status 404", closed: true}},
		{name: "origin advanced again: false alarm, nothing changed", origin: foAdvancing(18234, foLastChange), want: want{
			status: asl.StatusSucceeded, states: []string{"CheckInput", "Confirm", "IsConfirmed", "NotifyFalseAlarm"},
			outcome: "false_alarm", summary: "the confirming probe found the origin fresh: "}},
		{name: "ended stream: false alarm, nothing changed", origin: func(time.Time) (int, string) { return 200, foMedia(18234, true) }, want: want{
			status: asl.StatusSucceeded, states: []string{"CheckInput", "Confirm", "IsConfirmed", "NotifyFalseAlarm"},
			outcome: "false_alarm", summary: "the confirming probe found the origin ended: "}},
		{name: "EVENT playlist that did not grow: confirmed from the live edge, closed", origin: func(time.Time) (int, string) {
			return 200, foEventPlaylist(18234, 5)
		}, want: want{
			status: asl.StatusSucceeded, states: []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyClosed"},
			outcome: "closed", summary: "no progress for", closed: true}},
		{name: "EVENT playlist that grew: false alarm from the live edge, nothing changed", origin: func(time.Time) (int, string) {
			return 200, foEventPlaylist(18234, 6)
		}, want: want{
			status: asl.StatusSucceeded, states: []string{"CheckInput", "Confirm", "IsConfirmed", "NotifyFalseAlarm"},
			outcome: "false_alarm", summary: "new segment at the live edge, media sequence 18239"}},
		{name: "last healthy instance: guard refuses, nothing written", origin: stalled,
			prep: func(w *foWorld) { w.health(foPeer, state.HealthStale) }, want: want{
				status: asl.StatusSucceeded, states: []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyRefused"},
				outcome: "refused", summary: "no other instance of the cluster is open and healthy. Viewers on it may stall; an operator must act."}},
		{name: "Lambda throttling is retried with backoff", origin: stalled,
			faults: map[string][]*asl.TaskError{
				foSubstitutions[contract.SubstConfirmFunctionArn]: {{Name: "Lambda.TooManyRequestsException", Cause: "Rate Exceeded."}},
				foSubstitutions[contract.SubstCloseFunctionArn]:   {{Name: "Lambda.ServiceException", Cause: "Internal error"}, {Name: "Lambda.ServiceException", Cause: "Internal error"}},
			}, want: want{
				status: asl.StatusSucceeded, states: []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseOutcome", "NotifyClosed"},
				retries: map[string]int{"Confirm": 1, "Close": 2}, sleeps: []time.Duration{time.Second, time.Second, 2 * time.Second},
				outcome: "closed", summary: "Closed ", closed: true}},
		{name: "task error: retried, caught, failure notified", origin: func(time.Time) (int, string) {
			return 200, strings.Replace(foMedia(18234, false), "#EXT-X-VERSION:3\n", "#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n", 1)
		}, faults: map[string][]*asl.TaskError{
			foSubstitutions[contract.SubstConfirmFunctionArn]: {{Name: "Lambda.ServiceException", Cause: "Internal error"}},
		}, event: func(e *contract.DetectorEvent) {
			// An event from before live_edge: its media sequence alone cannot judge an EVENT
			// playlist, which Confirm reports as an OriginProbeError.
			for i := range e.Playlists {
				e.Playlists[i].LiveEdge = nil
			}
		}, want: want{
			status: asl.StatusFailed, states: []string{"CheckInput", "Confirm", "ConfirmFailed", "NotifyFailure", "Failed"},
			retries: map[string]int{"Confirm": 2}, sleeps: []time.Duration{time.Second, time.Second},
			outcome: "failed", summary: "stopped at step Confirm with OriginProbeError", err: contract.ErrNameOriginProbe}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFoWorld(t, foStart, nil, nil)
			w.register()
			w.origin.serve(tt.origin)
			if tt.prep != nil {
				tt.prep(w)
			}
			w.faults = tt.faults
			before := w.snapshot()
			e := w.event("stale", 42, foDetected, foLastChange, 18234)
			if tt.event != nil {
				tt.event(&e)
			}
			ex := w.runFailover(e)

			if ex.Status != tt.want.status || ex.Error != tt.want.err {
				t.Errorf("execution %s %s (%s), want %s %s", ex.Status, ex.Error, ex.Cause, tt.want.status, tt.want.err)
			}
			if diff := cmp.Diff(tt.want.states, ex.StateNames()); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			for _, s := range ex.Steps {
				if got, want := s.Retries(), tt.want.retries[s.State]; got != want {
					t.Errorf("%s retried %d times, want %d", s.State, got, want)
				}
			}
			if diff := cmp.Diff(tt.want.sleeps, w.clock.Sleeps()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			_, msg := w.notification()
			if msg["outcome"] != tt.want.outcome {
				t.Errorf("notified %v, want %s: %v", msg["outcome"], tt.want.outcome, msg)
			}
			if s, _ := msg["summary"].(string); !strings.Contains(s, tt.want.summary) {
				t.Errorf("summary %q does not say %q", s, tt.want.summary)
			}
			after := w.snapshot()
			if !tt.want.closed {
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("the state table changed (-before +after):\n%s", diff)
				}
				return
			}
			want := append(before.Trail, "distro_open true -> false by "+foExecArn("cvs-failover", e))
			if after.Open || !cmp.Equal(want, after.Trail) {
				t.Errorf("after the close: open=%v trail %s, want closed and %s", after.Open, after.Trail, want)
			}
		})
	}
}

func TestFailoverAgainstAnUnreachableStateTable(t *testing.T) {
	// The control region's replica does not answer: Close fails with StateStoreError, the state
	// machine retries it twice, then notifies and fails, and nothing is closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	w := newFoWorld(t, foStart, func(now func() time.Time) state.Store {
		client := dynamodb.New(dynamodb.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(dead), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALDUMMY", "dummy", ""),
		})
		s, err := dynamo.New(dynamo.Config{Table: "cvs-state", ControlRegion: "us-east-1", Control: client, Now: now, ControlTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, nil)
	w.origin.serve(foStalled(18234))
	ex := w.runFailover(w.event("stale", 42, foDetected, foLastChange, 18234))
	if ex.Status != asl.StatusFailed || ex.Error != contract.ErrNameStateStore {
		t.Errorf("execution %s %s (%s), want FAILED %s", ex.Status, ex.Error, ex.Cause, contract.ErrNameStateStore)
	}
	want := []string{"CheckInput", "Confirm", "IsConfirmed", "Close", "CloseFailed", "NotifyFailure", "Failed"}
	if diff := cmp.Diff(want, ex.StateNames()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, w.clock.Sleeps()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	_, msg := w.notification()
	if msg["outcome"] != "failed" || msg["step"] != "Close" || msg["error"] != contract.ErrNameStateStore {
		t.Errorf("notification %v, want a failure at Close with %s", msg, contract.ErrNameStateStore)
	}
	if cause, _ := msg["cause"].(string); !strings.Contains(cause, "connection refused") {
		t.Errorf("cause %q does not name the network error", cause)
	}
}

func TestFailbackWorkflowWithRealTasks(t *testing.T) {
	// Failover closes the instance at 12:00:10 (event #42); the origin recovers at 12:04:52 and
	// the detector's fresh event #43 comes at 12:05:00. The failback waits the 300 s hold-down
	// on the virtual clock, probes again and reopens, unless something says otherwise.
	recovered := time.Date(2025, 3, 1, 12, 4, 52, 0, time.UTC)
	freshAt := time.Date(2025, 3, 1, 12, 5, 0, 0, time.UTC)
	tests := []struct {
		name string
		// during is the origin from the fresh event on.
		during  func(time.Time) (int, string)
		prep    func(w *foWorld)
		states  []string
		outcome string
		summary string
		open    bool
	}{
		{name: "origin stayed fresh: reopened", during: foAdvancing(18235, recovered),
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "NotifyReopened"},
			outcome: "reopened", summary: "Reopened d111111abcdef8.cloudfront.net (eu-west-1) of cluster news-channel. Why: origin fresh through a 300-second hold-down after detector fresh event #43", open: true},
		{name: "origin stalled again during the hold-down: stays closed", during: foStalled(18236),
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "NotifyNotFresh"},
			outcome: "not_fresh", summary: "after the 300-second hold-down the probe found the origin stale"},
		{name: "a relapse recorded during the hold-down: stays closed", during: foAdvancing(18235, recovered),
			prep: func(w *foWorld) {
				// The detector saw it stale at 12:06:00 and fresh again at 12:07:00 (recorded
				// ahead of time, then the clock goes back to the fresh event's time).
				w.clock.Advance(time.Minute)
				w.health(foOurs, state.HealthStale)
				w.clock.Advance(time.Minute)
				w.health(foOurs, state.HealthFresh)
				w.clock.Advance(-2 * time.Minute)
			},
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "NotifyNotFresh"},
			outcome: "not_fresh", summary: "recorded health went stale at 2025-03-01T12:06:00Z"},
		{name: "an operator closed it meanwhile: reopen refused", during: foAdvancing(18235, recovered),
			prep: func(w *foWorld) {
				if _, err := w.store.Open(context.Background(), foCluster, foOurs, state.Change{By: "arn:aws:iam::123456789012:user/operator"}); err != nil {
					w.t.Fatal(err)
				}
				if _, err := w.store.Close(context.Background(), foCluster, foOurs, state.Change{By: "arn:aws:iam::123456789012:user/operator", Reason: "maintenance"}); err != nil {
					w.t.Fatal(err)
				}
			},
			states:  []string{"CheckInput", "HoldDown", "Reprobe", "StillFresh", "Reopen", "ReopenOutcome", "NotifyReopenRefused"},
			outcome: "reopen_refused", summary: "automation never reopens what an operator closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFoWorld(t, foStart, nil, nil)
			w.register()
			w.origin.serve(foStalled(18234))
			if ex := w.runFailover(w.event("stale", 42, foDetected, foLastChange, 18234)); ex.Status != asl.StatusSucceeded {
				t.Fatalf("failover: %s %s", ex.Status, ex.Cause)
			}
			if _, msg := w.notification(); msg["outcome"] != "closed" {
				t.Fatalf("failover notified %v, want closed", msg["outcome"])
			}
			w.clock.Advance(freshAt.Sub(w.clock.Now()))
			w.vouchPeer()
			w.health(foOurs, state.HealthFresh)
			w.origin.serve(tt.during)
			if tt.prep != nil {
				tt.prep(w)
			}
			before := w.snapshot()
			fresh := w.event("fresh", 43, freshAt, freshAt.Add(-2*time.Second), 18236)
			ex := w.runFailback(fresh)
			if ex.Status != asl.StatusSucceeded {
				t.Errorf("failback %s %s (%s)", ex.Status, ex.Error, ex.Cause)
			}
			if diff := cmp.Diff(tt.states, ex.StateNames()); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			if got := w.clock.Sleeps(); len(got) != 1 || got[0] != foHoldDown {
				t.Errorf("waits %v, want the one %s hold-down", got, foHoldDown)
			}
			_, msg := w.notification()
			if msg["outcome"] != tt.outcome {
				t.Errorf("notified %v, want %s: %v", msg["outcome"], tt.outcome, msg)
			}
			if s, _ := msg["summary"].(string); !strings.Contains(s, tt.summary) {
				t.Errorf("summary %q does not say %q", s, tt.summary)
			}
			after := w.snapshot()
			if !tt.open {
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("the state table changed (-before +after):\n%s", diff)
				}
				return
			}
			want := append(before.openChanges(), "distro_open false -> true by "+foExecArn("cvs-failback", fresh))
			if !after.Open || !cmp.Equal(want, after.openChanges()) {
				t.Errorf("after failback: open=%v, open changes %s, want open and %s", after.Open, after.openChanges(), want)
			}
		})
	}
}

func TestFlappingOriginIsClosedOncePerHoldDown(t *testing.T) {
	// Stalls at 12:00, recovers, stalls again a minute after failback reopened it, and again
	// after the hold-down: the workflows close, reopen, skip, and close, and replaying any of
	// the events changes nothing. Skips (the hold-down, a duplicate or late event) are routine:
	// their notifications do not page anyone, unlike a guard refusal.
	w := newFoWorld(t, foStart, nil, nil)
	w.register()
	urgent := regexp.MustCompile(`(?i)action needed|must act|may stall`)
	step := func(what string, ex *asl.Execution, outcome string) {
		t.Helper()
		if ex.Status != asl.StatusSucceeded {
			t.Fatalf("%s: %s %s (%s)", what, ex.Status, ex.Error, ex.Cause)
		}
		subject, msg := w.notification()
		if msg["outcome"] != outcome {
			t.Fatalf("%s: notified %v, want %s (%v)", what, msg["outcome"], outcome, msg["summary"])
		}
		if summary, _ := msg["summary"].(string); strings.HasSuffix(outcome, "skipped") && urgent.MatchString(subject+" "+summary) {
			t.Errorf("%s: a routine skip worded as urgent: %q / %q", what, subject, summary)
		}
		t.Logf("%s at %s: %s: %s", what, w.clock.Now().Format("15:04:05"), outcome, subject)
	}
	at := func(hms string) time.Time {
		v, err := time.Parse(time.DateTime, "2025-03-01 "+hms)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	moveTo := func(tm time.Time) { w.clock.Advance(tm.Sub(w.clock.Now())); w.vouchPeer() }

	w.origin.serve(foStalled(18234))
	e42 := w.event("stale", 42, foDetected, foLastChange, 18234)
	step("failover #42", w.runFailover(e42), "closed")

	moveTo(at("12:05:00"))
	w.health(foOurs, state.HealthFresh)
	w.origin.serve(foAdvancing(18235, at("12:04:52")))
	e43 := w.event("fresh", 43, at("12:05:00"), at("12:04:58"), 18236)
	step("failback #43", w.runFailback(e43), "reopened") // reopened at 12:10:00

	// msn at 12:10:00 is 18235 + 51 = 18286; it stalls from 12:10:50 on (18294).
	moveTo(at("12:11:00"))
	w.origin.serve(foStalled(18294))
	e44 := w.event("stale", 44, at("12:11:00"), at("12:10:50"), 18294)
	before := w.snapshot()
	step("failover #44, a minute after the reopen", w.runFailover(e44), "skipped")
	if diff := cmp.Diff(before, w.snapshot()); diff != "" {
		t.Errorf("the skipped close wrote (-before +after):\n%s", diff)
	}

	moveTo(at("12:15:01"))
	e46 := w.event("stale", 46, at("12:15:01"), at("12:10:50"), 18294)
	step("failover #46, after the hold-down", w.runFailover(e46), "closed")

	// Duplicates and late deliveries of every event: nothing changes.
	before = w.snapshot()
	step("failover #44 again", w.runFailover(e44), "already_closed")
	// Against #42's evidence the origin has advanced (18294 > 18234): a false alarm now.
	step("failover #42 again", w.runFailover(e42), "false_alarm")
	w.origin.serve(foAdvancing(18295, w.clock.Now()))
	step("failback #43 again", w.runFailback(e43), "reopen_skipped")
	if diff := cmp.Diff(before, w.snapshot()); diff != "" {
		t.Errorf("replayed events wrote (-before +after):\n%s", diff)
	}
	want := []string{
		"distro_open true -> false by " + foExecArn("cvs-failover", e42),
		"distro_open false -> true by " + foExecArn("cvs-failback", e43),
		"distro_open true -> false by " + foExecArn("cvs-failover", e46),
	}
	if diff := cmp.Diff(want, w.snapshot().openChanges()); diff != "" {
		t.Errorf("open changes (-want +got):\n%s", diff)
	}
}
