package statetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// DetectorSaver is the detector memory's save (detector.MemoryStore.SaveDetector), which stamps
// the instance's heartbeat.
type DetectorSaver interface {
	SaveDetector(ctx context.Context, cluster, domain string, data []byte, prev int64) (int64, error)
}

// NewHeartbeatStores returns an empty store reading time from now whose guard wants heartbeats
// no older than maxAge, and its detector memory.
type NewHeartbeatStores func(t *testing.T, now func() time.Time, maxAge time.Duration) (state.Store, DetectorSaver)

// RunHeartbeat runs the heartbeat cases against stores made by newStores, one per subtest,
// configured with a heartbeat max age other than the default.
func RunHeartbeat(t *testing.T, newStores NewHeartbeatStores) {
	const maxAge = time.Minute
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s state.Store, d DetectorSaver, clk *Clock)
	}{
		{"a detector memory save stamps the heartbeat, without a version or an audit record", func(t *testing.T, s state.Store, d DetectorSaver, clk *Clock) {
			before := register(t, s, "news", "d1.example")
			at := clk.Advance(time.Second)
			if _, err := d.SaveDetector(ctx, "news", "d1.example", []byte(`{"v":1}`), 0); err != nil {
				t.Fatalf("SaveDetector: %v", err)
			}
			want := before
			want.DetectorAt = state.HeartbeatTime(at)
			if diff := cmp.Diff(want, get(t, s, "news", "d1.example")); diff != "" {
				t.Errorf("instance after SaveDetector (-want +got):\n%s", diff)
			}
			if got := len(history(t, s, "news", "")); got != 1 {
				t.Errorf("audit records = %d, want 1 (the registration)", got)
			}
		}},
		{"a health record that changes nothing does not stamp the heartbeat", func(t *testing.T, s state.Store, d DetectorSaver, clk *Clock) {
			register(t, s, "news", "d1.example")
			first := health(t, s, "news", "d1.example", state.HealthFresh)
			clk.Advance(time.Second)
			if diff := cmp.Diff(first, health(t, s, "news", "d1.example", state.HealthFresh)); diff != "" {
				t.Errorf("the same health again changed the instance (-first +again):\n%s", diff)
			}
		}},
		{"other writes keep the heartbeat", func(t *testing.T, s state.Store, d DetectorSaver, clk *Clock) {
			register(t, s, "news", "d1.example")
			vouched := health(t, s, "news", "d1.example", state.HealthFresh).DetectorAt
			clk.Advance(time.Second)
			force := operator
			force.Force = true
			for _, w := range []func() (state.Instance, error){
				func() (state.Instance, error) { return s.Close(ctx, "news", "d1.example", force) },
				func() (state.Instance, error) { return s.Open(ctx, "news", "d1.example", operator) },
				func() (state.Instance, error) {
					r := registration("news", "d1.example")
					r.Region = "us-east-1"
					return s.Register(ctx, r, operator)
				},
			} {
				in, err := w()
				if err != nil {
					t.Fatal(err)
				}
				if !in.DetectorAt.Equal(vouched) {
					t.Errorf("DetectorAt = %v after an operator's write, want %v", in.DetectorAt, vouched)
				}
			}
		}},
		{"the guard wants the peer's heartbeat within the configured max age", func(t *testing.T, s state.Store, d DetectorSaver, clk *Clock) {
			register(t, s, "news", "target.example")
			register(t, s, "news", "peer.example")
			health(t, s, "news", "peer.example", state.HealthFresh)
			health(t, s, "news", "target.example", state.HealthStale)
			closeTarget := func() error {
				_, err := s.Close(ctx, "news", "target.example", state.Change{By: "workflow", Reason: "stale"})
				return err
			}
			clk.Advance(maxAge + time.Millisecond) // the default max age would still count the peer
			var guard *state.GuardError
			if err := closeTarget(); !errors.As(err, &guard) {
				t.Fatalf("Close with the peer silent for %v: error = %v, want *state.GuardError", maxAge+time.Millisecond, err)
			}
			// The peer's detector saves its memory: it vouches for the peer again.
			if _, err := d.SaveDetector(ctx, "news", "peer.example", []byte(`{"v":1}`), 0); err != nil {
				t.Fatalf("SaveDetector: %v", err)
			}
			clk.Advance(maxAge)
			if err := closeTarget(); err != nil {
				t.Fatalf("Close with the peer's memory saved %v ago: %v, want it allowed", maxAge, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewClock(T0)
			s, d := newStores(t, clk.Now, maxAge)
			tc.test(t, s, d, clk)
		})
	}
}
