package memory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

// TestControlRegionSwitchedDown: with the control region switched down, every automated write
// is refused as the dynamo store refuses it and changes nothing; an operator's forced close and
// open go through, audited with force and fallback; reads answer; switched up, writes are plain
// again.
func TestControlRegionSwitchedDown(t *testing.T) {
	ctx := context.Background()
	const cluster, d1, d2 = "live", "d1.example.net", "d2.example.net"
	auto := state.Change{By: "arn:aws:states:us-east-1:000000000000:execution:cvs-failover:x", Reason: "stale"}
	forced := state.Change{By: "local:operator", Reason: "control region down", Force: true}
	cases := []struct {
		name      string
		write     func(s *memory.Store, m *memory.DetectorMemory) error
		op        string // of the refusal; "" when the write goes through
		wantOpen  bool   // d1 afterwards
		wantAudit bool   // a fallback record for d1
	}{
		{name: "record health", op: "record health", wantOpen: true, write: func(s *memory.Store, _ *memory.DetectorMemory) error {
			_, err := s.RecordHealth(ctx, cluster, d1, state.HealthStale, auto)
			return err
		}},
		{name: "automated close", op: "close", wantOpen: true, write: func(s *memory.Store, _ *memory.DetectorMemory) error {
			_, err := s.Close(ctx, cluster, d1, auto)
			return err
		}},
		{name: "register", op: "register", wantOpen: true, write: func(s *memory.Store, _ *memory.DetectorMemory) error {
			_, err := s.Register(ctx, state.Registration{Cluster: cluster, Domain: d1, Region: "eu-west-1",
				DistributionPlaylistURL: "https://d1.example.net/m.m3u8", OriginPlaylistURL: "https://o1.example.net/m.m3u8"}, forced)
			return err
		}},
		{name: "save detector memory", op: "save detector memory", wantOpen: true, write: func(_ *memory.Store, m *memory.DetectorMemory) error {
			_, err := m.SaveDetector(ctx, cluster, d1, []byte(`{}`), 1)
			return err
		}},
		{name: "forced close falls back", wantOpen: false, wantAudit: true, write: func(s *memory.Store, _ *memory.DetectorMemory) error {
			_, err := s.Close(ctx, cluster, d1, forced)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := statetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			s := memory.New(clk.Now)
			m := memory.NewDetectorMemory(s)
			for _, d := range []string{d1, d2} {
				if _, err := s.Register(ctx, state.Registration{Cluster: cluster, Domain: d, Region: "us-east-1",
					DistributionPlaylistURL: "https://" + d + "/m.m3u8", OriginPlaylistURL: "https://o." + d + "/m.m3u8"}, forced); err != nil {
					t.Fatal(err)
				}
				if _, err := s.RecordHealth(ctx, cluster, d, state.HealthFresh, auto); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := m.SaveDetector(ctx, cluster, d1, []byte(`{}`), 0); err != nil {
				t.Fatal(err)
			}
			before, _ := s.Instance(ctx, cluster, d1)
			s.SetControlRegionDown("us-east-1", true)
			clk.Advance(time.Second)
			err := c.write(s, m)
			var down *state.ControlRegionUnavailableError
			switch {
			case c.op == "" && err != nil:
				t.Fatalf("write refused: %v", err)
			case c.op != "" && (!errors.As(err, &down) || down.Op != c.op || down.ControlRegion != "us-east-1"):
				t.Fatalf("write: %v, want a ControlRegionUnavailableError of %q in us-east-1", err, c.op)
			}
			after, err := s.Instance(ctx, cluster, d1) // reads answer while down
			if err != nil {
				t.Fatal(err)
			}
			if after.Open != c.wantOpen || (c.op != "" && after.Version != before.Version) {
				t.Fatalf("after: open %t version %d (was %d), want open %t", after.Open, after.Version, before.Version, c.wantOpen)
			}
			page, err := s.History(ctx, state.HistoryQuery{Cluster: cluster, Domain: d1})
			if err != nil {
				t.Fatal(err)
			}
			newest := page.Records[0]
			if got := newest.Fallback && newest.Force && newest.Field == state.FieldOpen && newest.After == "false"; got != c.wantAudit {
				t.Fatalf("newest audit record %+v: fallback close %t, want %t", newest, got, c.wantAudit)
			}

			// Switched up: an automated write goes through, audited without fallback.
			s.SetControlRegionDown("", false)
			clk.Advance(time.Second)
			in, err := s.RecordHealth(ctx, cluster, d1, state.HealthStale, auto)
			if err != nil || in.Health != state.HealthStale {
				t.Fatalf("record health after the switch up: %+v %v", in, err)
			}
			page, _ = s.History(ctx, state.HistoryQuery{Cluster: cluster, Domain: d1, Limit: 1})
			if r := page.Records[0]; r.Fallback || r.Field != state.FieldHealth {
				t.Fatalf("audit record after the switch up: %+v", r)
			}
		})
	}
}
