package detector_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/topic"
)

const (
	td       = 2 * time.Second
	interval = td / 2
	// bound is the detection target: 1.5 x TD + one poll interval after the last change. The
	// simulated origins answer at once, so nothing else adds to it.
	bound = 3*td/2 + interval + time.Millisecond
)

// TestOriginScenarios runs one invocation against an origin that goes wrong in one way and
// checks the events published, the health recorded and, for failures, how soon.
func TestOriginScenarios(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  detector.Config
		// cue makes the origin go wrong; it returns when the last good change happened (zero
		// when there is no failure to time).
		cue        func(o *detectortest.Origin, at time.Time) time.Time
		want       []string
		wantHealth state.Health
	}{
		{
			name: "a stall of every playlist is stale",
			cue:  func(o *detectortest.Origin, at time.Time) time.Time { return o.Stall("", at) },
			want: kinds(state.HealthFresh, state.HealthStale), wantHealth: state.HealthStale,
		},
		{
			name: "a stall of one video variant is stale",
			cue:  func(o *detectortest.Origin, at time.Time) time.Time { return o.Stall("v360", at) },
			want: kinds(state.HealthFresh, state.HealthStale), wantHealth: state.HealthStale,
		},
		{
			name: "a stall of the audio rendition is stale",
			cue:  func(o *detectortest.Origin, at time.Time) time.Time { return o.Stall("aen", at) },
			want: kinds(state.HealthFresh, state.HealthStale), wantHealth: state.HealthStale,
		},
		{
			name: "one stale video variant within the video tolerance stays fresh",
			cfg:  detector.Config{VideoTolerance: 1},
			cue:  func(o *detectortest.Origin, at time.Time) time.Time { o.Stall("v360", at); return time.Time{} },
			want: kinds(state.HealthFresh), wantHealth: state.HealthFresh,
		},
		{
			name: "two stale video variants beyond the video tolerance are stale",
			cfg:  detector.Config{VideoTolerance: 1},
			cue: func(o *detectortest.Origin, at time.Time) time.Time {
				o.Stall("v720", at)
				return o.Stall("v360", at)
			},
			want: kinds(state.HealthFresh, state.HealthStale), wantHealth: state.HealthStale,
		},
		{
			name: "a stale audio rendition within the audio tolerance stays fresh",
			cfg:  detector.Config{AudioTolerance: 1},
			cue:  func(o *detectortest.Origin, at time.Time) time.Time { o.Stall("aen", at); return time.Time{} },
			want: kinds(state.HealthFresh), wantHealth: state.HealthFresh,
		},
		{
			name: "404 with a playlist body is unreachable, never read as fresh",
			cue: func(o *detectortest.Origin, at time.Time) time.Time {
				o.Fail("", http.StatusNotFound, at, time.Time{})
				return at
			},
			want: kinds(state.HealthFresh, state.HealthUnreachable), wantHealth: state.HealthUnreachable,
		},
		{
			name: "503 for longer than the threshold is unreachable, then fresh when it ends",
			cue: func(o *detectortest.Origin, at time.Time) time.Time {
				o.Fail("", http.StatusServiceUnavailable, at, at.Add(8*time.Second))
				return at
			},
			want: kinds(state.HealthFresh, state.HealthUnreachable, state.HealthFresh), wantHealth: state.HealthFresh,
		},
		{
			name: "a single 500 changes nothing",
			cue: func(o *detectortest.Origin, at time.Time) time.Time {
				o.Fail("v720", http.StatusInternalServerError, at, at.Add(900*time.Millisecond))
				return time.Time{}
			},
			want: kinds(state.HealthFresh), wantHealth: state.HealthFresh,
		},
		{
			name: "failures shorter than the threshold change nothing",
			cue: func(o *detectortest.Origin, at time.Time) time.Time {
				o.Fail("", http.StatusBadGateway, at, at.Add(2500*time.Millisecond))
				return time.Time{}
			},
			want: kinds(state.HealthFresh), wantHealth: state.HealthFresh,
		},
		{
			name: "ENDLIST is ended, not stale",
			cue:  func(o *detectortest.Origin, at time.Time) time.Time { o.End("", at); return time.Time{} },
			want: kinds(state.HealthFresh, state.HealthEnded), wantHealth: state.HealthEnded,
		},
		{
			name: "an ended stream whose playlists then disappear stays ended",
			cue: func(o *detectortest.Origin, at time.Time) time.Time {
				o.End("", at)
				o.Fail("", http.StatusNotFound, at.Add(5*time.Second), time.Time{})
				return time.Time{}
			},
			want: kinds(state.HealthFresh, state.HealthEnded), wantHealth: state.HealthEnded,
		},
		{
			name: "a restart that resets the media sequence is not stale",
			cue:  func(o *detectortest.Origin, at time.Time) time.Time { o.Restart("", at); return time.Time{} },
			want: kinds(state.HealthFresh), wantHealth: state.HealthFresh,
		},
		{
			name: "GAP segments at the live edge are stale",
			cue: func(o *detectortest.Origin, at time.Time) time.Time {
				o.Gap("", at)
				// The segment under way at the cue is the last with media: listed one TD on.
				return o.LastChange("v720", at.Add(td))
			},
			want: kinds(state.HealthFresh, state.HealthStale), wantHealth: state.HealthStale,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, tc.cfg)
				o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
				e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
				// The cue falls at an odd moment, not on a poll or segment boundary.
				lastGood := tc.cue(o, time.Now().Add(10*time.Second+337*time.Millisecond))
				sum := e.run(t, "run-1", 70*time.Second)

				if diff := cmp.Diff(tc.want, e.events(t, "d1.example.com")); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				if got := e.health(t, "news", "d1.example.com"); got != tc.wantHealth {
					t.Errorf("health in the table = %s, want %s", got, tc.wantHealth)
				}
				if sum.Published != len(tc.want) || sum.Watched != 1 || sum.Errors != 0 {
					t.Errorf("summary %+v, want %d published, 1 watched, no errors", sum, len(tc.want))
				}
				msgs := e.messages(t, "d1.example.com")
				if lastGood.IsZero() || len(msgs) < 2 {
					return
				}
				failure := msgs[1]
				delay := failure.At.Sub(lastGood)
				t.Logf("%s event %s after the last good change (bound %s)", failure.Event.Event, delay, bound)
				if failure.Event.Event == state.HealthStale && delay > bound {
					t.Errorf("stale event %s after the last change, later than 1.5 x TD + one interval = %s", delay, bound)
				}
				if failure.Event.Event == state.HealthUnreachable {
					// Unreachable: MinFailures failures spanning more than 1.5 x TD since the
					// last good read, which came at most an interval before the failures began.
					if min, max := 3*td/2-interval, 3*td/2+time.Millisecond; delay <= min || delay > max {
						t.Errorf("unreachable event %s after the failures began, want in (%s, %s]", delay, min, max)
					}
				}
			})
		})
	}
}

