package failover_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
)

const (
	p720 = "/news/720p.m3u8"
	p360 = "/news/360p.m3u8"
)

func newConfirmer(o *fakeOrigin, now func() time.Time, history failover.HistoryReader) *failover.Confirmer {
	return &failover.Confirmer{
		Fetcher: &origin.Fetcher{Client: o.Client(), Now: now},
		History: history,
		Now:     now,
		Log:     quiet,
	}
}

func TestConfirmStale(t *testing.T) {
	// The sample event: both playlists at media sequence 18234 with the live edge at seg18238.ts
	// (sequence 18238), target duration 6 s (threshold 9 s), last changed at 12:00:00 and
	// 12:00:00.5, detected stale at 12:00:09.2. The probe runs two seconds later.
	probeAt := "2025-03-01T12:00:11.2Z"
	stalled := playlist{body: media(18234, 5, 6)}
	td2 := playlist{body: strings.Replace(media(18234, 5, 10), "TARGETDURATION:10", "TARGETDURATION:2", 1)}
	tests := []struct {
		name    string
		event   string
		answers map[string]playlist // unset paths answer 404
		want    contract.ConfirmOutput
		reason  []string // substrings of the reason
	}{
		{"stalled origin is still stale", "confirm-stale",
			map[string]playlist{p720: stalled, p360: stalled},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale},
			[]string{"720p.m3u8 stale: no progress for 11.2s, over 9s", "360p.m3u8 stale: no progress for 10.7s"}},
		{"a window that moved is a false alarm", "confirm-stale",
			map[string]playlist{p720: {body: media(18235, 5, 6)}, p360: {body: media(18235, 5, 6)}},
			contract.ConfirmOutput{Health: state.HealthFresh},
			[]string{"2 of 2 playlist(s) fresh", "720p.m3u8: fresh: new segment at the live edge, media sequence 18239"}},
		{"one playlist advanced, the other is still stale", "confirm-stale",
			map[string]playlist{p720: {body: media(18235, 5, 6)}, p360: stalled},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale},
			[]string{"360p.m3u8 stale"}},
		{"a single 404 leaves a stale playlist stale", "confirm-stale",
			map[string]playlist{},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale},
			[]string{"failure 1", "HTTP status 404"}},
		{"an ended stream is never failed over", "confirm-stale",
			map[string]playlist{p720: {body: media(18234, 5, 6, "ended")}, p360: stalled},
			contract.ConfirmOutput{Health: state.HealthEnded},
			[]string{"#EXT-X-ENDLIST"}},
		{"a restart that resets the media sequence is a false alarm", "confirm-stale",
			map[string]playlist{p720: {body: media(0, 3, 6)}, p360: stalled},
			contract.ConfirmOutput{Health: state.HealthFresh},
			[]string{"restart: media sequence went back from 18234 to 0"}},
		{"an HTML error page answered 200 is a failure, not progress", "confirm-stale",
			map[string]playlist{p720: {body: "<html>503</html>"}, p360: {body: "<html>503</html>"}},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale},
			[]string{"not a media playlist"}},
		{"an EVENT playlist that grew is a false alarm", "confirm-stale",
			map[string]playlist{p720: {body: media(18234, 7, 6, "event")}, p360: {body: media(18234, 6, 6, "event")}},
			contract.ConfirmOutput{Health: state.HealthFresh},
			[]string{"720p.m3u8: fresh: new segment at the live edge, media sequence 18240", "360p.m3u8: fresh: new segment at the live edge, media sequence 18239"}},
		{"an EVENT playlist that did not grow is confirmed", "confirm-stale",
			map[string]playlist{p720: {body: media(18234, 5, 6, "event")}, p360: {body: media(18234, 5, 6, "event")}},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale},
			[]string{"720p.m3u8 stale: no progress for 11.2s"}},
		{"a growing window that resumed is a false alarm", "confirm-stale",
			map[string]playlist{p720: {body: media(18234, 7, 6)}, p360: {body: media(18234, 7, 6)}},
			contract.ConfirmOutput{Health: state.HealthFresh},
			[]string{"720p.m3u8: fresh: new segment at the live edge, media sequence 18240"}},
		{"GAP segments at the live edge are no progress", "confirm-stale",
			map[string]playlist{p720: {body: withGaps(media(18234, 5, 6), 18239, 2)}, p360: {body: withGaps(media(18234, 5, 6), 18239, 2)}},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale},
			[]string{"720p.m3u8 stale: no progress for 11.2s", "2 GAP segment(s) at the live edge"}},
		{"a playlist declaring TD 2 with 10 s segments is judged by its segments", "confirm-stale",
			map[string]playlist{p720: td2, p360: td2},
			contract.ConfirmOutput{Health: state.HealthFresh},
			[]string{"720p.m3u8: fresh: no progress for 11.2s, within 15s"}},
		{"a new token on the same segments is no progress", "confirm-stale",
			map[string]playlist{p720: {body: strings.ReplaceAll(stalled.body, ".ts\n", ".ts?token=b\n")}, p360: stalled},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale},
			[]string{"720p.m3u8 stale: no progress for 11.2s"}},

		// An event without live_edge (from before the field, or URIs too long to carry) is
		// judged from the media sequence where that can tell: a window that moved, a restart, an
		// ended stream, a failure. (A probe still at the event's media sequence cannot be judged:
		// TestConfirmWithoutLiveEdgeNeverClosesOnAGuess.)
		{"without the live edge, a window that moved is a false alarm", "confirm-stale-no-live-edge",
			map[string]playlist{p720: {body: media(18235, 5, 6)}, p360: {body: media(18235, 5, 6)}},
			contract.ConfirmOutput{Health: state.HealthFresh},
			[]string{"720p.m3u8: fresh: new segment at the live edge, media sequence 18239"}},
		{"without the live edge, a restart is a false alarm", "confirm-stale-no-live-edge",
			map[string]playlist{p720: {body: media(0, 3, 6)}, p360: stalled},
			contract.ConfirmOutput{Health: state.HealthFresh},
			[]string{"restart: media sequence went back from 18234 to 0"}},
		{"without the live edge, an ended stream is a false alarm", "confirm-stale-no-live-edge",
			map[string]playlist{p720: {body: media(18234, 5, 6, "ended")}, p360: {body: media(18234, 5, 6, "ended")}},
			contract.ConfirmOutput{Health: state.HealthEnded},
			[]string{"#EXT-X-ENDLIST"}},
		{"without the live edge, a failing origin is still stale", "confirm-stale-no-live-edge",
			map[string]playlist{},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale},
			[]string{"failure 1", "HTTP status 404"}},

		{"unreachable origin that still fails is confirmed", "confirm-unreachable",
			map[string]playlist{p720: {status: 503}, p360: {status: 503}},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthUnreachable},
			[]string{"3 consecutive failures", "HTTP status 503"}},
		{"unreachable origin that answers stalled is still failing", "confirm-unreachable",
			map[string]playlist{p720: stalled, p360: stalled},
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale},
			[]string{"no progress for"}},
		{"unreachable origin that answers and advanced is a false alarm", "confirm-unreachable",
			map[string]playlist{p720: {body: media(18236, 5, 6)}, p360: {body: media(18236, 5, 6)}},
			contract.ConfirmOutput{Health: state.HealthFresh},
			[]string{"new segment at the live edge"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t)
			for path, p := range tt.answers {
				o.set(path, p)
			}
			var in contract.ConfirmInput
			loadEvent(t, tt.event, o.URL, &in)
			now := at(t, probeAt)
			if tt.event == "confirm-unreachable" {
				now = at(t, "2025-03-01T12:00:14.5Z")
			}
			c := newConfirmer(o, func() time.Time { return now }, nil)
			got, err := c.Confirm(context.Background(), in)
			if err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			tt.want.ProbedAt = now
			if diff := cmp.Diff(tt.want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Reason" }, cmp.Ignore())); diff != "" {
				t.Errorf("Confirm (-want +got):\n%s\nreason: %s", diff, got.Reason)
			}
			for _, s := range tt.reason {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("reason %q does not say %q", got.Reason, s)
				}
			}
		})
	}
}

