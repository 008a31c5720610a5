package sweeper_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/sweeper"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestSweeperDeadlineUsesLongestRecentSegment: a playlist that declares TD 2 but carries 10 s
// segments advances every 10 s; its deadline is LastModified + 1 s + 1.5 x 10 s, as the
// detector judges it, not 1.5 x 2 s, which would delete a live playlist between two segments.
func TestSweeperDeadlineUsesLongestRecentSegment(t *testing.T) {
	endpoint := testenv.Moto(t, "the sweeper wire test")
	f := newFixture(t, endpoint, true, nil)
	body := strings.ReplaceAll(strings.Replace(live, "TARGETDURATION:6", "TARGETDURATION:2", 1), "6.006", "10.0")
	ev, lm := f.upload(t, key, body)
	m, c := f.schedule(t, ev, lm)
	want := time.Second + 15*time.Second
	if got := m.Delay; got != want {
		t.Errorf("delay = %s, want %s", got, want)
	}
	if got := c.Deadline; !got.Equal(lm.Add(want)) {
		t.Errorf("deadline = %s, want %s", got, lm.Add(want))
	}
	if got, want := c.TargetDurationMS, int64(10000); got != want {
		t.Errorf("target_duration_ms = %d, want %d", got, want)
	}
}

// TestSweeperLeavesAnOversizedPlaylistAlone: a playlist over the size limit is a configuration
// error: never deleted, logged with the PlaylistTooLarge metric that the operators' alarm watches.
func TestSweeperLeavesAnOversizedPlaylistAlone(t *testing.T) {
	endpoint := testenv.Moto(t, "the sweeper wire test")
	f := newFixture(t, endpoint, true, func(c *sweeper.Config) { c.MaxBytes = 64 })
	f.liveSibling(t, key)
	ev, lm := f.upload(t, key, live)
	f.clock.Set(lm.Add(time.Hour))
	ds, err := f.h.HandleUploads(context.Background(), ev)
	if err != nil || len(ds) != 1 || ds[0].Action != sweeper.Malformed || !strings.Contains(ds[0].Reason, "MAX_PLAYLIST_BYTES") {
		t.Fatalf("HandleUploads = %+v, %v; want one malformed decision naming MAX_PLAYLIST_BYTES", ds, err)
	}
	if !f.exists(t, key) || len(f.q.sent) != 0 {
		t.Fatal("the oversized playlist was deleted or scheduled")
	}
	if !strings.Contains(f.log.String(), `"PlaylistTooLarge":1`) {
		t.Errorf("logs %s: want the PlaylistTooLarge metric line", f.log.String())
	}
}
