package failover_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/origin"
)

// TestConfirmLeavesAnOversizedPlaylistUnjudged: a probe whose body is over the size limit is a
// configuration error, logged with the PlaylistTooLarge metric; it is not a failure that keeps
// the playlist stale, so the stale event is neither confirmed (no close) nor called a false
// alarm: no verdict, an OriginProbeError that says why.
func TestConfirmLeavesAnOversizedPlaylistUnjudged(t *testing.T) {
	long := playlist{body: media(18234, 40, 6)} // about 700 bytes
	for _, tc := range []struct {
		name    string
		fetcher int64 // the fetcher's limit; 0: origin's default (the tracker refuses the body)
	}{
		{name: "refused by the fetcher", fetcher: 300},
		{name: "refused by the tracker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t)
			o.set(p720, long)
			o.set(p360, long)
			var in contract.ConfirmInput
			loadEvent(t, "confirm-stale", o.URL, &in)
			now := at(t, "2025-03-01T12:00:11.2Z")
			var logs bytes.Buffer
			c := newConfirmer(o, func() time.Time { return now }, nil)
			c.Fetcher = &origin.Fetcher{Client: o.Client(), MaxBytes: tc.fetcher}
			c.Policy = health.Policy{Tracker: hls.TrackerConfig{MaxBody: 300}}
			c.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			out, err := c.Confirm(context.Background(), in)
			if asl.LambdaErrorType(err) != contract.ErrNameOriginProbe || !strings.Contains(err.Error(), "body larger than 300 bytes") {
				t.Fatalf("Confirm = %+v, %v; want an OriginProbeError naming the size limit", out, err)
			}
			if got := strings.Count(logs.String(), `"PlaylistTooLarge":1`); got != 2 {
				t.Errorf("%d PlaylistTooLarge metric lines, want 2:\n%s", got, logs.String())
			}
		})
	}
}

// TestConfirmNeverPollsAVariableReference: an event URL that still holds an EXT-X-DEFINE
// variable reference (as a detector that did not resolve it would send) is refused as invalid
// input, never probed: its 404 would confirm a failure that is not the origin's.
func TestConfirmNeverPollsAVariableReference(t *testing.T) {
	for _, ref := range []string{"{$cdn}", "%7B$cdn%7D"} {
		t.Run(ref, func(t *testing.T) {
			o := newOrigin(t)
			o.set(p360, playlist{body: media(18234, 5, 6)})
			var in contract.ConfirmInput
			loadEvent(t, "confirm-stale", o.URL, &in)
			in.Event.Playlists[0].URL = o.URL + "/news/" + ref + "/720p.m3u8"
			now := at(t, "2025-03-01T12:00:11.2Z")
			c := newConfirmer(o, func() time.Time { return now }, nil)
			out, err := c.Confirm(context.Background(), in)
			if asl.LambdaErrorType(err) != contract.ErrNameInvalidInput || !strings.Contains(err.Error(), "EXT-X-DEFINE") {
				t.Fatalf("Confirm = %+v, %v; want an InvalidInputError naming EXT-X-DEFINE", out, err)
			}
			for _, r := range o.seen() {
				if strings.Contains(r.URL.Path, "cdn") {
					t.Errorf("probed %s", r.URL)
				}
			}
		})
	}
}