// TestStaleEventContents checks the stale event field by field and the health record.
func TestStaleEventContents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{})
		o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		master := e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
		stallAt := time.Now().Add(20 * time.Second)
		lastChange := o.Stall("v720", stallAt)
		e.run(t, "run-1", 70*time.Second)

		msgs := e.messages(t, "d1.example.com")
		if len(msgs) != 2 {
			t.Fatalf("events %v, want fresh and stale", e.events(t, "d1.example.com"))
		}
		fresh, stale := msgs[0].Event, msgs[1].Event
		if fresh.StaleForMS != 0 || len(fresh.Playlists) != 3 {
			t.Errorf("fresh event: stale_for_ms %d, %d playlists; want 0 and 3", fresh.StaleForMS, len(fresh.Playlists))
		}
		// The live edge is the newest of the window's 6 segments, named <variant>-seg-<sequence>.ts
		// by the test origin.
		edge := func(name string, msn uint64) *contract.LiveEdge {
			return &contract.LiveEdge{Sequence: msn + 5, SegmentURI: name + "-seg-" + strconv.FormatUint(msn+5, 10) + ".ts"}
		}
		want := contract.DetectorEvent{
			Version: 1, Event: state.HealthStale, Cluster: "news", Domain: "d1.example.com", Region: testRegion,
			OriginPlaylistURL: master,
			Playlists: []contract.PlaylistDetail{
				{URL: "http://origin-eu.test/v720.m3u8", State: state.HealthStale, MediaSequence: o.MediaSequence("v720", stallAt), TargetDuration: 2,
					LiveEdge: edge("v720", o.MediaSequence("v720", stallAt)), Class: health.Video},
				{URL: "http://origin-eu.test/v360.m3u8", State: state.HealthFresh, TargetDuration: 2, Class: health.Video},
				{URL: "http://origin-eu.test/aen.m3u8", State: state.HealthFresh, TargetDuration: 2, Class: health.Audio},
			},
		}
		got := stale
		got.Playlists = append([]contract.PlaylistDetail(nil), stale.Playlists...)
		// What depends on the moment of the polls: checked below.
		for i, p := range got.Playlists {
			if i > 0 {
				name := strings.TrimSuffix(strings.TrimPrefix(p.URL, "http://origin-eu.test/"), ".m3u8")
				if diff := cmp.Diff(edge(name, p.MediaSequence), p.LiveEdge); diff != "" {
					t.Errorf("%s live_edge (-want +got):\n%s", name, diff)
				}
				got.Playlists[i].MediaSequence, got.Playlists[i].LiveEdge = 0, nil
			}
			got.Playlists[i].LastChange = time.Time{}
		}
		got.DetectedAt, got.StaleForMS, got.Sequence = time.Time{}, 0, 0
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stale event (-want +got):\n%s", diff)
		}
		if lc := stale.Playlists[0].LastChange; lc.Before(lastChange) || lc.After(lastChange.Add(interval)) {
			t.Errorf("stale playlist's last_change %s, want within an interval after the change at %s", lc, lastChange)
		}
		staleFor := time.Duration(stale.StaleForMS) * time.Millisecond
		if staleFor <= 3*td/2 || staleFor > 3*td/2+10*time.Millisecond {
			t.Errorf("stale_for_ms %d, want just over 1.5 x TD", stale.StaleForMS)
		}
		if stale.Sequence <= fresh.Sequence || stale.Sequence < stale.DetectedAt.UnixMilli() {
			t.Errorf("sequences %d then %d, want increasing and at least the detection time in ms (%d)", fresh.Sequence, stale.Sequence, stale.DetectedAt.UnixMilli())
		}
		hist, err := e.store.History(t.Context(), state.HistoryQuery{Cluster: "news", Domain: "d1.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		var health []string
		for _, r := range hist.Records {
			if r.Field == state.FieldHealth {
				health = append(health, r.Before+"->"+r.After)
				if !strings.Contains(r.By, ":function:detector") || !strings.Contains(r.Reason, "sequence") {
					t.Errorf("health record by %q, reason %q; want the function and the event's sequence", r.By, r.Reason)
				}
			}
		}
		if diff := cmp.Diff([]string{"fresh->stale", "unknown->fresh"}, health); diff != "" {
			t.Errorf("health audit records, newest first (-want +got):\n%s", diff)
		}
	})
}