// TestConfirmWithoutLiveEdgeNeverClosesOnAGuess: a probe still at the media sequence of an
// event without live_edge cannot tell a stalled sliding window from a window that grows without
// sliding (the first minutes of a live stream, ffmpeg's hls_list_size 0 without a playlist
// type, an EVENT playlist) and resumed after the event. Taking the probe's own live edge as the
// event's would call the resumed one stale and close it (invariant 2): Confirm reaches no
// verdict instead, an OriginProbeError, unless the playlists it can judge decide alone.
func TestConfirmWithoutLiveEdgeNeverClosesOnAGuess(t *testing.T) {
	probeAt := "2025-03-01T12:00:11.2Z"
	grown := playlist{body: media(18234, 7, 6)} // 2 segments more than at detection, same window start
	stalled := playlist{body: media(18234, 5, 6)}
	withEdgeFor720 := func(in *contract.ConfirmInput) {
		in.Event.Playlists[0].LiveEdge = &contract.LiveEdge{Sequence: 18238, SegmentURI: "seg18238.ts"}
	}
	tests := []struct {
		name    string
		answers map[string]playlist
		edit    func(in *contract.ConfirmInput)
		want    contract.ConfirmOutput // when no error is wanted
		err     string                 // substring of an OriginProbeError
	}{
		{name: "a window that grew in place after the event is not taken for a stall",
			answers: map[string]playlist{p720: grown, p360: grown},
			err:     "2 playlist(s) cannot be judged"},
		{name: "nor is a window that did not",
			answers: map[string]playlist{p720: stalled, p360: stalled},
			err:     "not closing"},
		{name: "an EVENT playlist that grew is not either",
			answers: map[string]playlist{p720: {body: media(18234, 7, 6, "event")}, p360: {body: media(18234, 7, 6, "event")}},
			err:     "no live-edge evidence to compare"},
		{name: "one judged fresh and one unjudged could go either way",
			answers: map[string]playlist{p720: {body: media(18235, 5, 6)}, p360: grown},
			err:     "360p.m3u8"},
		{name: "one judged stale decides with the other unjudged",
			answers: map[string]playlist{p720: stalled, p360: grown}, edit: withEdgeFor720,
			want: contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale}},
		{name: "one judged resumed with the other unjudged could go either way",
			answers: map[string]playlist{p720: grown, p360: stalled}, edit: withEdgeFor720,
			err: "360p.m3u8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t)
			for path, p := range tt.answers {
				o.set(path, p)
			}
			var in contract.ConfirmInput
			loadEvent(t, "confirm-stale-no-live-edge", o.URL, &in)
			if tt.edit != nil {
				tt.edit(&in)
			}
			now := at(t, probeAt)
			got, err := newConfirmer(o, func() time.Time { return now }, nil).Confirm(context.Background(), in)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("Confirm = %+v, want an OriginProbeError saying %q", got, tt.err)
				}
				if name := asl.LambdaErrorType(err); name != contract.ErrNameOriginProbe || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %s %q, want %s saying %q", name, err, contract.ErrNameOriginProbe, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			tt.want.ProbedAt = now
			if diff := cmp.Diff(tt.want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Reason" }, cmp.Ignore())); diff != "" {
				t.Errorf("Confirm (-want +got):\n%s\nreason: %s", diff, got.Reason)
			}
		})
	}
}

