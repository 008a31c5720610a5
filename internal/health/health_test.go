package health_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

func TestDecide(t *testing.T) {
	const (
		F = state.HealthFresh
		S = state.HealthStale
		U = state.HealthUnreachable
		E = state.HealthEnded
		K = state.HealthUnknown
	)
	pl := func(c health.Class, h state.Health) health.Playlist {
		return health.Playlist{URL: "http://o.test/" + string(c) + ".m3u8", Class: c, Health: h, StaleFor: 4 * time.Second, Down: 5 * time.Second}
	}
	v, a := health.Video, health.Audio
	for _, tc := range []struct {
		name         string
		playlists    []health.Playlist
		tol          health.Tolerance
		want         state.Health
		wantStaleFor time.Duration
	}{
		{"nothing to judge is unknown", nil, nil, K, 0},
		{"all fresh", []health.Playlist{pl(v, F), pl(v, F), pl(a, F)}, nil, F, 0},
		{"one stale video variant is stale", []health.Playlist{pl(v, F), pl(v, S), pl(a, F)}, nil, S, 4 * time.Second},
		{"one stale audio rendition is stale", []health.Playlist{pl(v, F), pl(a, S)}, nil, S, 4 * time.Second},
		{"every bad playlist unreachable is unreachable", []health.Playlist{pl(v, U), pl(v, U), pl(a, U)}, nil, U, 5 * time.Second},
		{"stale and unreachable together are stale", []health.Playlist{pl(v, S), pl(v, U), pl(a, F)}, nil, S, 5 * time.Second},
		{"one unreachable of two video variants is unreachable", []health.Playlist{pl(v, F), pl(v, U)}, nil, U, 5 * time.Second},
		{"within the video tolerance is fresh", []health.Playlist{pl(v, F), pl(v, S), pl(a, F)}, health.Tolerance{v: 1}, F, 0},
		{"beyond the video tolerance is stale", []health.Playlist{pl(v, S), pl(v, S), pl(a, F)}, health.Tolerance{v: 1}, S, 4 * time.Second},
		{"unreachable within tolerance, stale beyond it", []health.Playlist{pl(v, U), pl(v, S), pl(v, F)}, health.Tolerance{v: 1}, S, 5 * time.Second},
		{"audio tolerance does not cover video", []health.Playlist{pl(v, S), pl(a, F)}, health.Tolerance{a: 1}, S, 4 * time.Second},
		{"all ended is ended", []health.Playlist{pl(v, E), pl(a, E)}, nil, E, 0},
		{"ended and fresh is fresh", []health.Playlist{pl(v, E), pl(v, F)}, nil, F, 0},
		{"ended and stale is stale", []health.Playlist{pl(v, E), pl(v, S)}, nil, S, 4 * time.Second},
		{"a playlist not judged yet keeps it unknown", []health.Playlist{pl(v, F), pl(v, K)}, nil, K, 0},
		{"not judged yet within the tolerance is fresh", []health.Playlist{pl(v, F), pl(v, K)}, health.Tolerance{v: 1}, F, 0},
		{"a stale one decides even with unknown ones", []health.Playlist{pl(v, S), pl(v, K)}, nil, S, 4 * time.Second},
		{"ended and unknown is unknown", []health.Playlist{pl(v, E), pl(v, K)}, health.Tolerance{v: 1}, K, 0},
		{"ended and stale within tolerance is ended", []health.Playlist{pl(v, E), pl(v, S)}, health.Tolerance{v: 1}, E, 0},
		{"a playlist without a class counts as video", []health.Playlist{pl("", S), pl(a, F)}, health.Tolerance{a: 1}, S, 4 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := health.Decide(tc.playlists, tc.tol)
			if got.Health != tc.want || got.StaleFor != tc.wantStaleFor {
				t.Errorf("Decide = %s (stale for %s; %s), want %s (stale for %s)", got.Health, got.StaleFor, got.Reason, tc.want, tc.wantStaleFor)
			}
			if got.Reason == "" {
				t.Error("no reason given")
			}
		})
	}
}

func TestDecideNamesTheOffendingPlaylists(t *testing.T) {
	got := health.Decide([]health.Playlist{
		{URL: "http://o.test/720p.m3u8", Class: health.Video, Health: state.HealthStale, Reason: "no progress for 10s"},
		{URL: "http://o.test/en.m3u8", Class: health.Audio, Health: state.HealthStale, Reason: "no progress for 11s"},
	}, health.Tolerance{health.Audio: 1})
	if want := "video http://o.test/720p.m3u8 stale: no progress for 10s"; got.Reason != want {
		t.Errorf("reason %q, want %q (the tolerated audio playlist left out)", got.Reason, want)
	}
}

func TestPolicyFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want health.Policy // after WithDefaults
		err  string
	}{
		{name: "defaults", want: health.Policy{Tracker: hls.TrackerConfig{Multiplier: 1.5, MinFailures: 2, MaxBody: hls.DefaultMaxBody}}},
		{name: "everything set", env: map[string]string{"STALE_MULTIPLIER": "2.5", "MIN_FAILURES": "3", "VIDEO_TOLERANCE": "1", "AUDIO_TOLERANCE": "2", "MAX_PLAYLIST_BYTES": "33554432"},
			want: health.Policy{Tracker: hls.TrackerConfig{Multiplier: 2.5, MinFailures: 3, MaxBody: 32 << 20}, VideoTolerance: 1, AudioTolerance: 2}},
		{name: "a size limit that is not a number of bytes", env: map[string]string{"MAX_PLAYLIST_BYTES": "16M"}, err: `MAX_PLAYLIST_BYTES="16M": want a positive whole number of bytes`},
		{name: "malformed values are all reported", env: map[string]string{"STALE_MULTIPLIER": "lots", "MIN_FAILURES": "2.5", "AUDIO_TOLERANCE": "one"},
			err: `STALE_MULTIPLIER="lots": want a number; MIN_FAILURES="2.5": want a whole number; AUDIO_TOLERANCE="one": want a whole number`},
		{name: "negative tolerance", env: map[string]string{"VIDEO_TOLERANCE": "-1"}, err: "tolerances must not be negative"},
		{name: "multiplier out of range", env: map[string]string{"STALE_MULTIPLIER": "1000"}, err: "multiplier 1000"},
		{name: "negative failures", env: map[string]string{"MIN_FAILURES": "-2"}, err: "min failures -2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := health.PolicyFromEnv(func(k string) string { return tc.env[k] })
			if err == nil {
				p, err = p.WithDefaults()
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("policy %+v, error %v; want an error saying %q", p, err, tc.err)
				}
				if len(health.Problems(err)) == 0 {
					t.Error("Problems lists nothing")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, p); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
			if got, want := p.Tolerance(), (health.Tolerance{health.Video: tc.want.VideoTolerance, health.Audio: tc.want.AudioTolerance}); !cmp.Equal(got, want) {
				t.Errorf("Tolerance() = %v, want %v", got, want)
			}
		})
	}
}

// ruleOracle is the health rule written plainly over the playlists themselves, independently of
// Counts: Counts.Health and Decide are checked against it.
func ruleOracle(playlists []health.Playlist, tol health.Tolerance) (h state.Health, offendingVideo, offendingAudio bool) {
	if len(playlists) == 0 {
		return state.HealthUnknown, false, false
	}
	allEnded := true
	for _, p := range playlists {
		if p.Health != state.HealthEnded {
			allEnded = false
		}
	}
	if allEnded {
		return state.HealthEnded, false, false
	}
	classOf := func(p health.Playlist) health.Class {
		if p.Class == health.Audio {
			return health.Audio
		}
		return health.Video
	}
	// in counts the class's playlists, bad its stale or unreachable ones, unknown the rest that
	// are neither fresh nor ended.
	in, bad, unknown := map[health.Class]int{}, map[health.Class]int{}, map[health.Class]int{}
	for _, p := range playlists {
		c := classOf(p)
		in[c]++
		switch p.Health {
		case state.HealthStale, state.HealthUnreachable:
			bad[c]++
		case state.HealthFresh, state.HealthEnded:
		default:
			unknown[c]++
		}
	}
	offends := func(c health.Class) bool { return in[c] > 0 && bad[c] > tol[c] }
	offendingVideo, offendingAudio = offends(health.Video), offends(health.Audio)
	if offendingVideo || offendingAudio {
		for _, p := range playlists {
			if offends(classOf(p)) && p.Health == state.HealthStale {
				return state.HealthStale, offendingVideo, offendingAudio
			}
		}
		return state.HealthUnreachable, offendingVideo, offendingAudio
	}
	for _, c := range []health.Class{health.Video, health.Audio} {
		if in[c] > 0 && bad[c]+unknown[c] > tol[c] {
			return state.HealthUnknown, false, false
		}
	}
	anyFresh, anyUnknown := false, false
	for _, p := range playlists {
		anyFresh = anyFresh || p.Health == state.HealthFresh
		anyUnknown = anyUnknown || unknown[classOf(p)] > 0
	}
	switch {
	case anyFresh:
		return state.HealthFresh, false, false
	case anyUnknown:
		return state.HealthUnknown, false, false
	}
	return state.HealthEnded, false, false
}

// TestCountsHealthIsTheRule checks Counts (the allocation-free rule the detector's loop uses)
// and Decide against ruleOracle on every instance of up to 3 playlists (video, audio or
// unclassed, in any health, including one no tracker gives) under tolerances 0 to 2 per class:
// a difference would hide or invent transitions.
func TestCountsHealthIsTheRule(t *testing.T) {
	healths := []state.Health{state.HealthFresh, state.HealthStale, state.HealthUnreachable, state.HealthEnded, state.HealthUnknown, "bogus"}
	var kinds []health.Playlist
	for _, c := range []health.Class{health.Video, health.Audio, ""} {
		for _, h := range healths {
			kinds = append(kinds, health.Playlist{Class: c, Health: h})
		}
	}
	cases := 0
	var walk func(prefix []health.Playlist, left int)
	walk = func(prefix []health.Playlist, left int) {
		for vt := range 3 {
			for at := range 3 {
				tol := health.Tolerance{health.Video: vt, health.Audio: at}
				var c health.Counts
				for i := range prefix {
					prefix[i].URL = fmt.Sprintf("p%d", i)
					c.Add(prefix[i].Class, prefix[i].Health)
				}
				want, wantVideo, wantAudio := ruleOracle(prefix, tol)
				if got := c.Health(tol); got != want {
					t.Fatalf("playlists %v, tolerances video %d audio %d: Counts.Health %s, want %s", prefix, vt, at, got, want)
				}
				if got := health.Decide(prefix, tol).Health; got != want {
					t.Fatalf("playlists %v, tolerances video %d audio %d: Decide %s, want %s", prefix, vt, at, got, want)
				}
				if gotVideo, gotAudio := c.Offending(tol); gotVideo != wantVideo || gotAudio != wantAudio {
					t.Fatalf("playlists %v, tolerances video %d audio %d: Offending %t %t, want %t %t", prefix, vt, at, gotVideo, gotAudio, wantVideo, wantAudio)
				}
				cases++
			}
		}
		if left == 0 {
			return
		}
		for _, k := range kinds {
			walk(append(prefix[:len(prefix):len(prefix)], k), left-1)
		}
	}
	walk(nil, 3)
	t.Logf("%d instances checked", cases)
}
