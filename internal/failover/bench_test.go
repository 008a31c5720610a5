package failover_test

import (
	"context"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

// BenchmarkConfirmStale measures one Confirm of the sample event (two playlists, fetched over
// loopback HTTP, parsed and judged).
func BenchmarkConfirmStale(b *testing.B) {
	o := newOrigin(b)
	o.set(p720, playlist{body: media(18234, 5, 6)})
	o.set(p360, playlist{body: media(18234, 5, 6)})
	var in contract.ConfirmInput
	loadEvent(b, "confirm-stale", o.URL, &in)
	now := at(b, "2025-03-01T12:00:11Z")
	c := newConfirmer(o, func() time.Time { return now }, nil)
	b.ReportAllocs()
	for b.Loop() {
		out, err := c.Confirm(context.Background(), in)
		if err != nil || !out.Confirmed {
			b.Fatalf("Confirm = %+v, %v", out, err)
		}
	}
}

// BenchmarkCloseAndReopen measures a guarded close and a reopen on the memory store, audit
// trail reads included.
func BenchmarkCloseAndReopen(b *testing.B) {
	clk := statetest.NewClock(at(b, "2025-03-01T12:00:12Z"))
	s := cluster2(b, clk)
	closer := &failover.Closer{Store: s, Now: clk.Now, Log: quiet}
	reopener := &failover.Reopener{Store: s, Log: quiet}
	ctx := context.Background()
	seq := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		seq += 2
		c, err := closer.Close(ctx, closeInput(seq))
		if err != nil || !c.Changed {
			b.Fatalf("Close = %+v, %v", c, err)
		}
		r, err := reopener.Reopen(ctx, reopenInput(seq+1))
		if err != nil || !r.Changed {
			b.Fatalf("Reopen = %+v, %v", r, err)
		}
		clk.Advance(time.Second)
	}
}
