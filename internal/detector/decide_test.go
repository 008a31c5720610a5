package detector

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// The instance-health rule (decide) is health.Decide, tested in internal/health.

func TestDiscover(t *testing.T) {
	base, _ := url.Parse("https://origin.example.com/live/news/master.m3u8?_cvs_nocache=1")
	for _, tc := range []struct {
		name   string
		master string
		max    int
		want   []target
		// omitted is how many playlists the maximum left out.
		omitted int
		err     string
	}{
		{
			name: "variants, an audio rendition, subtitles and I-frames",
			master: `#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio/en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="muxed",DEFAULT=YES
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="en",URI="subs/en.m3u8"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="en",INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"
720p.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2",AUDIO="aud"
audio-only.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="aud"
/abs/360p.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI="iframes.m3u8"
`,
			max: 32,
			want: []target{
				{"https://origin.example.com/live/news/720p.m3u8", classVideo},
				{"https://origin.example.com/abs/360p.m3u8", classVideo},
				{"https://origin.example.com/live/news/audio-only.m3u8", classAudio},
				{"https://origin.example.com/live/news/audio/en.m3u8", classAudio},
			},
		},
		{
			name: "the same playlist in two variants is polled once",
			master: `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=3000000,AUDIO="a"
v.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3100000,AUDIO="b"
v.m3u8
`,
			max:  32,
			want: []target{{"https://origin.example.com/live/news/v.m3u8", classVideo}},
		},
		{
			name: "a variant without CODECS counts as video; a VIDEO rendition is video",
			master: `#EXTM3U
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="cam",NAME="angle2",URI="https://cdn.example.net/angle2.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3000000,VIDEO="cam"
v.m3u8
`,
			max: 32,
			want: []target{
				{"https://origin.example.com/live/news/v.m3u8", classVideo},
				{"https://cdn.example.net/angle2.m3u8", classVideo},
			},
		},
		{
			name: "more than the maximum keeps a playlist of every class and counts the rest",
			master: `#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="fr",URI="fr.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="aud"
a.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2,AUDIO="aud"
b.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3,AUDIO="aud"
c.m3u8
`,
			max: 2,
			want: []target{
				{"https://origin.example.com/live/news/a.m3u8", classVideo},
				{"https://origin.example.com/live/news/en.m3u8", classAudio},
			},
			omitted: 3,
		},
		{
			name:    "32 video variants and an audio rendition keep the audio",
			master:  "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"en.m3u8\"\n" + videoLadder(32),
			max:     32,
			want:    append(videoTargets(31), target{"https://origin.example.com/live/news/en.m3u8", classAudio}),
			omitted: 1,
		},
		{
			name:   "a maximum of one keeps video",
			master: "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"en.m3u8\"\n" + videoLadder(2),
			max:    1, want: videoTargets(1), omitted: 2,
		},
		{
			name:   "audio only beyond the maximum",
			master: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"mp4a.40.2\"\na1.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2,CODECS=\"mp4a.40.2\"\na2.m3u8\n",
			max:    1, want: []target{{"https://origin.example.com/live/news/a1.m3u8", classAudio}}, omitted: 1,
		},
		{
			name: "a URI that does not resolve to http(s) is refused",
			master: `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1
ftp://example.com/a.m3u8
`,
			max: 32,
			err: "line 3 EXT-X-STREAM-INF",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := hls.ParseMaster([]byte(tc.master))
			if err != nil {
				t.Fatal(err)
			}
			got, omitted, err := discover(base, m, tc.max)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("discover: %v, want an error mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("discover (-want +got):\n%s", diff)
			}
			if omitted != tc.omitted {
				t.Errorf("discover omitted %d, want %d", omitted, tc.omitted)
			}
		})
	}
}

