package detector

import (
	"fmt"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// TestWatcherHealthIsViewsVerdict checks that the watcher's health, taken without views, is the
// health of the verdict on its views, for the states a playlist or the origin URL goes through.
func TestWatcherHealthIsViewsVerdict(t *testing.T) {
	cfg, err := Config{Region: "r", TopicARN: "t"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	body := func(msn int, end bool) []byte {
		b := fmt.Sprintf("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXTINF:2.0,\ns%d.ts\n", msn, msn)
		if end {
			b += "#EXT-X-ENDLIST\n"
		}
		return []byte(b)
	}
	// Each step observes one playlist's tracker; nil observes nothing.
	type step func(p *playlist)
	observe := func(after time.Duration, status int, b []byte) step {
		return func(p *playlist) {
			rep := p.tr.Observe(hls.Observation{At: at.Add(after), Status: status, Body: b})
			if rep.Err != nil && p.tr.Snapshot().LastGood.IsZero() && p.firstFailure.IsZero() {
				p.firstFailure = at.Add(after)
			}
		}
	}
	for _, tc := range []struct {
		name string
		want state.Health
		// steps per playlist; no playlists means only the origin URL, failing masterFailures
		// times over masterDown.
		steps          [][]step
		classes        []class
		masterFailures int
		masterDown     time.Duration
	}{
		{want: state.HealthUnknown, name: "origin URL never failed"},
		{want: state.HealthUnknown, name: "origin URL failed once", masterFailures: 1, masterDown: 0},
		{want: state.HealthUnreachable, name: "origin URL failed long enough", masterFailures: 3, masterDown: time.Minute},
		{want: state.HealthUnknown, name: "not polled", steps: [][]step{nil, nil}, classes: []class{classVideo, classAudio}},
		{want: state.HealthFresh, name: "fresh", steps: [][]step{{observe(0, 200, body(1, false))}, {observe(0, 200, body(5, false))}}, classes: []class{classVideo, classAudio}},
		{want: state.HealthStale, name: "one stale", steps: [][]step{{observe(0, 200, body(1, false)), observe(10*time.Second, 200, body(1, false))}, {observe(0, 200, body(5, false)), observe(10*time.Second, 200, body(6, false))}}, classes: []class{classVideo, classVideo}},
		{want: state.HealthUnreachable, name: "unreachable after a read", steps: [][]step{{observe(0, 200, body(1, false)), observe(5*time.Second, 503, nil), observe(10*time.Second, 503, nil)}}, classes: []class{classVideo}},
		{want: state.HealthUnknown, name: "never read, failing briefly", steps: [][]step{{observe(0, 404, nil), observe(time.Second, 404, nil)}}, classes: []class{classAudio}},
		{want: state.HealthUnreachable, name: "never read, failing long", steps: [][]step{{observe(0, 404, nil), observe(time.Minute, 404, nil)}, {observe(0, 200, body(1, false))}}, classes: []class{classAudio, classVideo}},
		{want: state.HealthEnded, name: "ended", steps: [][]step{{observe(0, 200, body(1, true))}, {observe(0, 200, body(1, true))}}, classes: []class{classVideo, classAudio}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &watcher{cfg: cfg, inst: state.Instance{OriginPlaylistURL: "https://o.example/master.m3u8"}}
			w.doc.MasterFailures, w.doc.MasterFailSince, w.masterLastFail = tc.masterFailures, at, at.Add(tc.masterDown)
			for i, steps := range tc.steps {
				tr, err := hls.NewTracker(cfg.Tracker)
				if err != nil {
					t.Fatal(err)
				}
				p := &playlist{url: fmt.Sprintf("https://o.example/p%d.m3u8", i), class: tc.classes[i], tr: tr}
				for _, s := range steps {
					s(p)
				}
				w.lists = append(w.lists, p)
			}
			want := decide(w.views(), tolerance{classVideo: cfg.VideoTolerance, classAudio: cfg.AudioTolerance}).Health
			got := w.health()
			if got != want {
				t.Errorf("health %s, verdict on the views %s", got, want)
			}
			if got != tc.want {
				t.Errorf("health %s, want %s", got, tc.want)
			}
		})
	}
}
