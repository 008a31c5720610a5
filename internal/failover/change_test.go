package failover_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

const (
	cluster = "news-channel"
	ours    = "d111111abcdef8.cloudfront.net" // the samples' instance
	peer    = "d222222abcdef8.cloudfront.net"
	holdMin = 5 * time.Minute
)

func register(t testing.TB, s state.Store, cluster, domain string) {
	t.Helper()
	_, err := s.Register(context.Background(), state.Registration{
		Cluster: cluster, Domain: domain, Region: "eu-west-1",
		DistributionPlaylistURL: "https://" + domain + "/news/index.m3u8",
		OriginPlaylistURL:       "https://origin.example.com/" + domain + "/index.m3u8",
	}, state.Change{By: "arn:aws:iam::123456789012:user/operator", Reason: "register"})
	if err != nil {
		t.Fatal(err)
	}
}

// cluster2 is a memory store holding the samples' instance and a peer, both open and fresh.
func cluster2(t testing.TB, clk *statetest.Clock) *memory.Store {
	t.Helper()
	s := memory.New(clk.Now)
	for _, d := range []string{ours, peer} {
		register(t, s, cluster, d)
		if _, err := s.RecordHealth(context.Background(), cluster, d, state.HealthFresh, state.Change{By: "detector"}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// execution is the ARN of the workflow execution for event seq of the samples' instance.
func execution(machine string, seq int64) string {
	name := contract.ExecutionName(contract.DetectorEvent{Cluster: cluster, Domain: ours, Sequence: seq})
	return "arn:aws:states:eu-west-1:123456789012:execution:" + machine + ":" + name
}

func closeInput(seq int64) contract.CloseInput {
	return contract.CloseInput{Cluster: cluster, Domain: ours, Reason: fmt.Sprintf("event #%d confirmed", seq),
		ChangedBy: execution("cvs-failover", seq), Sequence: seq}
}

func reopenInput(seq int64) contract.ReopenInput {
	return contract.ReopenInput{Cluster: cluster, Domain: ours, Reason: fmt.Sprintf("event #%d fresh", seq),
		ChangedBy: execution("cvs-failback", seq), Sequence: seq}
}

// openTrail is the instance's audit trail of open changes, oldest first: "false by <by>".
func openTrail(t testing.TB, s state.Store) []string {
	t.Helper()
	page, err := s.History(context.Background(), state.HistoryQuery{Cluster: cluster, Domain: ours, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(page.Records) - 1; i >= 0; i-- {
		if r := page.Records[i]; r.Field == state.FieldOpen {
			out = append(out, r.After+" by "+r.By)
		}
	}
	return out
}

func TestCloseWithTheSampleEvent(t *testing.T) {
	clk := statetest.NewClock(at(t, "2025-03-01T12:00:12Z"))
	s := cluster2(t, clk)
	var in contract.CloseInput
	loadEvent(t, "close-confirmed", "", &in)
	c := &failover.Closer{Store: s, HoldDown: holdMin, Now: clk.Now, Log: quiet}
	got, err := c.Close(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(contract.CloseOutput{Closed: true, Changed: true, Reason: in.Reason}, got); diff != "" {
		t.Errorf("Close (-want +got):\n%s", diff)
	}
	inst, err := s.Instance(context.Background(), cluster, ours)
	if err != nil {
		t.Fatal(err)
	}
	if inst.Open || inst.ChangedBy != in.ChangedBy || inst.Reason != in.Reason {
		t.Errorf("instance after close: open=%v by=%q reason=%q", inst.Open, inst.ChangedBy, inst.Reason)
	}
}

func TestClose(t *testing.T) {
	type step struct {
		advance time.Duration // before the step
		close   int64         // a close for this event sequence, or
		reopen  int64         // a reopen for this one
		want    string        // "closed", "already closed", "changed again", "skipped: <substring>", "refused: <substring>", "opened", "already open"
	}
	tests := []struct {
		name  string
		prep  func(t *testing.T, s *memory.Store)
		steps []step
		trail []string // open changes afterwards
	}{
		{"confirmed close", nil, []step{{close: 42, want: "closed"}},
			[]string{"false by " + execution("cvs-failover", 42)}},
		{"a retry of the same execution closes nothing twice", nil,
			[]step{{close: 42, want: "closed"}, {close: 42, want: "changed again"}},
			[]string{"false by " + execution("cvs-failover", 42)}},
		{"a newer event finds it closed", nil,
			[]step{{close: 42, want: "closed"}, {advance: time.Second, close: 44, want: "already closed"}},
			[]string{"false by " + execution("cvs-failover", 42)}},
		{"guard refusal writes nothing", func(t *testing.T, s *memory.Store) {
			if _, err := s.RecordHealth(context.Background(), cluster, peer, state.HealthStale, state.Change{By: "detector"}); err != nil {
				t.Fatal(err)
			}
		}, []step{{close: 42, want: "refused: no other instance of the cluster is open and healthy"}}, nil},
		{"an operator's close is left alone and reported", func(t *testing.T, s *memory.Store) {
			if _, err := s.Close(context.Background(), cluster, ours, state.Change{By: "arn:aws:iam::123456789012:user/operator", Reason: "maintenance"}); err != nil {
				t.Fatal(err)
			}
		}, []step{{close: 42, want: "already closed"}, {reopen: 43, want: "refused: automation never reopens what an operator closed"}},
			[]string{"false by arn:aws:iam::123456789012:user/operator"}},
		{"failback reopens what failover closed", nil,
			[]step{{close: 42, want: "closed"}, {advance: holdMin, reopen: 43, want: "opened"}, {reopen: 43, want: "changed again"}},
			[]string{"false by " + execution("cvs-failover", 42), "true by " + execution("cvs-failback", 43)}},
		{"an out-of-order older event changes nothing", nil,
			[]step{{close: 44, want: "closed"}, {advance: holdMin, reopen: 45, want: "opened"},
				{advance: 2 * holdMin, close: 44, want: "skipped: detector event #44 is not newer than event #45"},
				{close: 43, want: "skipped: detector event #43 is not newer than event #45"}},
			[]string{"false by " + execution("cvs-failover", 44), "true by " + execution("cvs-failback", 45)}},
		{"an older fresh event does not reopen", nil,
			[]step{{close: 44, want: "closed"}, {advance: holdMin, reopen: 43, want: "skipped: detector event #43 is not newer than event #44"}},
			[]string{"false by " + execution("cvs-failover", 44)}},
		{"a flapping origin is closed at most once per hold-down", nil,
			[]step{
				{close: 42, want: "closed"},
				{advance: holdMin + time.Second, reopen: 43, want: "opened"},
				{advance: time.Minute, close: 44, want: "skipped: within the 5m0s hold-down"},
				{advance: holdMin - time.Minute - time.Second, close: 46, want: "skipped: 4m59s ago"},
				{advance: time.Second, close: 48, want: "closed"},
			},
			[]string{"false by " + execution("cvs-failover", 42), "true by " + execution("cvs-failback", 43), "false by " + execution("cvs-failover", 48)}},
		{"an operator's reopen also starts the hold-down", func(t *testing.T, s *memory.Store) {
			c := state.Change{By: "arn:aws:iam::123456789012:user/operator", Reason: "check"}
			if _, err := s.Close(context.Background(), cluster, ours, c); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Open(context.Background(), cluster, ours, c); err != nil {
				t.Fatal(err)
			}
		}, []step{{close: 42, want: "skipped: reopened at"}, {advance: holdMin, close: 42, want: "closed"}},
			[]string{"false by arn:aws:iam::123456789012:user/operator", "true by arn:aws:iam::123456789012:user/operator", "false by " + execution("cvs-failover", 42)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := statetest.NewClock(at(t, "2025-03-01T12:00:12Z"))
			s := cluster2(t, clk)
			if tt.prep != nil {
				tt.prep(t, s)
			}
			closer := &failover.Closer{Store: s, HoldDown: holdMin, Now: clk.Now, Log: quiet}
			reopener := &failover.Reopener{Store: s, Log: quiet}
			for i, st := range tt.steps {
				clk.Advance(st.advance)
				// The peer's detector keeps running: it vouches for the peer about once a minute.
				if _, err := s.Vouch(context.Background(), cluster, peer); err != nil {
					t.Fatal(err)
				}
				before, err := s.Instance(context.Background(), cluster, ours)
				if err != nil {
					t.Fatal(err)
				}
				var got string
				if st.close != 0 {
					out, err := closer.Close(context.Background(), closeInput(st.close))
					if err != nil {
						t.Fatalf("step %d: Close: %v", i, err)
					}
					got = closeOutcome(out)
				} else {
					out, err := reopener.Reopen(context.Background(), reopenInput(st.reopen))
					if err != nil {
						t.Fatalf("step %d: Reopen: %v", i, err)
					}
					got = reopenOutcome(out)
				}
				want, substr, _ := strings.Cut(st.want, ": ")
				if got != want && !strings.HasPrefix(got, want+": ") {
					t.Errorf("step %d: %s, want %s", i, got, st.want)
				} else if substr != "" && !strings.Contains(got, substr) {
					t.Errorf("step %d: %s, want it to say %q", i, got, substr)
				}
				if strings.HasPrefix(st.want, "refused") || strings.HasPrefix(st.want, "skipped") || strings.HasPrefix(st.want, "already") || st.want == "changed again" {
					after, err := s.Instance(context.Background(), cluster, ours)
					if err != nil {
						t.Fatal(err)
					}
					if after.Version != before.Version {
						t.Errorf("step %d (%s) wrote: version %d -> %d", i, st.want, before.Version, after.Version)
					}
				}
			}
			if diff := cmp.Diff(tt.trail, openTrail(t, s)); diff != "" {
				t.Errorf("open changes in the audit trail (-want +got):\n%s", diff)
			}
		})
	}
}

func closeOutcome(o contract.CloseOutput) string {
	switch {
	case o.Refused && !o.Skipped && !o.Closed && !o.Changed:
		return "refused: " + o.Reason
	case o.Skipped && !o.Refused && !o.Closed && !o.Changed:
		return "skipped: " + o.Reason
	case o.Closed && o.Changed && !o.Refused && !o.Skipped && strings.Contains(o.Reason, "already"):
		return "changed again"
	case o.Closed && o.Changed && !o.Refused && !o.Skipped:
		return "closed"
	case o.Closed && !o.Changed && !o.Refused && !o.Skipped:
		return "already closed"
	}
	return fmt.Sprintf("inconsistent %+v", o)
}

func reopenOutcome(o contract.ReopenOutput) string {
	switch {
	case o.Refused && !o.Skipped && !o.Opened && !o.Changed:
		return "refused: " + o.Reason
	case o.Skipped && !o.Refused && !o.Opened && !o.Changed:
		return "skipped: " + o.Reason
	case o.Opened && o.Changed && !o.Refused && !o.Skipped && strings.Contains(o.Reason, "already"):
		return "changed again"
	case o.Opened && o.Changed && !o.Refused && !o.Skipped:
		return "opened"
	case o.Opened && !o.Changed && !o.Refused && !o.Skipped:
		return "already open"
	}
	return fmt.Sprintf("inconsistent %+v", o)
}

// failingStore is the memory store with one method made to fail, for the error paths.
type failingStore struct {
	*memory.Store
	instanceErr, historyErr, closeErr, openErr error
	// conflicts makes this many Close or Open calls fail with a version conflict after a
	// concurrent write (a health record) to the instance.
	conflicts int
}

func (f *failingStore) Instance(ctx context.Context, c, d string) (state.Instance, error) {
	if f.instanceErr != nil {
		return state.Instance{}, f.instanceErr
	}
	return f.Store.Instance(ctx, c, d)
}

func (f *failingStore) History(ctx context.Context, q state.HistoryQuery) (state.HistoryPage, error) {
	if f.historyErr != nil {
		return state.HistoryPage{}, f.historyErr
	}
	return f.Store.History(ctx, q)
}

func (f *failingStore) race(ctx context.Context, c, d string) {
	if f.conflicts > 0 {
		f.conflicts--
		// A detector records health between the task's read and its write.
		h := state.HealthStale
		if cur, _ := f.Store.Instance(ctx, c, d); cur.Health == h {
			h = state.HealthUnreachable
		}
		f.Store.RecordHealth(ctx, c, d, h, state.Change{By: "detector"})
	}
}

func (f *failingStore) Close(ctx context.Context, c, d string, ch state.Change) (state.Instance, error) {
	if f.closeErr != nil {
		return state.Instance{}, f.closeErr
	}
	f.race(ctx, c, d)
	return f.Store.Close(ctx, c, d, ch)
}

func (f *failingStore) Open(ctx context.Context, c, d string, ch state.Change) (state.Instance, error) {
	if f.openErr != nil {
		return state.Instance{}, f.openErr
	}
	f.race(ctx, c, d)
	return f.Store.Open(ctx, c, d, ch)
}

func TestChangeErrorsAreNamed(t *testing.T) {
	throttled := errors.New("ProvisionedThroughputExceededException: rate exceeded")
	unavailable := &state.ControlRegionUnavailableError{Cluster: cluster, Domain: ours, ControlRegion: "us-east-1", Err: errors.New("dial tcp: connection refused")}
	tests := []struct {
		name   string
		store  func(s *memory.Store) *failingStore
		reopen bool
		in     func() any
		want   string
		msg    string
	}{
		{"invalid close input", nil, false, func() any { in := closeInput(42); in.ChangedBy = ""; return in },
			contract.ErrNameInvalidInput, "changed_by: is required"},
		{"invalid reopen input", nil, true, func() any { in := reopenInput(43); in.Sequence = 0; return in },
			contract.ErrNameInvalidInput, "sequence: is 0"},
		{"unknown instance", nil, false, func() any { in := closeInput(42); in.Domain = "d999.cloudfront.net"; return in },
			contract.ErrNameInstanceNotFound, "d999.cloudfront.net is not registered"},
		{"a domain the store refuses", nil, false, func() any { in := closeInput(42); in.Domain = "bad#domain"; return in },
			contract.ErrNameInvalidInput, "domain: want a host name"},
		{"reading fails", func(s *memory.Store) *failingStore { return &failingStore{Store: s, instanceErr: throttled} }, false,
			func() any { return closeInput(42) }, contract.ErrNameStateStore, "rate exceeded"},
		{"reading the trail fails", func(s *memory.Store) *failingStore { return &failingStore{Store: s, historyErr: throttled} }, true,
			func() any { return reopenInput(43) }, contract.ErrNameStateStore, "rate exceeded"},
		{"the control region is down", func(s *memory.Store) *failingStore { return &failingStore{Store: s, closeErr: unavailable} }, false,
			func() any { return closeInput(42) }, contract.ErrNameStateStore, "control region us-east-1 is unavailable"},
		{"concurrent writes every time", func(s *memory.Store) *failingStore { return &failingStore{Store: s, conflicts: 3} }, false,
			func() any { return closeInput(42) }, contract.ErrNameStateStore, "3 concurrent changes in a row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := statetest.NewClock(at(t, "2025-03-01T12:00:12Z"))
			mem := cluster2(t, clk)
			if tt.reopen {
				if _, err := mem.Close(context.Background(), cluster, ours, state.Change{By: execution("cvs-failover", 42)}); err != nil {
					t.Fatal(err)
				}
			}
			var s interface {
				failover.CloseStore
				failover.ReopenStore
			} = mem
			if tt.store != nil {
				s = tt.store(mem)
			}
			var err error
			var out any
			if tt.reopen {
				out, err = (&failover.Reopener{Store: s, Log: quiet}).Reopen(context.Background(), tt.in().(contract.ReopenInput))
			} else {
				out, err = (&failover.Closer{Store: s, Now: clk.Now, Log: quiet}).Close(context.Background(), tt.in().(contract.CloseInput))
			}
			if err == nil {
				t.Fatalf("got %+v, want error %s", out, tt.want)
			}
			if got := asl.LambdaErrorType(err); got != tt.want {
				t.Errorf("error type %q (%v), want %q", got, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestConcurrentWritesAreReadAgain(t *testing.T) {
	// Two version conflicts, then the close goes through on the third read.
	clk := statetest.NewClock(at(t, "2025-03-01T12:00:12Z"))
	s := &failingStore{Store: cluster2(t, clk), conflicts: 2}
	out, err := (&failover.Closer{Store: s, Now: clk.Now, Log: quiet}).Close(context.Background(), closeInput(42))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Closed || !out.Changed {
		t.Errorf("Close = %+v, want closed by this call", out)
	}
	s.conflicts = 1
	ro, err := (&failover.Reopener{Store: s, Log: quiet}).Reopen(context.Background(), reopenInput(43))
	if err != nil {
		t.Fatal(err)
	}
	if !ro.Opened || !ro.Changed {
		t.Errorf("Reopen = %+v, want opened by this call", ro)
	}
}

// TestASequenceFromTheFutureBlocksNothing: an event sequence is the detector's clock in
// milliseconds. One far ahead (a forged or corrupt event) is refused as invalid input and
// written nowhere, so it can never be the newest event acted upon, which would make every later
// genuine event "not newer" and skipped.
func TestASequenceFromTheFutureBlocksNothing(t *testing.T) {
	clk := statetest.NewClock(at(t, "2025-03-01T12:00:12Z"))
	s := cluster2(t, clk)
	closer := &failover.Closer{Store: s, HoldDown: holdMin, Now: clk.Now, Log: quiet}
	reopener := &failover.Reopener{Store: s, Now: clk.Now, Log: quiet}
	ctx := context.Background()
	version := func() int64 {
		inst, err := s.Instance(ctx, cluster, ours)
		if err != nil {
			t.Fatal(err)
		}
		return inst.Version
	}
	refused := func(what string, err error, before int64) {
		t.Helper()
		var ie *contract.InvalidInputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "ahead of now") {
			t.Fatalf("%s = %v, want an *InvalidInputError about the sequence", what, err)
		}
		if after := version(); after != before {
			t.Fatalf("%s wrote: version %d -> %d", what, before, after)
		}
	}
	genuine := func() int64 { return clk.Now().UnixMilli() }
	vouch := func() { // the peer's detector keeps vouching for it
		if _, err := s.Vouch(ctx, cluster, peer); err != nil {
			t.Fatal(err)
		}
	}

	v := version()
	_, err := closer.Close(ctx, closeInput(math.MaxInt64))
	refused("Close with sequence 9223372036854775807", err, v)
	v = version()
	_, err = closer.Close(ctx, closeInput(clk.Now().Add(contract.MaxSequenceAhead+time.Millisecond).UnixMilli()))
	refused("Close with a sequence 5 minutes and 1 ms ahead", err, v)

	clk.Advance(time.Second)
	if out, err := closer.Close(ctx, closeInput(genuine())); err != nil || closeOutcome(out) != "closed" {
		t.Fatalf("a later genuine close: %s, %v; want closed", closeOutcome(out), err)
	}
	clk.Advance(holdMin)
	v = version()
	_, err = reopener.Reopen(ctx, reopenInput(math.MaxInt64))
	refused("Reopen with sequence 9223372036854775807", err, v)
	if out, err := reopener.Reopen(ctx, reopenInput(genuine())); err != nil || reopenOutcome(out) != "opened" {
		t.Fatalf("a later genuine reopen: %s, %v; want opened", reopenOutcome(out), err)
	}
	clk.Advance(holdMin)
	vouch()
	// A detector clock a little ahead of the task's is within the allowed skew.
	if out, err := closer.Close(ctx, closeInput(clk.Now().Add(time.Minute).UnixMilli())); err != nil || closeOutcome(out) != "closed" {
		t.Fatalf("a close from a detector a minute ahead: %s, %v; want closed", closeOutcome(out), err)
	}
}