func TestVariantClass(t *testing.T) {
	for _, tc := range []struct {
		attrs string
		want  class
	}{
		{`BANDWIDTH=1,CODECS="mp4a.40.2"`, classAudio},
		{`BANDWIDTH=1,CODECS="ec-3,mp4a.40.5"`, classAudio},
		{`BANDWIDTH=1,CODECS="Opus"`, classAudio},
		{`BANDWIDTH=1,CODECS="avc1.64001f,mp4a.40.2"`, classVideo},
		{`BANDWIDTH=1,CODECS="hvc1.2.4.L123.B0"`, classVideo},
		{`BANDWIDTH=1,RESOLUTION=1x1,CODECS="mp4a.40.2"`, classVideo},
		{`BANDWIDTH=1`, classVideo},
		{`BANDWIDTH=1,CODECS="mp4a.40.2,wvtt"`, classVideo},
	} {
		t.Run(tc.attrs, func(t *testing.T) {
			l, err := hls.ParseAttrList(tc.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if got := variantClass(l); got != tc.want {
				t.Errorf("variantClass = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDecodeMemory(t *testing.T) {
	for _, tc := range []struct {
		name, doc, err string
	}{
		{"empty is a new memory", "", ""},
		{"a minimal document", `{"v":1}`, ""},
		{"not JSON", `{"v":1,`, "decode JSON"},
		{"two documents", `{"v":1}{"v":1}`, "has data after the object"},
		{"a trailing brace", `{"v":1}}`, "has data after the object"},
		{"a key in capitals", `{"v":1,"SEQ":5}`, `unknown field "SEQ"`},
		{"a key twice", `{"v":1,"seq":1,"seq":9}`, `duplicate field "seq"`},
		{"a key in another case inside the pending event", `{"v":1,"seq":5,"pending":{"event":{"version":1,"CLUSTER":"c"}}}`, `field "pending.event": unknown field "CLUSTER"`},
		{"another version", `{"v":2}`, "version 2"},
		{"unknown field", `{"v":1,"x":1}`, "unknown field"},
		{"negative sequence", `{"v":1,"seq":-1}`, "negative sequence"},
		{"bad published kind", `{"v":1,"published":{"event":"sad","seq":1,"at":"2025-01-01T00:00:00Z"}}`, "published event kind"},
		{"pending event that breaks the contract", `{"v":1,"seq":5,"pending":{"event":{"version":1,"event":"stale"}}}`, "pending event"},
		{"playlist of an unknown class", `{"v":1,"playlists":[{"url":"http://o.test/a.m3u8","class":"smell","tracker":{"v":1}}]}`, "class"},
		{"too large", `{"v":1,"origin":"` + strings.Repeat("x", MaxMemoryBytes) + `"}`, "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeMemory([]byte(tc.doc))
			var me *MemoryError
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("decodeMemory: %v, want no error", err)
			case tc.err != "" && (!errors.As(err, &me) || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("decodeMemory: %v, want *MemoryError mentioning %q", err, tc.err)
			}
		})
	}
}

func TestMemoryRoundTrip(t *testing.T) {
	tr, err := hls.NewTracker(hls.TrackerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tr.Observe(hls.Observation{At: at, Status: 200, Body: []byte("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:6.0,\na.ts\n")})
	doc := memoryDoc{Version: memoryVersion, Owner: "run", LeaseUntil: at.Add(time.Minute), Sequence: 1740830400000,
		Published: &publishedRef{Event: "fresh", Sequence: 1740830400000, At: at},
		Origin:    "http://o.test/master.m3u8", MasterHash: "abc",
		Playlists: []playlistMemory{{URL: "http://o.test/a.m3u8", Class: classVideo, Tracker: tr.Snapshot()}}}
	b, err := encodeMemory(doc)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeMemory(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(doc, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := hls.RestoreTracker(hls.TrackerConfig{}, back.Playlists[0].Tracker); err != nil {
		t.Errorf("restore the tracker: %v", err)
	}
	t.Logf("memory of one instance with one playlist: %d bytes", len(b))
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"AWS_REGION": "eu-west-1", "TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:cvs-detector"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want func(c *Config)
		err  string
	}{
		{name: "defaults", want: func(c *Config) {}},
		{name: "everything set", env: map[string]string{"REGION": "us-east-1", "POLL_FACTOR": "0.25", "MIN_POLL_INTERVAL": "750ms",
			"MASTER_INTERVAL": "30s", "REQUEST_TIMEOUT": "1s", "MAX_CONCURRENCY": "16", "MAX_PLAYLISTS": "8", "RUN_FOR": "55s",
			"MARGIN": "3s", "STALE_MULTIPLIER": "2", "MIN_FAILURES": "3", "VIDEO_TOLERANCE": "1", "AUDIO_TOLERANCE": "2",
			"COLD_TARGET_DURATION": "10s", "MAX_PLAYLIST_BYTES": "33554432"},
			want: func(c *Config) {
				c.Region, c.PollFactor, c.MinPoll, c.MasterInterval, c.RequestTimeout = "us-east-1", 0.25, 750*time.Millisecond, 30*time.Second, time.Second
				c.MaxConcurrency, c.MaxPlaylists, c.RunFor, c.Margin = 16, 8, 55*time.Second, 3*time.Second
				c.Tracker.Multiplier, c.Tracker.MinFailures, c.VideoTolerance, c.AudioTolerance = 2, 3, 1, 2
				c.ColdTargetDuration, c.Tracker.MaxBody = 10*time.Second, 32<<20
			}},
		{name: "fixed poll interval", env: map[string]string{"POLL_INTERVAL": "1s"}, want: func(c *Config) { c.PollInterval = time.Second }},
		{name: "no topic", env: map[string]string{"TOPIC_ARN": ""}, err: "topic ARN is required"},
		{name: "poll interval below 500 ms", env: map[string]string{"POLL_INTERVAL": "200ms"}, err: "below 500ms"},
		{name: "minimum poll interval below 500 ms", env: map[string]string{"MIN_POLL_INTERVAL": "100ms"}, err: "below 500ms"},
		{name: "malformed values are all reported", env: map[string]string{"POLL_FACTOR": "half", "RUN_FOR": "a minute", "VIDEO_TOLERANCE": "1.5"},
			err: `POLL_FACTOR="half"`},
		{name: "negative tolerance", env: map[string]string{"AUDIO_TOLERANCE": "-1"}, err: "tolerances"},
		{name: "too many playlists", env: map[string]string{"MAX_PLAYLISTS": "65"}, err: "max playlists"},
		{name: "a size limit that is not a number of bytes", env: map[string]string{"MAX_PLAYLIST_BYTES": "0"}, err: "MAX_PLAYLIST_BYTES"},
		{name: "multiplier out of range", env: map[string]string{"STALE_MULTIPLIER": "1000"}, err: "multiplier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			got, err := ConfigFromEnv(func(k string) string { return env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ConfigFromEnv: %v, want an error mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if tc.want == nil {
				return
			}
			want, err := Config{Region: "eu-west-1", TopicARN: base["TOPIC_ARN"]}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNextPoll: polls come every PollFactor x TD, and one comes right after the moment the
// conclusion would change.
func TestNextPoll(t *testing.T) {
	d := &Detector{}
	cfg, err := Config{Region: "r", TopicARN: "t"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	d.cfg = cfg
	w := &watcher{d: d, cfg: cfg}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		s            hls.TrackerState
		firstFailure time.Time
		start, at    time.Time
		want         time.Time
	}{
		{"fresh, far from the deadline: one interval after the start",
			hls.TrackerState{Health: state.HealthFresh, TargetDurationMS: 6000, LastChange: t0, LastGood: t0.Add(time.Second)},
			time.Time{}, t0.Add(time.Second), t0.Add(time.Second + 20*time.Millisecond), t0.Add(4 * time.Second)},
		{"fresh, deadline before the next interval: just after the deadline",
			hls.TrackerState{Health: state.HealthFresh, TargetDurationMS: 6000, LastChange: t0, LastGood: t0.Add(7 * time.Second)},
			time.Time{}, t0.Add(7 * time.Second), t0.Add(7*time.Second + 20*time.Millisecond), t0.Add(9*time.Second + deadlineSlack)},
		{"failing: just after the unreachable deadline",
			hls.TrackerState{Health: state.HealthFresh, TargetDurationMS: 6000, LastChange: t0, LastGood: t0.Add(5 * time.Second), Failures: 1},
			time.Time{}, t0.Add(13 * time.Second), t0.Add(13 * time.Second), t0.Add(14*time.Second + deadlineSlack)},
		{"stale: one interval",
			hls.TrackerState{Health: state.HealthStale, TargetDurationMS: 6000, LastChange: t0, LastGood: t0.Add(20 * time.Second)},
			time.Time{}, t0.Add(20 * time.Second), t0.Add(20 * time.Second), t0.Add(23 * time.Second)},
		{"never read: the cold interval",
			hls.TrackerState{}, time.Time{}, t0, t0.Add(10 * time.Millisecond), t0.Add(DefaultColdPollInterval)},
		{"never read and failing: just after the cold deadline when it comes first",
			hls.TrackerState{Failures: 3}, t0, t0.Add(8500 * time.Millisecond), t0.Add(8500 * time.Millisecond), t0.Add(9*time.Second + deadlineSlack)},
		{"slower than the interval: at once",
			hls.TrackerState{Health: state.HealthFresh, TargetDurationMS: 2000, LastChange: t0, LastGood: t0},
			time.Time{}, t0, t0.Add(1500 * time.Millisecond), t0.Add(1500 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &playlist{firstFailure: tc.firstFailure}
			if got := w.nextPoll(p, tc.s, tc.start, tc.at); !got.Equal(tc.want) {
				t.Errorf("nextPoll = +%s, want +%s", got.Sub(t0), tc.want.Sub(t0))
			}
		})
	}
}

// videoLadder is n video variants v0.m3u8 ... in a master, all sharing the audio group "aud".
func videoLadder(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,RESOLUTION=640x360,AUDIO=\"aud\"\nv%d.m3u8\n", 100000+i, i)
	}
	return b.String()
}

// videoTargets are the first n targets of videoLadder.
func videoTargets(n int) []target {
	var out []target
	for i := range n {
		out = append(out, target{fmt.Sprintf("https://origin.example.com/live/news/v%d.m3u8", i), classVideo})
	}
	return out
}