// TestGapEventLiveEdge: when the encoder fails and the packager keeps listing EXT-X-GAP
// segments, the stale event's live edge is the newest segment with media, not the newest
// listed, so Confirm sees the gaps as no progress too.
func TestGapEventLiveEdge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{})
		o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
		cue := time.Now().Add(10*time.Second + 337*time.Millisecond)
		o.Gap("", cue)
		// The segment under way at the cue is the last with media: listed one TD on, as the
		// newest of the window's 6 at that moment.
		lastMedia := o.LastChange("v720", cue.Add(td))
		e.run(t, "run-1", 70*time.Second)

		msgs := e.messages(t, "d1.example.com")
		if len(msgs) != 2 || msgs[1].Event.Event != state.HealthStale {
			t.Fatalf("events %v, want fresh and stale", e.events(t, "d1.example.com"))
		}
		for _, p := range msgs[1].Event.Playlists {
			name := strings.TrimSuffix(strings.TrimPrefix(p.URL, "http://origin-eu.test/"), ".m3u8")
			seq := o.MediaSequence(name, lastMedia) + 5
			want := &contract.LiveEdge{Sequence: seq, SegmentURI: name + "-seg-" + strconv.FormatUint(seq, 10) + ".ts"}
			if diff := cmp.Diff(want, p.LiveEdge); diff != "" {
				t.Errorf("%s live_edge (-want +got):\n%s", name, diff)
			}
			if p.LiveEdge != nil && p.LiveEdge.Sequence >= p.MediaSequence+5 {
				t.Errorf("%s: live edge %d is the newest listed segment (media sequence %d, window 6): want it before the gaps",
					name, p.LiveEdge.Sequence, p.MediaSequence)
			}
		}
	})
}

