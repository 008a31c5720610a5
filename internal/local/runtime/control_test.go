package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/local/liveorigin"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/local/sfn"
	"github.com/clustered-video-streams/cvs/internal/local/sns"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/trigger"
)

const testMachine = "arn:aws:states:us-east-1:000000000000:stateMachine:cvs-failover"

// newTestControl returns the control API of one region whose trigger starts a one-state
// machine in the local Step Functions twin, on a memory store (nil when mem is false) with the
// region's instance registered.
func newTestControl(t *testing.T, mem bool) (*control, chan *asl.Execution, *memory.Store) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	finished := make(chan *asl.Execution, 10)
	svc := sfn.New(sfn.Options{Log: log, OnFinish: func(ex *asl.Execution) { finished <- ex }})
	t.Cleanup(svc.Close)
	if err := svc.AddDefinition(testMachine, []byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`), asl.Options{}); err != nil {
		t.Fatal(err)
	}
	trig, err := trigger.New(trigger.Config{SFN: svc, FailoverArn: testMachine, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	o, err := liveorigin.New(liveorigin.Config{Epoch: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New(nil)
	if _, err := store.Register(context.Background(), state.Registration{Cluster: cluster, Domain: "127.0.0.1:9001", Region: "us-east-1",
		DistributionPlaylistURL: "http://127.0.0.1:9001/master.m3u8", OriginPlaylistURL: "http://127.0.0.1:9000/master.m3u8"},
		state.Change{By: "local:test", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	reg := &region{name: "us-east-1", domain: "127.0.0.1:9001", origin: o, trigger: trig, log: log}
	c := &control{regions: []*region{reg}, store: store, log: log}
	if mem {
		c.memory = store
	}
	return c, finished, store
}

func staleDelivery(t *testing.T) sns.Delivery {
	t.Helper()
	ev := contract.DetectorEvent{Version: 1, Event: state.HealthStale, Cluster: cluster, Domain: "127.0.0.1:9001", Region: "us-east-1",
		OriginPlaylistURL: "http://127.0.0.1:9000/master.m3u8",
		Playlists: []contract.PlaylistDetail{{URL: "http://127.0.0.1:9000/v180.m3u8", State: state.HealthStale, MediaSequence: 7,
			TargetDuration: 2, LastChange: time.Now().Add(-4 * time.Second)}},
		DetectedAt: time.Now(), StaleForMS: 4000, Sequence: time.Now().UnixMilli()}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return sns.Delivery{MessageID: "local-00000001", TopicARN: "arn:aws:sns:us-east-1:000000000000:cvs-detector-us-east-1", Body: string(b),
		Attributes: map[string]string{"event": "stale"}, Timestamp: time.Now(), Subscription: "arn:aws:sns:local:000000000000:cvs-detector-us-east-1:sub-1"}
}

func post(t *testing.T, h http.Handler, path, body string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	return w.Code, w.Body.String()
}

// TestRedeliver: a redelivered detector event reaches the trigger again and starts no second
// execution; before any delivery, and for an unknown region, it is refused.
func TestRedeliver(t *testing.T) {
	c, finished, _ := newTestControl(t, true)
	h := c.handler()
	if code, body := post(t, h, "/regions/us-east-1/redeliver", ""); code != http.StatusConflict || !strings.Contains(body, "nothing_delivered") {
		t.Fatalf("redeliver before any delivery: %d %s", code, body)
	}
	if code, _ := post(t, h, "/regions/mars-1/redeliver", ""); code != http.StatusNotFound {
		t.Fatalf("redeliver in an unknown region: %d, want 404", code)
	}
	d := staleDelivery(t)
	if err := c.regions[0].deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if ex := <-finished; ex.Status != asl.StatusSucceeded {
		t.Fatalf("execution %s: %s", ex.Name, ex.Status)
	}
	code, body := post(t, h, "/regions/us-east-1/redeliver", "")
	var res RedeliverResponse
	if err := json.Unmarshal([]byte(body), &res); code != http.StatusOK || err != nil {
		t.Fatalf("redeliver: %d %s", code, body)
	}
	if res.MessageID != d.MessageID || res.Event != "stale" || res.Outcome != string(trigger.AlreadyStarted) {
		t.Fatalf("redeliver answered %+v, want message %s, event stale, outcome already_started", res, d.MessageID)
	}
	select {
	case ex := <-finished:
		t.Fatalf("a second execution %s ran", ex.ARN)
	default:
	}
}

// TestControlRegionSwitch: down, the memory store refuses automated writes and audits an
// operator's forced close as a fallback; up, writes are plain again. Bad requests and a store
// without the switch are refused and change nothing.
func TestControlRegionSwitch(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		mem       bool
		body      string
		code      int
		wantState string // GET /control-region afterwards
	}{
		{name: "down", mem: true, body: `{"state":"down"}`, code: 200, wantState: "down"},
		{name: "up", mem: true, body: `{"state":"up"}`, code: 200, wantState: "up"},
		{name: "unknown state", mem: true, body: `{"state":"sideways"}`, code: 400, wantState: "up"},
		{name: "unknown field", mem: true, body: `{"state":"down","when":"now"}`, code: 400, wantState: "up"},
		{name: "not JSON", mem: true, body: `down`, code: 400, wantState: "up"},
		{name: "DynamoDB store", mem: false, body: `{"state":"down"}`, code: 409, wantState: "up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, store := newTestControl(t, tc.mem)
			h := c.handler()
			if code, body := post(t, h, "/control-region", tc.body); code != tc.code {
				t.Fatalf("POST /control-region %s: %d %s, want %d", tc.body, code, body, tc.code)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/control-region", nil))
			var got ControlRegionRequest
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.State != tc.wantState || got.Region != "us-east-1" {
				t.Fatalf("GET /control-region: %s, want state %s in us-east-1", w.Body, tc.wantState)
			}
			domain := c.regions[0].domain
			_, err := store.RecordHealth(ctx, cluster, domain, state.HealthFresh, state.Change{By: "arn:aws:lambda:us-east-1:000000000000:function:cvs-detector", Reason: "fresh"})
			var down *state.ControlRegionUnavailableError
			if refused := errors.As(err, &down); refused != (tc.wantState == "down") || (!refused && err != nil) {
				t.Fatalf("automated write with the control region %s: %v", tc.wantState, err)
			}
			in, err := store.Close(ctx, cluster, domain, state.Change{By: "local:operator", Reason: "forced", Force: true})
			if err != nil || in.Open {
				t.Fatalf("forced close: %+v %v", in, err)
			}
			page, err := store.History(ctx, state.HistoryQuery{Cluster: cluster, Domain: domain, Limit: 1})
			if err != nil || len(page.Records) != 1 || page.Records[0].Fallback != (tc.wantState == "down") || !page.Records[0].Force {
				t.Fatalf("audit of the forced close: %+v %v, want fallback %t", page.Records, err, tc.wantState == "down")
			}
		})
	}
}
