package hls

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/google/go-cmp/cmp"
)

var mediaUpdate = flag.Bool("update-media", false, "rewrite the golden files under testdata/media/golden")

// mediaT0 is the time every case starts at; steps are offsets from it.
var mediaT0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// Transport errors as a fetcher would pass them on.
var (
	mediaTimeout = fmt.Errorf("get https://origin.example/out/v1/index_1.m3u8: %w", context.DeadlineExceeded)
	mediaRefused = errors.New("dial tcp 10.0.0.7:443: connect: connection refused")
)

// mediaStep is one observation of a case and what the tracker must conclude from it.
type mediaStep struct {
	at      time.Duration // since mediaT0
	status  int           // HTTP status; 0 means 200
	noHTTP  bool          // the body did not come over HTTP (Observation.Status 0)
	err     error         // transport error
	file    string        // the body: a file under testdata/media ("" for an empty body)
	want    state.Health
	changed bool
	restart bool
	wantErr string // a substring of Report.Err; "" for a good observation
}

// mediaCase is a sequence of observations of one media playlist.
type mediaCase struct {
	name  string
	cfg   TrackerConfig
	steps []mediaStep
}

// sec is a number of seconds as a duration, to the nanosecond.
func sec(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

// mediaCases is the one table of media playlist cases: the tracker tests, the snapshot round
// trip and the fuzz seeds all run it.
var mediaCases = []mediaCase{
	{name: "MediaPackage TS advancing every segment stays fresh", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(6), file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, changed: true},
		{at: sec(12), file: "mediapackage-ts-102.m3u8", want: state.HealthFresh, changed: true},
		{at: sec(15), file: "mediapackage-ts-102.m3u8", want: state.HealthFresh},
	}},
	{name: "TD tag 6 with EXTINF 6.006 goes stale after 9s, not 10.5s", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(9), file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(9.001), file: "mediapackage-ts-100.m3u8", want: state.HealthStale},
		{at: sec(10.5), file: "mediapackage-ts-100.m3u8", want: state.HealthStale},
		{at: sec(12), file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, changed: true},
	}},
	{name: "MediaLive TS across a discontinuity stays fresh", steps: []mediaStep{
		{at: 0, file: "medialive-ts-200.m3u8", want: state.HealthFresh},
		{at: sec(6), file: "medialive-ts-201.m3u8", want: state.HealthFresh, changed: true},
		{at: sec(48), file: "medialive-ts-208.m3u8", want: state.HealthFresh, changed: true},
	}},
	{name: "fMP4 with EXT-X-MAP goes stale after 1.5 x TD 4", steps: []mediaStep{
		{at: 0, file: "fmp4-cmaf-50.m3u8", want: state.HealthFresh},
		{at: sec(4), file: "fmp4-cmaf-51.m3u8", want: state.HealthFresh, changed: true},
		{at: sec(10), file: "fmp4-cmaf-51.m3u8", want: state.HealthFresh},
		{at: sec(10.001), file: "fmp4-cmaf-51.m3u8", want: state.HealthStale},
	}},
	{name: "LL-HLS new part is progress, a preload hint is not", steps: []mediaStep{
		{at: 0, file: "llhls-272-part1.m3u8", want: state.HealthFresh},
		{at: sec(1), file: "llhls-272-part2.m3u8", want: state.HealthFresh, changed: true},
		{at: sec(2), file: "llhls-272-part2-nohint.m3u8", want: state.HealthFresh},
		{at: sec(7), file: "llhls-272-part2-nohint.m3u8", want: state.HealthFresh},
		{at: sec(7.001), file: "llhls-272-part2-nohint.m3u8", want: state.HealthStale},
	}},
	{name: "ended stream is never stale", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-102-endlist.m3u8", want: state.HealthEnded},
		{at: sec(3600), file: "mediapackage-ts-102-endlist.m3u8", want: state.HealthEnded},
		{at: sec(7200), status: 404, file: "error-503.html", want: state.HealthEnded, wantErr: "HTTP status 404"},
		{at: sec(7260), status: 404, file: "error-503.html", want: state.HealthEnded, wantErr: "HTTP status 404"},
	}},
	{name: "GAP at the live edge is no progress", steps: []mediaStep{
		{at: 0, file: "gap-300.m3u8", want: state.HealthFresh},
		{at: sec(6), file: "gap-301-edge1.m3u8", want: state.HealthFresh},
		{at: sec(9), file: "gap-301-edge1.m3u8", want: state.HealthFresh},
		{at: sec(12), file: "gap-302-edge2.m3u8", want: state.HealthStale},
		{at: sec(18), file: "gap-303-recovered.m3u8", want: state.HealthFresh, changed: true},
	}},
	{name: "GAP at the live edge on the first observation counts from before the gap", steps: []mediaStep{
		{at: 0, file: "gap-301-edge1.m3u8", want: state.HealthFresh},
		{at: sec(3), file: "gap-301-edge1.m3u8", want: state.HealthStale},
	}},
	{name: "two GAP segments at the live edge on the first observation are stale", steps: []mediaStep{
		{at: 0, file: "gap-302-edge2.m3u8", want: state.HealthStale},
	}},
	{name: "restart with media sequence reset is flagged, and progress once it advances", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-102.m3u8", want: state.HealthFresh},
		{at: sec(6), file: "restart-0.m3u8", want: state.HealthFresh, restart: true},
		{at: sec(8), file: "restart-1.m3u8", want: state.HealthFresh, changed: true},
		{at: sec(14), file: "restart-1.m3u8", want: state.HealthFresh},
		{at: sec(17.5), file: "restart-1.m3u8", want: state.HealthStale},
	}},
	{name: "restart that never advances goes stale on time", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-102.m3u8", want: state.HealthFresh},
		{at: sec(6), file: "restart-0.m3u8", want: state.HealthFresh, restart: true},
		{at: sec(9.5), file: "restart-0.m3u8", want: state.HealthStale},
	}},
	{name: "discontinuity sequence going back is a restart", steps: []mediaStep{
		{at: 0, file: "medialive-ts-201.m3u8", want: state.HealthFresh},
		{at: sec(6), file: "medialive-ts-restart-260.m3u8", want: state.HealthFresh, restart: true},
	}},
	{name: "two frozen copies answering in turn go stale on time", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-101.m3u8", want: state.HealthFresh},
		{at: sec(3), file: "mediapackage-ts-100.m3u8", want: state.HealthFresh, restart: true},
		{at: sec(6), file: "mediapackage-ts-101.m3u8", want: state.HealthFresh},
		{at: sec(9), file: "mediapackage-ts-100.m3u8", want: state.HealthFresh, restart: true},
		{at: sec(9.5), file: "mediapackage-ts-101.m3u8", want: state.HealthStale},
		{at: sec(12), file: "mediapackage-ts-100.m3u8", want: state.HealthStale, restart: true},
		{at: sec(15), file: "mediapackage-ts-101.m3u8", want: state.HealthStale},
	}},
	{name: "a live copy alternating with a frozen one stays fresh while it advances", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-101.m3u8", want: state.HealthFresh},
		{at: sec(3), file: "mediapackage-ts-100.m3u8", want: state.HealthFresh, restart: true},
		{at: sec(6), file: "mediapackage-ts-102.m3u8", want: state.HealthFresh, changed: true},
		{at: sec(9), file: "mediapackage-ts-100.m3u8", want: state.HealthFresh, restart: true},
		{at: sec(12), file: "mediapackage-ts-102.m3u8", want: state.HealthFresh},
		{at: sec(15.5), file: "mediapackage-ts-102.m3u8", want: state.HealthStale},
	}},
	{name: "TD 2 with 10 s segments is judged by the segments while it advances", steps: []mediaStep{
		{at: 0, file: "td2-extinf10-50.m3u8", want: state.HealthFresh},
		{at: sec(5), file: "td2-extinf10-50.m3u8", want: state.HealthFresh},
		{at: sec(10), file: "td2-extinf10-51.m3u8", want: state.HealthFresh, changed: true},
		{at: sec(25), file: "td2-extinf10-51.m3u8", want: state.HealthFresh},
		{at: sec(25.001), file: "td2-extinf10-51.m3u8", want: state.HealthStale},
	}},
	{name: "single 503 changes nothing", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(3), status: 503, file: "error-503.html", want: state.HealthFresh, wantErr: "HTTP status 503"},
		{at: sec(6), file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, changed: true},
	}},
	{name: "single failure a minute after the last poll changes nothing", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(60), err: mediaTimeout, want: state.HealthFresh, wantErr: "deadline exceeded"},
		{at: sec(120), err: mediaRefused, want: state.HealthUnreachable, wantErr: "connection refused"},
		{at: sec(180), file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, changed: true},
	}},
	{name: "404 body is never parsed", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		// A playlist body that advanced, behind a 404: if it were read, the next 200 with the
		// old playlist would be a restart.
		{at: sec(6), status: 404, file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, wantErr: "HTTP status 404"},
		{at: sec(8), file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
	}},
	{name: "failures for more than 1.5 x TD since the last good observation are unreachable", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(3), status: 503, file: "error-503.html", want: state.HealthFresh, wantErr: "HTTP status 503"},
		{at: sec(6), err: mediaTimeout, want: state.HealthFresh, wantErr: "deadline exceeded"},
		{at: sec(9), status: 502, want: state.HealthFresh, wantErr: "HTTP status 502"},
		{at: sec(9.5), status: 503, file: "error-503.html", want: state.HealthUnreachable, wantErr: "HTTP status 503"},
		{at: sec(12), file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, changed: true},
	}},
	{name: "HTML error page with status 200 is a failure, never fresh", steps: []mediaStep{
		{at: 0, file: "error-503.html", want: state.HealthUnreachable, wantErr: "not a media playlist: line 1: does not start with #EXTM3U"},
		{at: sec(6), file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(9), file: "error-503.html", want: state.HealthFresh, wantErr: "not a media playlist"},
		{at: sec(15.5), file: "error-503.html", want: state.HealthUnreachable, wantErr: "not a media playlist"},
	}},
	{name: "master playlist is not a media playlist", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(6), file: "master.m3u8", want: state.HealthFresh, wantErr: "not a media playlist: line 4 #EXT-X-STREAM-INF: a master playlist tag"},
		{at: sec(10), file: "master.m3u8", want: state.HealthUnreachable, wantErr: "line 4 #EXT-X-STREAM-INF"},
	}},
	{name: "gzipped and empty bodies are failures", steps: []mediaStep{
		{at: 0, file: "gzipped-playlist.bin", want: state.HealthUnreachable, wantErr: "line 1: control character"},
		{at: sec(1), want: state.HealthUnreachable, wantErr: "empty body"},
	}},
	{name: "malformed playlists are refused with the line and tag", steps: []mediaStep{
		{at: 0, file: "malformed-targetduration.m3u8", want: state.HealthUnreachable, wantErr: `line 3 #EXT-X-TARGETDURATION: "six" is not a decimal number`},
		{at: sec(1), file: "missing-targetduration.m3u8", want: state.HealthUnreachable, wantErr: "no #EXT-X-TARGETDURATION"},
		{at: sec(1.5), file: "td-fraction.m3u8", want: state.HealthUnreachable, wantErr: `line 3 #EXT-X-TARGETDURATION: "0.001" is not a decimal integer`},
		{at: sec(1.7), file: "td-zero.m3u8", want: state.HealthUnreachable, wantErr: `line 3 #EXT-X-TARGETDURATION: must be positive`},
	}},
	// A #WV- line is a comment (RFC 8216 4.1); github.com/grafov/m3u8 v0.12.1 panics on it.
	{name: "a Widevine comment line is ignored", steps: []mediaStep{
		{at: 0, file: "widevine-tag.m3u8", want: state.HealthFresh},
	}},
	{name: "blank line after EXT-X-KEY is read, not a crash", steps: []mediaStep{
		{at: 0, file: "blank-line-after-key.m3u8", want: state.HealthFresh},
	}},
	{name: "oversized body is left unjudged, never unreachable", cfg: TrackerConfig{MaxBody: 512}, steps: []mediaStep{
		{at: 0, file: "restart-0.m3u8", want: state.HealthFresh},
		{at: sec(3), file: "mediapackage-ts-101.m3u8", want: "", wantErr: "body larger than 512 bytes"},
		{at: sec(6), err: &TooLargeError{Limit: 512}, want: "", wantErr: "body larger than 512 bytes"},
		{at: sec(9.5), file: "mediapackage-ts-101.m3u8", want: "", wantErr: "body larger than 512 bytes"},
		{at: sec(60), err: &TooLargeError{Limit: 512}, want: "", wantErr: "body larger than 512 bytes"},
	}},
	{name: "oversized body on the first observation is left unjudged", cfg: TrackerConfig{MaxBody: 512}, steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-101.m3u8", want: "", wantErr: "body larger than 512 bytes"},
		{at: sec(30), file: "mediapackage-ts-101.m3u8", want: "", wantErr: "body larger than 512 bytes"},
	}},
	{name: "304 Not Modified repeats the last good playlist", steps: []mediaStep{
		{at: 0, status: 304, want: state.HealthUnreachable, wantErr: "HTTP status 304"},
		{at: sec(1), file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(4), status: 304, want: state.HealthFresh},
		{at: sec(10.5), status: 304, want: state.HealthStale},
		{at: sec(12), file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, changed: true},
	}},
	{name: "segment URIs that change only in their query are no progress", steps: []mediaStep{
		{at: 0, file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(6), file: "mediapackage-ts-100-new-token.m3u8", want: state.HealthFresh},
		{at: sec(9.5), file: "mediapackage-ts-100-new-token.m3u8", want: state.HealthStale},
	}},
	{name: "observation out of order is ignored", steps: []mediaStep{
		{at: sec(10), file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(5), file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, wantErr: "observation out of order"},
		{at: sec(11), file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, changed: true},
	}},
	{name: "body read without HTTP is judged like a 200", steps: []mediaStep{
		{at: 0, noHTTP: true, file: "mediapackage-ts-100.m3u8", want: state.HealthFresh},
		{at: sec(6), noHTTP: true, file: "mediapackage-ts-101.m3u8", want: state.HealthFresh, changed: true},
	}},
}