// TestColdStart: with no memory and an origin that never answers, the instance stays unknown
// (no event) until MinFailures failures span more than 1.5 x the cold target duration.
func TestColdStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{})
		o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		start := time.Now()
		o.Fail("master", http.StatusForbidden, start, time.Time{})
		e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
		e.run(t, "run-1", 70*time.Second)
		msgs := e.messages(t, "d1.example.com")
		if len(msgs) != 1 || msgs[0].Event.Event != state.HealthUnreachable {
			t.Fatalf("events %v, want one unreachable", e.events(t, "d1.example.com"))
		}
		cold := 3 * detector.DefaultColdTargetDuration / 2
		if after := msgs[0].At.Sub(start); after <= cold || after > cold+detector.DefaultColdPollInterval+time.Millisecond {
			t.Errorf("unreachable %s after the first failure, want just over %s", after, cold)
		}
		if p := msgs[0].Event.Playlists; len(p) != 1 || p[0].URL != "http://origin-eu.test/master.m3u8" || p[0].TargetDuration != 0 {
			t.Errorf("playlists %+v, want the origin URL alone, never read", p)
		}
	})
}

// TestColdStartOneVariantMissing: a variant that 404s from the start keeps the instance
// unknown until the rule holds for it, then unreachable, although the others are fresh.
func TestColdStartOneVariantMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{})
		o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		start := time.Now()
		o.Fail("v360", http.StatusNotFound, start, time.Time{})
		e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
		e.run(t, "run-1", 70*time.Second)
		msgs := e.messages(t, "d1.example.com")
		if len(msgs) != 1 || msgs[0].Event.Event != state.HealthUnreachable {
			t.Fatalf("events %v, want one unreachable", e.events(t, "d1.example.com"))
		}
		// The instance's known target duration (2 s) makes the cold threshold 3 s.
		if after := msgs[0].At.Sub(start); after <= 3*td/2 || after > 3*td/2+interval+time.Millisecond {
			t.Errorf("unreachable %s after the first failure, want just over %s", after, 3*td/2)
		}
	})
}

