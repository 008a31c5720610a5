package detectortest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// MemoryStores returns a fresh state store and the detector memory store that keeps its
// instances' detector memory.
type MemoryStores func(t *testing.T) (state.Store, detector.MemoryStore)

// RunMemoryContract checks what the detector relies on from a MemoryStore: revisions that
// make concurrent saves safe, unknown instances refused, bad documents refused, and the
// instance's own writes neither disturbed by nor disturbing the memory.
func RunMemoryContract(t *testing.T, stores MemoryStores) {
	ctx := context.Background()
	reg := func(t *testing.T, s state.Store, domain string) state.Instance {
		t.Helper()
		in, err := s.Register(ctx, state.Registration{Cluster: "news", Domain: domain, Region: "eu-west-1",
			DistributionPlaylistURL: "https://" + domain + "/index.m3u8", OriginPlaylistURL: "https://origin.example.com/index.m3u8"},
			state.Change{By: "local:test"})
		if err != nil {
			t.Fatalf("Register: %v", err)
		}
		return in
	}
	load := func(t *testing.T, m detector.MemoryStore, domain string) (string, int64) {
		t.Helper()
		data, rev, err := m.LoadDetector(ctx, "news", domain)
		if err != nil {
			t.Fatalf("LoadDetector: %v", err)
		}
		return string(data), rev
	}

	t.Run("unknown instance is not found", func(t *testing.T) {
		_, m := stores(t)
		if _, _, err := m.LoadDetector(ctx, "news", "nowhere.example.com"); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("LoadDetector: %v, want ErrNotFound", err)
		}
		if _, err := m.SaveDetector(ctx, "news", "nowhere.example.com", []byte(`{}`), 0); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("SaveDetector: %v, want ErrNotFound", err)
		}
	})

	t.Run("new instance has no memory", func(t *testing.T) {
		s, m := stores(t)
		reg(t, s, "d1.example.com")
		if data, rev := load(t, m, "d1.example.com"); data != "" || rev != 0 {
			t.Errorf("LoadDetector = %q, %d; want nothing, 0", data, rev)
		}
	})

	t.Run("saves bump the revision and only from the revision read", func(t *testing.T) {
		s, m := stores(t)
		reg(t, s, "d1.example.com")
		rev, err := m.SaveDetector(ctx, "news", "d1.example.com", []byte(`{"v":1,"a":1}`), 0)
		if err != nil || rev != 1 {
			t.Fatalf("first save = %d, %v; want 1", rev, err)
		}
		for _, stale := range []int64{0, 2, 7} {
			if _, err := m.SaveDetector(ctx, "news", "d1.example.com", []byte(`{"v":1,"a":2}`), stale); !errors.Is(err, state.ErrVersionConflict) {
				t.Errorf("save from revision %d: %v, want ErrVersionConflict", stale, err)
			}
		}
		if data, rev := load(t, m, "d1.example.com"); data != `{"v":1,"a":1}` || rev != 1 {
			t.Errorf("after refused saves: %q, %d; want the first save, 1", data, rev)
		}
		rev, err = m.SaveDetector(ctx, "news", "d1.example.com", []byte(`{"v":1,"a":3}`), 1)
		if err != nil || rev != 2 {
			t.Fatalf("second save = %d, %v; want 2", rev, err)
		}
		if data, rev := load(t, m, "d1.example.com"); data != `{"v":1,"a":3}` || rev != 2 {
			t.Errorf("LoadDetector = %q, %d; want the second save, 2", data, rev)
		}
	})

	t.Run("bad documents are refused", func(t *testing.T) {
		s, m := stores(t)
		reg(t, s, "d1.example.com")
		for name, data := range map[string][]byte{
			"empty":     nil,
			"too large": []byte(`"` + strings.Repeat("x", 200<<10) + `"`),
		} {
			if _, err := m.SaveDetector(ctx, "news", "d1.example.com", data, 0); !errors.Is(err, state.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
		if data, rev := load(t, m, "d1.example.com"); data != "" || rev != 0 {
			t.Errorf("after refused saves: %q, %d; want nothing", data, rev)
		}
	})

	t.Run("instance writes and memory saves leave each other alone", func(t *testing.T) {
		s, m := stores(t)
		reg(t, s, "d1.example.com")
		reg(t, s, "d2.example.com")
		if _, err := s.RecordHealth(ctx, "news", "d2.example.com", state.HealthFresh, state.Change{By: "local:test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SaveDetector(ctx, "news", "d1.example.com", []byte(`{"v":1}`), 0); err != nil {
			t.Fatal(err)
		}
		before, err := s.Instance(ctx, "news", "d1.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.SaveDetector(ctx, "news", "d1.example.com", []byte(`{"v":1,"b":2}`), 1); err != nil {
			t.Fatal(err)
		}
		after, err := s.Instance(ctx, "news", "d1.example.com")
		if err != nil {
			t.Fatal(err)
		}
		// A save stamps the detector's heartbeat (DetectorAt, never backwards) and nothing else.
		if after.DetectorAt.Before(before.DetectorAt) {
			t.Errorf("a memory save moved the heartbeat back from %v to %v", before.DetectorAt, after.DetectorAt)
		}
		before.DetectorAt = after.DetectorAt
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("a memory save changed the instance (-before +after):\n%s", diff)
		}
		change := state.Change{By: "local:test", Reason: "contract"}
		if _, err := s.RecordHealth(ctx, "news", "d1.example.com", state.HealthFresh, change); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Close(ctx, "news", "d1.example.com", change); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, "news", "d1.example.com", change); err != nil {
			t.Fatal(err)
		}
		r := before.Registration()
		r.OriginPlaylistURL = "https://origin2.example.com/index.m3u8"
		if _, err := s.Register(ctx, r, change); err != nil {
			t.Fatal(err)
		}
		if data, rev := load(t, m, "d1.example.com"); data != `{"v":1,"b":2}` || rev != 2 {
			t.Errorf("after instance writes: %q, %d; want the memory unchanged at revision 2", data, rev)
		}
	})

	t.Run("concurrent saves from one revision: exactly one wins", func(t *testing.T) {
		s, m := stores(t)
		reg(t, s, "d1.example.com")
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = m.SaveDetector(ctx, "news", "d1.example.com", []byte(fmt.Sprintf(`{"writer":%d}`, i)), 0)
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Errorf("writers %d and %d both won", won, i)
			case err == nil:
				won = i
			case !errors.Is(err, state.ErrVersionConflict):
				t.Errorf("writer %d: %v, want ErrVersionConflict", i, err)
			}
		}
		if won < 0 {
			t.Fatal("no writer won")
		}
		if data, rev := load(t, m, "d1.example.com"); data != fmt.Sprintf(`{"writer":%d}`, won) || rev != 1 {
			t.Errorf("LoadDetector = %q, %d; want the winner's document at revision 1", data, rev)
		}
	})
}
