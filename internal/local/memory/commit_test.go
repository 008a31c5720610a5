package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// TestOnCommit: every write that changes an instance reaches the feed once, in commit order,
// with the instance before and after; writes that change nothing, refused writes and the
// detector's memory saves do not.
func TestOnCommit(t *testing.T) {
	type change struct {
		Domain        string
		Before, After int64 // versions
		Open          bool
		Health        state.Health
	}
	var got []change
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memory.New(func() time.Time { return now }, memory.OnCommit(func(before, after state.Instance) {
		got = append(got, change{after.Domain, before.Version, after.Version, after.Open, after.Health})
	}))
	mem := memory.NewDetectorMemory(s)
	ctx := context.Background()
	by := state.Change{By: "local:test", Reason: "test"}
	must := func(_ state.Instance, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a.example", "b.example"} {
		must(s.Register(ctx, state.Registration{Cluster: "live", Domain: d, Region: "r1",
			DistributionPlaylistURL: "https://" + d + "/m.m3u8", OriginPlaylistURL: "https://o.example/m.m3u8"}, by))
		must(s.RecordHealth(ctx, "live", d, state.HealthFresh, by))
		if _, err := mem.SaveDetector(ctx, "live", d, []byte(`{}`), 0); err != nil {
			t.Fatal(err)
		}
	}
	must(s.RecordHealth(ctx, "live", "a.example", state.HealthFresh, by)) // the same health: no write
	must(s.Close(ctx, "live", "a.example", by))
	must(s.Close(ctx, "live", "a.example", by)) // closed already: no write
	if _, err := s.Close(ctx, "live", "b.example", by); err == nil {
		t.Fatal("closing the last open instance was not refused")
	}
	must(s.Open(ctx, "live", "a.example", by))
	want := []change{
		{"a.example", 0, 1, true, state.HealthUnknown},
		{"a.example", 1, 2, true, state.HealthFresh},
		{"b.example", 0, 1, true, state.HealthUnknown},
		{"b.example", 1, 2, true, state.HealthFresh},
		{"a.example", 2, 3, false, state.HealthFresh},
		{"a.example", 3, 4, true, state.HealthFresh},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("changes fed (-want +got):\n%s", diff)
	}
}