// TestRediscovery: a variant added to the master is polled after the next master read, and its
// stall is detected; the origin URL may also be a media playlist.
func TestRediscovery(t *testing.T) {
	t.Run("variant added to the master", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			go func() {
				time.Sleep(15 * time.Second)
				o.AddVariant(detectortest.Variant{Name: "v1080", Attrs: `BANDWIDTH=6000000,RESOLUTION=1920x1080`})
				o.Stall("v1080", time.Now().Add(10*time.Second))
			}()
			e.run(t, "run-1", 70*time.Second)
			if diff := cmp.Diff(kinds(state.HealthFresh, state.HealthStale), e.events(t, "d1.example.com")); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
			msgs := e.messages(t, "d1.example.com")
			if p := msgs[1].Event.Playlists; len(p) != 4 || p[2].URL != "http://origin-eu.test/v1080.m3u8" || p[2].State != state.HealthStale {
				t.Errorf("stale event playlists %+v, want v1080 stale among 4", p)
			}
			if n, busted := o.Requests("/master.m3u8"); n < 5 || n > 8 || busted == 0 {
				t.Errorf("master read %d times in 65 s, want every 10 s; %d cache-busted requests", n, busted)
			}
		})
	})
	t.Run("origin URL is a media playlist", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.mu.Lock()
			e.origins["origin-eu.test"] = o
			e.mu.Unlock()
			if _, err := e.store.Register(t.Context(), state.Registration{Cluster: "news", Domain: "d1.example.com", Region: testRegion,
				DistributionPlaylistURL: "https://d1.example.com/v720.m3u8", OriginPlaylistURL: "http://origin-eu.test/v720.m3u8"},
				state.Change{By: "local:test"}); err != nil {
				t.Fatal(err)
			}
			o.Stall("v720", time.Now().Add(20*time.Second))
			e.run(t, "run-1", 70*time.Second)
			if diff := cmp.Diff(kinds(state.HealthFresh, state.HealthStale), e.events(t, "d1.example.com")); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if n, _ := o.Requests("/v720.m3u8"); n > 70 {
				t.Errorf("media playlist read %d times in 65 s: read as a master too often", n)
			}
		})
	})
}

// TestOtherRegionsAreLeftAlone: only the detector's own region's instances are polled.
func TestOtherRegionsAreLeftAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{})
		mine := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		theirs := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", mine)
		e.addInstance("news", "d2.example.com", "us-east-1", "origin-us.test", theirs)
		sum := e.run(t, "run-1", 20*time.Second)
		if n, _ := theirs.Requests("/master.m3u8"); n != 0 {
			t.Errorf("the other region's origin got %d requests", n)
		}
		if sum.Instances != 1 || len(e.events(t, "d2.example.com")) != 0 {
			t.Errorf("summary %+v, events %v for the other region; want 1 instance and none", sum, e.events(t, "d2.example.com"))
		}
	})
}

// TestPublishFailures: a failed publish is retried with the same sequence, within the Run and
// by the next Run, and the health is recorded once it went out.
func TestPublishFailures(t *testing.T) {
	t.Run("retried within the run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			var tried []int64
			e.topic.Fail = func(n int, in topic.Message) error {
				tried = append(tried, seqOf(t, in))
				if n >= 2 && n <= 4 {
					return errors.New("simulated SNS outage")
				}
				return nil
			}
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			o.Stall("", time.Now().Add(20*time.Second))
			sum := e.run(t, "run-1", 70*time.Second)
			if diff := cmp.Diff(kinds(state.HealthFresh, state.HealthStale), e.events(t, "d1.example.com")); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
			if len(tried) != 5 || tried[1] != tried[2] || tried[2] != tried[3] || tried[3] != tried[4] {
				t.Errorf("publish attempts carried sequences %v, want fresh then 4 tries of one sequence", tried)
			}
			if sum.Errors != 3 || e.health(t, "news", "d1.example.com") != state.HealthStale {
				t.Errorf("errors %d, health %s; want 3 and stale", sum.Errors, e.health(t, "news", "d1.example.com"))
			}
		})
	})
	t.Run("left to the next run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, detector.Config{})
			var down atomic.Bool
			var tried []int64
			e.topic.Fail = func(n int, in topic.Message) error {
				tried = append(tried, seqOf(t, in))
				if down.Load() {
					return errors.New("simulated SNS outage")
				}
				return nil
			}
			o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
			e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
			o.Stall("", time.Now().Add(20*time.Second))
			go func() { time.Sleep(15 * time.Second); down.Store(true) }()
			e.run(t, "run-1", 70*time.Second)
			if diff := cmp.Diff(kinds(state.HealthFresh), e.events(t, "d1.example.com")); diff != "" {
				t.Fatalf("events of the first run (-want +got):\n%s", diff)
			}
			if h := e.health(t, "news", "d1.example.com"); h != state.HealthFresh {
				t.Errorf("health %s before the stale event went out, want fresh", h)
			}
			if doc := e.memoryDoc(t, "news", "d1.example.com"); !strings.Contains(doc, `"pending"`) {
				t.Fatalf("memory after the first run holds no pending event: %s", doc)
			}
			claimed := tried[len(tried)-1]
			down.Store(false)
			e.run(t, "run-2", 70*time.Second)
			msgs := e.messages(t, "d1.example.com")
			if len(msgs) != 2 || msgs[1].Event.Event != state.HealthStale || msgs[1].Event.Sequence != claimed {
				t.Fatalf("events %v, want the stale event claimed by the first run, sequence %d", e.events(t, "d1.example.com"), claimed)
			}
			if h := e.health(t, "news", "d1.example.com"); h != state.HealthStale {
				t.Errorf("health %s, want stale", h)
			}
			if doc := e.memoryDoc(t, "news", "d1.example.com"); strings.Contains(doc, `"pending"`) {
				t.Errorf("memory still holds a pending event: %s", doc)
			}
		})
	})
}

