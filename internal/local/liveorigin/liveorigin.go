// Package liveorigin is one region's simulated live HLS origin for the local runtime: a master,
// media playlists that advance with a clock, and segments from package media, with an encoder
// that can be stalled, failed, removed or ended while it runs.
package liveorigin

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/local/media"
)

// State is the state of the origin's encoder.
type State string

// The encoder states.
const (
	// Running: the playlists gain a segment every segment duration.
	Running State = "running"
	// Stalled: the playlists stop advancing and are still answered 200.
	Stalled State = "stalled"
	// Error: every request is answered 503.
	Error State = "error"
	// Missing: every request is answered 404.
	Missing State = "missing"
	// Ended: the playlists stop advancing and end with #EXT-X-ENDLIST.
	Ended State = "ended"
	// Late: every other segment (the odd-numbered ones) is listed a quarter of a segment
	// duration after its usual time, so the playlists go 1.25 segment durations without a new
	// segment, later than usual but within 1.5 x target duration.
	Late State = "late"
	// Restart: the encoder restarted: the media sequence starts again at 0 with the newest
	// segment listed at the switch, and advances with the clock from there.
	Restart State = "restart"
	// ErrorOnce: the next media playlist request is answered 503, then the encoder is Running.
	ErrorOnce State = "error-once"
)

// ParseState returns the state named s.
func ParseState(s string) (State, error) {
	switch st := State(s); st {
	case Running, Stalled, Error, Missing, Ended, Late, Restart, ErrorOnce:
		return st, nil
	}
	return "", fmt.Errorf("encoder state %q: want running, stalled, error, missing, ended, late, restart or error-once", s)
}

// Defaults for a zero Config.
const (
	DefaultSegmentDuration = 2 * time.Second
	DefaultWindow          = 6
)