// originURL stands for the test origin's URL in expected reasons.
const originURL = "<origin>"

// TestConfirmAppliesThePolicy: Confirm's verdict is the detector's (health.Decide) with the
// detector's settings: the staleness multiplier, the failures it takes to be unreachable, and
// the stale or unreachable playlists tolerated per class, by the class the event names.
func TestConfirmAppliesThePolicy(t *testing.T) {
	stalled := playlist{body: media(18234, 5, 6)}
	advanced := playlist{body: media(18235, 5, 6)}
	audio360 := func(in *contract.ConfirmInput) { in.Event.Playlists[1].Class = health.Audio }
	noClass := func(in *contract.ConfirmInput) {
		for i := range in.Event.Playlists {
			in.Event.Playlists[i].Class = ""
		}
	}
	tests := []struct {
		name    string
		event   string
		edit    func(in *contract.ConfirmInput)
		policy  health.Policy
		probeAt string
		answers map[string]playlist
		want    contract.ConfirmOutput
		reason  string
	}{
		{name: "one stale video variant within the video tolerance is not confirmed", event: "confirm-stale",
			policy: health.Policy{VideoTolerance: 1}, answers: map[string]playlist{p720: stalled, p360: advanced},
			want: contract.ConfirmOutput{Health: state.HealthFresh}, reason: "1 of 2 playlist(s) fresh, 1 stale or unreachable within the tolerance"},
		{name: "two stale video variants are beyond it", event: "confirm-stale",
			policy: health.Policy{VideoTolerance: 1}, answers: map[string]playlist{p720: stalled, p360: stalled},
			want: contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale}, reason: "720p.m3u8 stale"},
		{name: "a stale audio rendition within the audio tolerance is not confirmed", event: "confirm-stale", edit: audio360,
			policy: health.Policy{AudioTolerance: 1}, answers: map[string]playlist{p720: advanced, p360: stalled},
			want: contract.ConfirmOutput{Health: state.HealthFresh}, reason: "within the tolerance"},
		{name: "the audio tolerance does not cover video", event: "confirm-stale", edit: audio360,
			policy: health.Policy{AudioTolerance: 1}, answers: map[string]playlist{p720: stalled, p360: advanced},
			want: contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale}, reason: "video " + originURL + p720 + " stale"},
		{name: "an event without classes counts every playlist as video", event: "confirm-stale", edit: noClass,
			policy: health.Policy{AudioTolerance: 1}, answers: map[string]playlist{p720: advanced, p360: stalled},
			want: contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale}, reason: "video " + originURL + p360 + " stale"},
		{name: "a larger staleness multiplier is not stale yet", event: "confirm-stale",
			policy: health.Policy{Tracker: hls.TrackerConfig{Multiplier: 2}}, answers: map[string]playlist{p720: stalled, p360: stalled},
			want: contract.ConfirmOutput{Health: state.HealthFresh}, reason: "no progress for 11.2s, within 12s"},
		{name: "a failing stale origin stays stale after one failure by default", event: "confirm-stale",
			probeAt: "2025-03-01T12:00:20Z", answers: map[string]playlist{p720: {status: 503}, p360: {status: 503}},
			want: contract.ConfirmOutput{Confirmed: true, Health: state.HealthStale}, reason: "failure 1, last good observation 10.8s ago, still stale"},
		{name: "with one failure enough it is unreachable", event: "confirm-stale",
			policy: health.Policy{Tracker: hls.TrackerConfig{MinFailures: 1}}, probeAt: "2025-03-01T12:00:20Z",
			answers: map[string]playlist{p720: {status: 503}, p360: {status: 503}},
			want:    contract.ConfirmOutput{Confirmed: true, Health: state.HealthUnreachable}, reason: "1 consecutive failures, no good observation for 10.8s"},
		{name: "in fresh mode, a failing playlist within the tolerance is fresh", event: "confirm-fresh",
			policy: health.Policy{VideoTolerance: 1}, probeAt: "2025-03-01T12:10:00Z",
			answers: map[string]playlist{p720: {body: media(18330, 5, 6)}},
			want:    contract.ConfirmOutput{Confirmed: true, Health: state.HealthFresh}, reason: "1 of 2 playlist(s) fresh, 1 stale or unreachable within the tolerance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t)
			for path, p := range tt.answers {
				o.set(path, p)
			}
			var in contract.ConfirmInput
			loadEvent(t, tt.event, o.URL, &in)
			if tt.edit != nil {
				tt.edit(&in)
			}
			probeAt := tt.probeAt
			if probeAt == "" {
				probeAt = "2025-03-01T12:00:11.2Z"
			}
			now := at(t, probeAt)
			clock := at(t, "2025-03-01T12:00:00Z")
			store := memory.New(func() time.Time { return clock })
			register(t, store, in.Event.Cluster, in.Event.Domain)
			c := newConfirmer(o, func() time.Time { return now }, store)
			c.Policy = tt.policy
			got, err := c.Confirm(context.Background(), in)
			if err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			tt.want.ProbedAt = now
			if diff := cmp.Diff(tt.want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Reason" }, cmp.Ignore())); diff != "" {
				t.Errorf("Confirm (-want +got):\n%s\nreason: %s", diff, got.Reason)
			}
			if want := strings.ReplaceAll(tt.reason, originURL, o.URL); !strings.Contains(got.Reason, want) {
				t.Errorf("reason %q does not say %q", got.Reason, want)
			}
		})
	}
	t.Run("a policy the tracker refuses is no verdict", func(t *testing.T) {
		o := newOrigin(t)
		var in contract.ConfirmInput
		loadEvent(t, "confirm-stale", o.URL, &in)
		c := newConfirmer(o, nil, nil)
		c.Policy = health.Policy{VideoTolerance: -1}
		if _, err := c.Confirm(context.Background(), in); asl.LambdaErrorType(err) != contract.ErrNameOriginProbe || !strings.Contains(err.Error(), "tolerances") {
			t.Errorf("Confirm error %v, want an OriginProbeError naming the tolerances", err)
		}
	})
}

