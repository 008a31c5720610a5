// Package queuetest is the contract every queue.Queue passes: the SQS adapter on moto_server and
// the local twin run the same suite.
package queuetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/queue"
)

// Visibility is the visibility timeout of the queues the suite asks for.
const Visibility = time.Second

// Harness is a queue under test and its clock.
type Harness struct {
	// Queue is empty, with a visibility timeout of Visibility.
	Queue queue.Queue
	// Wait lets d pass on the queue's clock: the twin's clock advances, the real service's
	// passes (the wire suite waits about six seconds in all).
	Wait func(d time.Duration)
	// Now is the queue's clock.
	Now func() time.Time
}

// New returns a harness for one subtest.
type New func(t *testing.T) Harness

// Run runs the contract suite, one harness per subtest.
func Run(t *testing.T, newHarness New) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, h Harness)
	}{
		{"a message is received with its body and hidden while handled", testReceive},
		{"a delayed message is not received before its delay and is after", testDelay},
		{"a delay of a fraction of a second waits a whole second", testDelayRoundsUp},
		{"a message not deleted comes back after the visibility timeout", testVisibility},
		{"a deleted message never comes back", testDelete},
		{"every message is received, at most max at a time", testBatches},
		{"bad sends are refused and send nothing", testBadSend},
		{"bad receives and receipts are refused", testBadReceive},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newHarness(t)) })
	}
}

var ctx = context.Background()

// slack covers the real service's clock reading a little behind ours.
const slack = 200 * time.Millisecond

func send(t *testing.T, h Harness, body string, delay time.Duration) string {
	t.Helper()
	id, err := h.Queue.Send(ctx, body, delay)
	if err != nil || id == "" {
		t.Fatalf("Send(%q, %s) = %q, %v", body, delay, id, err)
	}
	return id
}

func receive(t *testing.T, h Harness, max int) []queue.Message {
	t.Helper()
	msgs, err := h.Queue.Receive(ctx, max)
	if err != nil {
		t.Fatalf("Receive(%d): %v", max, err)
	}
	return msgs
}

func bodies(msgs []queue.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Body)
	}
	slices.Sort(out)
	return out
}

func testReceive(t *testing.T, h Harness) {
	before := h.Now().Add(-time.Second)
	id := send(t, h, `{"key":"primary/a.m3u8"}`, 0)
	msgs := receive(t, h, 10)
	if len(msgs) != 1 {
		t.Fatalf("received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ID != id || m.Body != `{"key":"primary/a.m3u8"}` || m.Receipt == "" || m.Receives != 1 {
		t.Fatalf("received %+v, want message %s with its body, a receipt and one receipt", m, id)
	}
	if m.SentAt.Before(before) || m.SentAt.After(h.Now().Add(time.Second)) {
		t.Fatalf("sent at %s, want about %s", m.SentAt, h.Now())
	}
	if again := receive(t, h, 10); len(again) != 0 {
		t.Fatalf("received %d messages while the first is handled, want none", len(again))
	}
}

func testDelay(t *testing.T, h Harness) {
	send(t, h, "later", time.Second)
	if msgs := receive(t, h, 10); len(msgs) != 0 {
		t.Fatalf("received %q at once, want nothing before the delay", bodies(msgs))
	}
	h.Wait(time.Second / 2)
	if msgs := receive(t, h, 10); len(msgs) != 0 {
		t.Fatalf("received %q half-way, want nothing before the delay", bodies(msgs))
	}
	h.Wait(time.Second/2 + slack)
	if msgs := receive(t, h, 10); len(msgs) != 1 || msgs[0].Body != "later" {
		t.Fatalf("received %q after the delay, want [later]", bodies(msgs))
	}
}

func testDelayRoundsUp(t *testing.T, h Harness) {
	send(t, h, "soon", time.Millisecond)
	h.Wait(time.Second / 2)
	if msgs := receive(t, h, 10); len(msgs) != 0 {
		t.Fatalf("received %q half a second into a 1 ms delay, want nothing before a whole second", bodies(msgs))
	}
	h.Wait(time.Second/2 + slack)
	if msgs := receive(t, h, 10); len(msgs) != 1 {
		t.Fatalf("received %q after a second, want [soon]", bodies(msgs))
	}
}

func testVisibility(t *testing.T, h Harness) {
	send(t, h, "check", 0)
	first := receive(t, h, 1)
	if len(first) != 1 {
		t.Fatalf("received %d, want 1", len(first))
	}
	h.Wait(Visibility + slack)
	again := receive(t, h, 1)
	if len(again) != 1 || again[0].ID != first[0].ID || again[0].Receives != 2 || again[0].Receipt == first[0].Receipt {
		t.Fatalf("after the visibility timeout received %+v, want %s again, second receipt, a new receipt", again, first[0].ID)
	}
}

func testDelete(t *testing.T, h Harness) {
	send(t, h, "done", 0)
	msgs := receive(t, h, 1)
	if len(msgs) != 1 {
		t.Fatalf("received %d, want 1", len(msgs))
	}
	if err := h.Queue.Delete(ctx, msgs[0].Receipt); err != nil {
		t.Fatal(err)
	}
	h.Wait(Visibility + slack)
	if again := receive(t, h, 10); len(again) != 0 {
		t.Fatalf("received %q after deleting, want nothing", bodies(again))
	}
}

func testBatches(t *testing.T, h Harness) {
	want := []string{"a", "b", "c"}
	for _, b := range want {
		send(t, h, b, 0)
	}
	var got []queue.Message
	for range 10 {
		msgs := receive(t, h, 2)
		if len(msgs) > 2 {
			t.Fatalf("received %d, want at most 2", len(msgs))
		}
		got = append(got, msgs...)
		if len(got) >= len(want) {
			break
		}
	}
	if g := bodies(got); !slices.Equal(g, want) {
		t.Fatalf("received %q, want %q once each", g, want)
	}
}

func testBadSend(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name  string
		body  string
		delay time.Duration
	}{
		{"a negative delay", "x", -time.Second},
		{"a delay over 900 s", "x", queue.MaxDelay + time.Second},
		{"an empty body", "", 0},
		{"a body over 256 KiB", strings.Repeat("x", queue.MaxBodySize+1), 0},
		{"a NUL in the body", "a\x00b", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if id, err := h.Queue.Send(ctx, tc.body, tc.delay); err == nil {
				t.Fatalf("Send accepted, id %q", id)
			}
		})
	}
	if _, err := h.Queue.Send(ctx, "longest", queue.MaxDelay); err != nil {
		t.Fatalf("Send with the longest delay: %v", err)
	}
	if msgs := receive(t, h, 10); len(msgs) != 0 {
		t.Fatalf("received %q, want nothing: refused sends send nothing and the last waits 900 s", bodies(msgs))
	}
}

func testBadReceive(t *testing.T, h Harness) {
	for _, max := range []int{0, queue.MaxBatch + 1} {
		if _, err := h.Queue.Receive(ctx, max); err == nil {
			t.Errorf("Receive(%d) accepted", max)
		}
	}
	if err := h.Queue.Delete(ctx, "not-a-receipt"); err == nil {
		t.Error("Delete of a bogus receipt accepted")
	}
}