// mediaBody reads a step's body from testdata/media.
func mediaBody(t testing.TB, file string) []byte {
	t.Helper()
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join("testdata", "media", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s mediaStep) observation(t testing.TB) Observation {
	o := Observation{At: mediaT0.Add(s.at), Status: s.status, Err: s.err, Body: mediaBody(t, s.file)}
	switch {
	case s.noHTTP:
		o.Status = 0
	case s.status == 0:
		o.Status = 200
	}
	return o
}

// mediaRun runs a case's observations through one tracker, or, with roundTrip, through a new
// tracker restored from the JSON of the previous one's snapshot before every step.
func mediaRun(t *testing.T, c mediaCase, roundTrip bool) []Report {
	t.Helper()
	tr, err := NewTracker(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var reports []Report
	for _, s := range c.steps {
		if roundTrip {
			b, err := json.Marshal(tr.Snapshot())
			if err != nil {
				t.Fatal(err)
			}
			var st TrackerState
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			if tr, err = RestoreTracker(c.cfg, st); err != nil {
				t.Fatalf("restore from %s: %v", b, err)
			}
		}
		reports = append(reports, tr.Observe(s.observation(t)))
	}
	return reports
}

func TestTrackerMediaCases(t *testing.T) {
	for _, c := range mediaCases {
		t.Run(c.name, func(t *testing.T) {
			reports := mediaRun(t, c, false)
			for i, s := range c.steps {
				r := reports[i]
				if got, want := r.Health, s.want; got != want {
					t.Errorf("step %d (%s, %s): health %s, want %s; reason: %s", i, s.at, s.file, got, want, r.Reason)
				}
				if got, want := r.Changed, s.changed; got != want {
					t.Errorf("step %d: changed %t, want %t; reason: %s", i, got, want, r.Reason)
				}
				if got, want := r.Restart, s.restart; got != want {
					t.Errorf("step %d: restart %t, want %t", i, got, want)
				}
				switch {
				case s.wantErr == "" && r.Err != nil:
					t.Errorf("step %d: error %v, want none", i, r.Err)
				case s.wantErr != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), s.wantErr)):
					t.Errorf("step %d: error %v, want one containing %q", i, r.Err, s.wantErr)
				}
				if r.Reason == "" {
					t.Errorf("step %d: no reason", i)
				}
			}
			mediaGolden(t, c, reports)
		})
	}
}