func TestConfirmProbesBypassCaches(t *testing.T) {
	o := newOrigin(t)
	o.set(p720, playlist{body: media(18234, 5, 6)})
	o.set(p360, playlist{body: media(18234, 5, 6)})
	var in contract.ConfirmInput
	loadEvent(t, "confirm-stale", o.URL, &in)
	now := at(t, "2025-03-01T12:00:11Z")
	if _, err := newConfirmer(o, func() time.Time { return now }, nil).Confirm(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	reqs := o.seen()
	if got, want := len(reqs), 2; got != want {
		t.Fatalf("%d requests, want %d (one per playlist)", got, want)
	}
	for _, r := range reqs {
		if r.URL.Query().Get(origin.DefaultCacheBustParam) == "" {
			t.Errorf("GET %s has no cache-busting parameter", r.URL)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", r.URL, got)
		}
	}
}

func TestConfirmFresh(t *testing.T) {
	// The sample fresh event: media sequence 18280 at 12:04:58, detected fresh at 12:05:00. The
	// failback workflow probes after a 300 s hold-down.
	probe := at(t, "2025-03-01T12:10:00Z")
	advanced := playlist{body: media(18330, 5, 6)}
	tests := []struct {
		name    string
		answers map[string]playlist
		health  []state.Health // recorded after the event, in order, a second apart
		want    contract.ConfirmOutput
		reason  string
	}{
		{"origin that kept advancing is fresh", map[string]playlist{p720: advanced, p360: advanced}, nil,
			contract.ConfirmOutput{Confirmed: true, Health: state.HealthFresh}, "new segment at the live edge, media sequence 18334"},
		{"origin that stalled during the hold-down is not", map[string]playlist{p720: advanced, p360: {body: media(18280, 5, 6)}}, nil,
			contract.ConfirmOutput{Health: state.HealthStale}, "360p.m3u8 stale: no progress for 5m1.5s"},
		{"a failing playlist is not fresh, even once", map[string]playlist{p720: advanced}, nil,
			contract.ConfirmOutput{Health: state.HealthUnreachable}, "360p.m3u8 unreachable: not read: failure 1"},
		{"an ended stream is not reopened", map[string]playlist{p720: advanced, p360: {body: media(18330, 5, 6, "ended")}}, nil,
			contract.ConfirmOutput{Health: state.HealthEnded}, "#EXT-X-ENDLIST"},
		{"a relapse recorded during the hold-down is not fresh", map[string]playlist{p720: advanced, p360: advanced},
			[]state.Health{state.HealthStale, state.HealthFresh},
			contract.ConfirmOutput{Health: state.HealthStale}, "recorded health went stale at 2025-03-01T12:06:00Z"},
		{"health changes before the event do not count", map[string]playlist{p720: advanced, p360: advanced},
			nil, contract.ConfirmOutput{Confirmed: true, Health: state.HealthFresh}, "fresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t)
			for path, p := range tt.answers {
				o.set(path, p)
			}
			var in contract.ConfirmInput
			loadEvent(t, "confirm-fresh", o.URL, &in)
			// The store's trail: stale before the event, fresh at it, then the case's records.
			clock := at(t, "2025-03-01T12:00:00Z")
			store := memory.New(func() time.Time { return clock })
			register(t, store, in.Event.Cluster, in.Event.Domain)
			by := state.Change{By: "detector", Reason: "test"}
			for _, h := range []state.Health{state.HealthStale, state.HealthFresh} {
				if _, err := store.RecordHealth(context.Background(), in.Event.Cluster, in.Event.Domain, h, by); err != nil {
					t.Fatal(err)
				}
				clock = clock.Add(5 * time.Minute)
			}
			clock = at(t, "2025-03-01T12:06:00Z")
			for _, h := range tt.health {
				if _, err := store.RecordHealth(context.Background(), in.Event.Cluster, in.Event.Domain, h, by); err != nil {
					t.Fatal(err)
				}
				clock = clock.Add(time.Second)
			}
			got, err := newConfirmer(o, func() time.Time { return probe }, store).Confirm(context.Background(), in)
			if err != nil {
				t.Fatalf("Confirm: %v", err)
			}
			tt.want.ProbedAt = probe
			if diff := cmp.Diff(tt.want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Reason" }, cmp.Ignore())); diff != "" {
				t.Errorf("Confirm (-want +got):\n%s\nreason: %s", diff, got.Reason)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason %q does not say %q", got.Reason, tt.reason)
			}
		})
	}
}