// Config sets up an Origin. Origins with the same Epoch and SegmentDuration serve the same media
// sequence numbers, timestamps and durations at the same time: redundant streams.
type Config struct {
	// Label picks the picture ("REGION <Label>"), 1..media.Labels(); 0 means 1.
	Label int
	// SegmentDuration is a whole number of seconds; 0 means DefaultSegmentDuration.
	SegmentDuration time.Duration
	// Window is the number of segments a media playlist lists, at least 3; 0 means DefaultWindow.
	Window int
	// Epoch is when segment 0 starts; segment n covers [Epoch+n*D, Epoch+(n+1)*D) and is listed
	// from its end on. Required.
	Epoch time.Time
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Status is what the control API reports of an origin.
type Status struct {
	State State `json:"encoder_state"`
	// LastSequence is the media sequence number of the newest segment of the last media playlist
	// served; Served is false until one was.
	LastSequence uint64 `json:"last_media_sequence"`
	Served       bool   `json:"served"`
}

// Origin serves one region's live stream over HTTP:
//
//	/master.m3u8          the master: one variant per video rendition, one audio rendition
//	/<track>.m3u8         a media playlist (v180, v90, audio)
//	/<track>/<n>.ts       segment n of a track
//
// Every answer carries Access-Control-Allow-Origin: *. Safe for concurrent use.
type Origin struct {
	stream *media.Stream
	d      time.Duration
	window int
	epoch  time.Time
	now    func() time.Time
	master []byte
	tracks map[string]int // by name, index into stream.Tracks()

	mu     sync.Mutex
	state  State
	frozen int64 // the newest listed segment while Stalled or Ended, the floor while Late; -1: none yet
	base   int64 // while Restart: the segment listed with media sequence 0
	status Status
}

// New returns an origin in state Running.
func New(cfg Config) (*Origin, error) {
	if cfg.Label == 0 {
		cfg.Label = 1
	}
	if cfg.SegmentDuration == 0 {
		cfg.SegmentDuration = DefaultSegmentDuration
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Window < 3 {
		return nil, fmt.Errorf("live origin: window of %d segments: want at least 3", cfg.Window)
	}
	if cfg.Epoch.IsZero() {
		return nil, fmt.Errorf("live origin: no epoch")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	stream, err := media.New(cfg.Label, cfg.SegmentDuration)
	if err != nil {
		return nil, fmt.Errorf("live origin: %w", err)
	}
	o := &Origin{stream: stream, d: cfg.SegmentDuration, window: cfg.Window, epoch: cfg.Epoch, now: cfg.Now,
		tracks: map[string]int{}, state: Running, frozen: -1}
	for i, t := range stream.Tracks() {
		o.tracks[t.Name] = i
	}
	rates, err := ladderRates(cfg.SegmentDuration)
	if err != nil {
		return nil, fmt.Errorf("live origin: %w", err)
	}
	o.master = o.buildMaster(rates)
	o.status.State = Running
	return o, nil
}

// rate is a track's BANDWIDTH and AVERAGE-BANDWIDTH in the master.
type rate struct{ peak, average int }

// rateCache caches ladderRates by segment duration.
var rateCache struct {
	sync.Mutex
	by map[time.Duration][]rate
}

// ladderRates returns, per track, the largest peak and mean bit rates over every label at
// segment duration d. Each label's picture gives other segment sizes, but hls.js keys redundant
// variants by BANDWIDTH among other attributes: every region must announce the same figures.
func ladderRates(d time.Duration) ([]rate, error) {
	rateCache.Lock()
	defer rateCache.Unlock()
	if r, ok := rateCache.by[d]; ok {
		return r, nil
	}
	var out []rate
	for label := 1; label <= media.Labels(); label++ {
		s, err := media.New(label, d)
		if err != nil {
			return nil, err
		}
		for i, t := range s.Tracks() {
			if i == len(out) {
				out = append(out, rate{})
			}
			out[i] = rate{max(out[i].peak, t.Bandwidth), max(out[i].average, t.AverageBandwidth)}
		}
	}
	if rateCache.by == nil {
		rateCache.by = map[time.Duration][]rate{}
	}
	rateCache.by[d] = out
	return out, nil
}

// SetState switches the encoder. Entering Stalled or Ended from another state freezes the
// playlists at the newest segment then listed; Running lists the segments of the clock again;
// Restart numbers from 0 again at the newest segment then listed.
func (o *Origin) SetState(s State) error {
	if _, err := ParseState(string(s)); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	listed := o.edgeLocked(now)
	switch {
	case frozen(s) && !frozen(o.state):
		o.frozen = listed
	case s == Late:
		// Never list fewer segments than before the switch.
		o.frozen = listed
	case s == Restart:
		o.base = max(0, listed)
	}
	o.state = s
	o.status.State = s
	return nil
}

func frozen(s State) bool { return s == Stalled || s == Ended }

// Status returns the encoder state and the last media sequence served.
func (o *Origin) Status() Status {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.status
}

// clockEdge returns the newest segment finished at t, -1 before the first.
func (o *Origin) clockEdge(t time.Time) int64 {
	if t.Before(o.epoch) {
		return -1
	}
	return int64(t.Sub(o.epoch)/o.d) - 1
}

// lateEdge returns the newest segment finished at t when odd-numbered segments are listed a
// quarter of a segment duration late.
func (o *Origin) lateEdge(t time.Time) int64 {
	n := o.clockEdge(t)
	if n >= 0 && n%2 == 1 && t.Before(o.epoch.Add(time.Duration(n+1)*o.d+o.d/4)) {
		n--
	}
	return n
}

// edgeLocked returns the newest segment listed at t. The caller holds o.mu.
func (o *Origin) edgeLocked(t time.Time) int64 {
	switch {
	case frozen(o.state):
		return o.frozen
	case o.state == Late:
		return max(o.frozen, o.lateEdge(t))
	}
	return o.clockEdge(t)
}

// edge returns the state, the newest segment listed at t and the segment numbered 0 (0 unless
// Restart). A request for a media playlist (playlist true) uses up ErrorOnce.
func (o *Origin) edge(t time.Time, playlist bool) (State, int64, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, base := o.state, int64(0)
	switch s {
	case ErrorOnce:
		if !playlist {
			s = Running
			break
		}
		o.state, o.status.State = Running, Running
		return Error, o.clockEdge(t), 0
	case Restart:
		base = o.base
	}
	return s, o.edgeLocked(t), base
}

func (o *Origin) buildMaster(rates []rate) []byte {
	var b strings.Builder
	tracks := o.stream.Tracks()
	audio := tracks[len(tracks)-1]
	ar := rates[len(tracks)-1]
	b.WriteString("#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"Audio\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"1\",URI=\"%s.m3u8\"\n", audio.Name)
	for i, t := range tracks[:len(tracks)-1] {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,CODECS=\"%s,%s\",RESOLUTION=%dx%d,FRAME-RATE=%.3f,AUDIO=\"aac\"\n%s.m3u8\n",
			rates[i].peak+ar.peak, rates[i].average+ar.average, t.Codec, audio.Codec, t.Width, t.Height, t.FrameRate, t.Name)
	}
	return []byte(b.String())
}

// mediaPlaylist lists the segments up to edge, numbered from base (media sequence 0).
func (o *Origin) mediaPlaylist(track int, name string, state State, edge, base int64) []byte {
	first := max(base, edge-int64(o.window)+1)
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", int(o.d/time.Second), first-base)
	for n := first; n <= edge; n++ {
		if n == first {
			pdt := o.epoch.Add(o.stream.Start(track, uint64(n))).UTC()
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", pdt.Format("2006-01-02T15:04:05.000Z"))
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s/%d.ts\n", o.stream.Duration(track, uint64(n)).Seconds(), name, n)
	}
	if state == Ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}

// ServeHTTP answers GET, HEAD and CORS preflight requests.
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "*")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		fail(w, http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	state, edge, base := o.edge(o.now(), strings.HasSuffix(p, ".m3u8") && p != "master.m3u8")
	switch state {
	case Error:
		fail(w, http.StatusServiceUnavailable)
		return
	case Missing:
		fail(w, http.StatusNotFound)
		return
	}
	if p == "master.m3u8" {
		write(w, r, "application/vnd.apple.mpegurl", "max-age=1", o.master)
		return
	}
	if name, ok := strings.CutSuffix(p, ".m3u8"); ok {
		track, ok := o.tracks[name]
		if !ok {
			fail(w, http.StatusNotFound)
			return
		}
		body := o.mediaPlaylist(track, name, state, edge, base)
		o.mu.Lock()
		if edge >= base {
			o.status.LastSequence, o.status.Served = uint64(edge-base), true
		}
		o.mu.Unlock()
		write(w, r, "application/vnd.apple.mpegurl", "max-age=1", body)
		return
	}
	name, seg, ok := strings.Cut(p, "/")
	track, known := o.tracks[name]
	num, isTS := strings.CutSuffix(seg, ".ts")
	n, err := strconv.ParseUint(num, 10, 63)
	// Only segments already listed exist: a stalled encoder made nothing after its last one.
	if !ok || !known || !isTS || err != nil || int64(n) > edge {
		fail(w, http.StatusNotFound)
		return
	}
	write(w, r, "video/mp2t", "max-age=86400", o.stream.AppendSegment(make([]byte, 0, o.stream.Size(track, n)), track, n))
}

func write(w http.ResponseWriter, r *http.Request, contentType, cacheControl string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func fail(w http.ResponseWriter, code int) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(code), code)
}