// mediaView is a report as the golden files hold it: times as offsets from mediaT0.
type mediaView struct {
	At                    string       `json:"at"`
	Health                state.Health `json:"health"`
	Changed               bool         `json:"changed,omitempty"`
	Restart               bool         `json:"restart,omitempty"`
	Reason                string       `json:"reason"`
	Err                   string       `json:"err,omitempty"`
	MediaSequence         uint64       `json:"media_sequence"`
	DiscontinuitySequence uint64       `json:"discontinuity_sequence"`
	Segments              int          `json:"segments"`
	LastSegmentURI        string       `json:"last_segment_uri"`
	LastPartURI           string       `json:"last_part_uri,omitempty"`
	TrailingGaps          int          `json:"trailing_gaps,omitempty"`
	TargetDuration        string       `json:"target_duration"`
	Threshold             string       `json:"threshold"`
	LastChange            string       `json:"last_change"`
	LastGood              string       `json:"last_good"`
	StaleFor              string       `json:"stale_for"`
	ConsecutiveFailures   int          `json:"consecutive_failures"`
}

func mediaViews(c mediaCase, reports []Report) []mediaView {
	offset := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Sub(mediaT0).String()
	}
	var views []mediaView
	for i, r := range reports {
		e := r.Evidence
		v := mediaView{
			At: c.steps[i].at.String(), Health: r.Health, Changed: r.Changed, Restart: r.Restart, Reason: r.Reason,
			MediaSequence: e.MediaSequence, DiscontinuitySequence: e.DiscontinuitySequence, Segments: e.Segments,
			LastSegmentURI: e.LastSegmentURI, LastPartURI: e.LastPartURI, TrailingGaps: e.TrailingGaps,
			TargetDuration: e.TargetDuration.String(), Threshold: e.Threshold.String(),
			LastChange: offset(e.LastChange), LastGood: offset(e.LastGood), StaleFor: e.StaleFor.String(),
			ConsecutiveFailures: e.ConsecutiveFailures,
		}
		if r.Err != nil {
			v.Err = r.Err.Error()
		}
		views = append(views, v)
	}
	return views
}

// mediaGolden compares a case's reports with testdata/media/golden/<case>.json, which
// -update-media rewrites.
func mediaGolden(t *testing.T, c mediaCase, reports []Report) {
	t.Helper()
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, c.name)
	path := filepath.Join("testdata", "media", "golden", slug+".json")
	got := mediaViews(c, reports)
	if *mediaUpdate {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestTrackerMediaCases -update-media to create it)", err)
	}
	var want []mediaView
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reports differ from %s (-want +got):\n%s", path, diff)
	}
}