func seqOf(t *testing.T, in topic.Message) int64 {
	ev, err := contract.ParseDetectorEvent([]byte(in.Body))
	if err != nil {
		t.Fatalf("published message: %v", err)
	}
	return ev.Sequence
}

// savesFailAfter is the detector's memory whose saves fail, like a table out of reach, once
// down says so.
type savesFailAfter struct {
	detector.MemoryStore
	down *atomic.Bool
}

func (s savesFailAfter) SaveDetector(ctx context.Context, cluster, domain string, data []byte, prev int64) (int64, error) {
	if s.down.Load() {
		return 0, errors.New("simulated state table outage")
	}
	return s.MemoryStore.SaveDetector(ctx, cluster, domain, data, prev)
}

// TestRepublishAfterAFailedSave: a transition is published at least once, not exactly once.
// When the memory cannot record that the claimed event went out, the next Run publishes it
// again with the same sequence, so the trigger derives the same execution name and starts no
// second workflow (template.yaml's DetectorFunction comment says this).
func TestRepublishAfterAFailedSave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, detector.Config{})
		var down atomic.Bool
		e.topic.Fail = func(n int, in topic.Message) error {
			if seqOf(t, in) > 0 && strings.Contains(in.Body, `"event":"stale"`) {
				down.Store(true) // the claim was saved; what follows is not
			}
			return nil
		}
		o := detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		e.addInstance("news", "d1.example.com", testRegion, "origin-eu.test", o)
		o.Stall("", time.Now().Add(20*time.Second))
		run := func(owner string) {
			d, err := detector.New(e.cfg, detector.Deps{Registry: e.store, Memory: savesFailAfter{e.memory, &down}, Publisher: e.topic,
				Getter: detector.NewGetter(e.net.Client(), e.cfg), Log: e.log})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 70*time.Second)
			defer cancel()
			if _, err := d.Run(ctx, detector.Invocation{Owner: owner, By: "arn:aws:lambda:eu-west-1:123456789012:function:detector"}); err != nil {
				t.Fatal(err)
			}
		}
		run("run-1")
		down.Store(false)
		e.topic.Fail = nil
		run("run-2")
		// (Not e.messages, which wants every sequence new.)
		var msgs []detectortest.Message
		var got []string
		for _, m := range e.topic.Messages() {
			if m.Err != nil {
				t.Fatalf("malformed message published: %v", m.Err)
			}
			msgs, got = append(msgs, m), append(got, string(m.Event.Event))
		}
		if diff := cmp.Diff(kinds(state.HealthFresh, state.HealthStale, state.HealthStale), got); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		first, again := msgs[1].Event, msgs[2].Event
		if first.Sequence != again.Sequence || contract.ExecutionName(first) != contract.ExecutionName(again) {
			t.Errorf("republished with sequence %d (execution %s), first %d (%s); want the same",
				again.Sequence, contract.ExecutionName(again), first.Sequence, contract.ExecutionName(first))
		}
	})
}
