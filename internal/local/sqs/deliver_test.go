package sqs_test

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	localsqs "github.com/clustered-video-streams/cvs/internal/local/sqs"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

var ctx = context.Background()

func newQueue(t *testing.T, c localsqs.Config) *localsqs.Queue {
	t.Helper()
	q, err := localsqs.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// handler records the bodies it is given and fails those named in fail.
type handler struct {
	got  [][]string
	fail map[string]bool
	err  error
}

func (h *handler) handle(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var batch []string
	var resp events.SQSEventResponse
	for _, r := range ev.Records {
		batch = append(batch, r.Body)
		if h.fail[r.Body] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	h.got = append(h.got, batch)
	return resp, h.err
}

func TestDeliver(t *testing.T) {
	t.Run("due messages go in batches of ten and handled ones are deleted", func(t *testing.T) {
		clk := statetest.NewClock(statetest.T0)
		q := newQueue(t, localsqs.Config{Name: "checks", Now: clk.Now})
		for i := range 12 {
			q.Send(ctx, string(rune('a'+i)), 0)
		}
		q.Send(ctx, "later", 10*time.Second)
		h := &handler{}
		n, err := q.Deliver(ctx, h.handle)
		if err != nil || n != 12 || len(h.got) != 2 || len(h.got[0]) != 10 || len(h.got[1]) != 2 {
			t.Fatalf("Deliver = %d, %v in batches %q; want 12 in batches of 10 and 2", n, err, h.got)
		}
		if q.Len() != 1 {
			t.Fatalf("%d messages left, want the delayed one", q.Len())
		}
		if next, _ := q.NextVisible(); !next.Equal(statetest.T0.Add(10 * time.Second)) {
			t.Fatalf("next visible at %s, want 10 s after sending", next)
		}
		clk.Advance(10 * time.Second)
		if n, _ := q.Deliver(ctx, h.handle); n != 1 || h.got[2][0] != "later" {
			t.Fatalf("after 10 s delivered %d (%q), want the delayed message", n, h.got)
		}
	})
	t.Run("batch item failures and failed batches come back after the visibility timeout", func(t *testing.T) {
		clk := statetest.NewClock(statetest.T0)
		q := newQueue(t, localsqs.Config{Name: "checks", Now: clk.Now, Visibility: 180 * time.Second})
		q.Send(ctx, "ok", 0)
		q.Send(ctx, "retry", 0)
		h := &handler{fail: map[string]bool{"retry": true}}
		q.Deliver(ctx, h.handle)
		if q.Len() != 1 {
			t.Fatalf("%d messages left, want the failed one", q.Len())
		}
		clk.Advance(179 * time.Second)
		if n, _ := q.Deliver(ctx, h.handle); n != 0 {
			t.Fatalf("delivered %d before the visibility timeout", n)
		}
		clk.Advance(time.Second)
		h.err = errors.New("function crashed")
		n, err := q.Deliver(ctx, h.handle)
		if n != 1 || !errors.Is(err, h.err) || q.Len() != 1 {
			t.Fatalf("Deliver = %d, %v with %d left; want the retry delivered, the error returned and the message kept", n, err, q.Len())
		}
	})
	t.Run("records are shaped like Lambda's SQS event", func(t *testing.T) {
		clk := statetest.NewClock(statetest.T0)
		q := newQueue(t, localsqs.Config{Name: "checks", Now: clk.Now, Region: "eu-west-1"})
		q.Send(ctx, `{"key":"k"}`, 0)
		var ev events.SQSEvent
		q.Deliver(ctx, func(_ context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
			ev = e
			return events.SQSEventResponse{}, nil
		})
		b, _ := json.Marshal(ev)
		// What the sweeper's Invoke routes on.
		var probe struct {
			Records []struct {
				EventSource    string            `json:"eventSource"`
				EventSourceARN string            `json:"eventSourceARN"`
				Body           string            `json:"body"`
				MD5            string            `json:"md5OfBody"`
				Attributes     map[string]string `json:"attributes"`
			} `json:"Records"`
		}
		if err := json.Unmarshal(b, &probe); err != nil || len(probe.Records) != 1 {
			t.Fatalf("event %s: %v", b, err)
		}
		r := probe.Records[0]
		if r.EventSource != "aws:sqs" || r.EventSourceARN != "arn:aws:sqs:eu-west-1:123456789012:checks" || r.Body != `{"key":"k"}` ||
			r.MD5 != fmt.Sprintf("%x", md5.Sum([]byte(r.Body))) || r.Attributes["ApproximateReceiveCount"] != "1" {
			t.Fatalf("record %s", b)
		}
	})
}

func TestRedrive(t *testing.T) {
	clk := statetest.NewClock(statetest.T0)
	dlq := newQueue(t, localsqs.Config{Name: "dead", Now: clk.Now})
	q := newQueue(t, localsqs.Config{Name: "checks", Now: clk.Now, Visibility: time.Minute, DeadLetter: dlq, MaxReceives: 5})
	q.Send(ctx, "poison", 0)
	h := &handler{fail: map[string]bool{"poison": true}}
	for i := range 5 {
		if n, _ := q.Deliver(ctx, h.handle); n != 1 {
			t.Fatalf("receipt %d: delivered %d, want the message", i+1, n)
		}
		clk.Advance(time.Minute)
	}
	if n, _ := q.Deliver(ctx, h.handle); n != 0 || q.Len() != 0 || dlq.Len() != 1 {
		t.Fatalf("after 5 receipts: delivered %d, %d left, %d dead; want it moved to the dead-letter queue", n, q.Len(), dlq.Len())
	}
	msgs, _ := dlq.Receive(ctx, 10)
	if len(msgs) != 1 || msgs[0].Body != "poison" || msgs[0].Receives != 1 {
		t.Fatalf("dead letters %+v, want the poison message", msgs)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	dlq := newQueue(t, localsqs.Config{Name: "dead"})
	for _, tc := range []struct {
		name string
		c    localsqs.Config
	}{
		{"no name", localsqs.Config{}},
		{"negative visibility", localsqs.Config{Name: "q", Visibility: -time.Second}},
		{"dead-letter queue without max receives", localsqs.Config{Name: "q", DeadLetter: dlq}},
		{"max receives without dead-letter queue", localsqs.Config{Name: "q", MaxReceives: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := localsqs.New(tc.c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestServe runs the delivery loop on synctest's clock: a check queued with a delay reaches the
// handler at its due time, not before.
func TestServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(t, localsqs.Config{Name: "checks", Now: time.Now})
		start := time.Now()
		var mu sync.Mutex
		var at []time.Duration
		var bodies []string
		delivered := func() ([]string, []time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(bodies), slices.Clone(at)
		}
		h := func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range ev.Records {
				at = append(at, time.Since(start))
				bodies = append(bodies, r.Body)
			}
			return events.SQSEventResponse{}, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- q.Serve(ctx, h, time.After) }()
		q.Send(ctx, "in 10 s", 10*time.Second)
		q.Send(ctx, "now", 0)
		synctest.Wait()
		time.Sleep(9 * time.Second) // synctest's fake clock: no real waiting
		synctest.Wait()
		if got, _ := delivered(); !slices.Equal(got, []string{"now"}) {
			t.Fatalf("after 9 s delivered %q, want [now]", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got, when := delivered(); !slices.Equal(got, []string{"now", "in 10 s"}) || when[1] != 10*time.Second {
			t.Fatalf("delivered %q at %v, want the delayed message at 10 s", got, when)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Serve = %v, want context.Canceled", err)
		}
	})
}