func TestConfirmErrorsAreNamed(t *testing.T) {
	o := newOrigin(t)
	o.set(p720, playlist{body: media(18234, 5, 6, "event")})
	o.set(p360, playlist{body: media(18234, 5, 6)})
	now := at(t, "2025-03-01T12:00:11Z")
	c := newConfirmer(o, func() time.Time { return now }, nil)
	load := func(name string) contract.ConfirmInput {
		var in contract.ConfirmInput
		loadEvent(t, name, o.URL, &in)
		return in
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		in   contract.ConfirmInput
		c    *failover.Confirmer
		want string // the error name Step Functions sees
		msg  string
	}{
		{"an EVENT playlist cannot be judged without the live edge", context.Background(), load("confirm-stale-no-live-edge"), c,
			contract.ErrNameOriginProbe, "no live-edge evidence to compare"},
		{"the task's own deadline says nothing about the origin", cancelled, load("confirm-stale"), c,
			contract.ErrNameOriginProbe, "context canceled"},
		{"a fresh event in stale mode", context.Background(), func() contract.ConfirmInput {
			in := load("confirm-fresh")
			in.Mode = contract.ConfirmStale
			return in
		}(), c, contract.ErrNameInvalidInput, "stale mode confirms stale or unreachable events only"},
		{"last change after detection", context.Background(), func() contract.ConfirmInput {
			in := load("confirm-stale")
			in.Event.Playlists[1].LastChange = in.Event.DetectedAt.Add(time.Second)
			return in
		}(), c, contract.ErrNameInvalidInput, "is after detected_at"},
		{"probing before the event was detected", context.Background(), func() contract.ConfirmInput {
			in := load("confirm-stale")
			in.Event.Playlists = in.Event.Playlists[1:] // the one that is not an EVENT playlist
			return in
		}(), newConfirmer(o, func() time.Time { return at(t, "2025-03-01T12:00:04Z") }, nil),
			contract.ErrNameOriginProbe, "clock skew"},
		{"fresh mode without the audit trail", context.Background(), func() contract.ConfirmInput {
			in := load("confirm-fresh")
			for i := range in.Event.Playlists {
				in.Event.Playlists[i].URL = o.URL + p360
			}
			return in
		}(), newConfirmer(o, func() time.Time { return at(t, "2025-03-01T12:05:01Z") }, nil),
			contract.ErrNameStateStore, "audit trail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.c.Confirm(tt.ctx, tt.in)
			if err == nil {
				t.Fatalf("Confirm = %+v, want error %s", out, tt.want)
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

func TestConfirmToleratesASmallClockSkew(t *testing.T) {
	// This clock lags the detector's by 1.2 s: the probe counts as made at detected_at.
	o := newOrigin(t)
	o.set(p720, playlist{body: media(18234, 5, 6)})
	o.set(p360, playlist{body: media(18235, 5, 6)})
	var in contract.ConfirmInput
	loadEvent(t, "confirm-stale", o.URL, &in)
	got, err := newConfirmer(o, func() time.Time { return at(t, "2025-03-01T12:00:08Z") }, nil).Confirm(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Confirmed || !strings.Contains(got.Reason, "720p.m3u8 stale: no progress for 9.2s, over 9s") {
		t.Errorf("Confirm = %+v, want 720p stale as of detected_at", got)
	}
}

func TestConfirmUnreachableMaster(t *testing.T) {
	// An origin never read: its entry is the master playlist, with no target duration.
	o := newOrigin(t)
	var in contract.ConfirmInput
	loadEvent(t, "confirm-unreachable", o.URL, &in)
	in.Event.Playlists = []contract.PlaylistDetail{{URL: in.Event.OriginPlaylistURL, State: state.HealthUnreachable}}
	now := at(t, "2025-03-01T12:00:14Z")
	c := newConfirmer(o, func() time.Time { return now }, nil)

	t.Run("still failing", func(t *testing.T) {
		got, err := c.Confirm(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Confirmed || got.Health != state.HealthUnreachable {
			t.Errorf("Confirm = %+v, want confirmed unreachable", got)
		}
	})
	t.Run("master answers again", func(t *testing.T) {
		o.set("/news/index.m3u8", playlist{body: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1280000\n720p.m3u8\n"})
		got, err := c.Confirm(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Confirmed || got.Health != state.HealthFresh || !strings.Contains(got.Reason, "master playlist answers again") {
			t.Errorf("Confirm = %+v, want a fresh false alarm", got)
		}
	})
	t.Run("status codes", func(t *testing.T) {
		o.set("/news/index.m3u8", playlist{status: http.StatusForbidden})
		got, err := c.Confirm(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Confirmed || !strings.Contains(got.Reason, "HTTP status 403") {
			t.Errorf("Confirm = %+v, want confirmed with the 403 named", got)
		}
	})
}
