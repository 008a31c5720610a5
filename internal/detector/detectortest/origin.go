// Package detectortest holds what the detector's tests share: a live HLS origin whose playlists
// advance with the clock and can stall, fail, end, gap or restart on cue; an in-memory network
// to serve it over HTTP inside a testing/synctest bubble; an in-process SNS topic; and the
// contract every detector memory store must keep.
package detectortest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Origin is a live HLS origin for tests. Its media playlists gain one segment of exactly the
// target duration every target duration, read from time.Now (the fake clock in a synctest
// bubble), and change on cue: a stall, an HTTP status, #EXT-X-ENDLIST, EXT-X-GAP segments, a
// restart. It serves /master.m3u8 and /<name>.m3u8; an error status comes with the playlist as
// body, which a detector must never read as a playlist. Safe for concurrent use.
type Origin struct {
	mu             sync.Mutex
	td             time.Duration
	epoch          time.Time
	window         int
	latency        time.Duration
	variants       []*variant
	master         string // "" means built from the variants
	masterStatuses []statusSpan
	requests       map[string]int
	busted         int // requests that carried a cache-busting query
	onRequest      func(delta int)
}

// Variant describes one media playlist of the master.
type Variant struct {
	Name string // the playlist is served at /<Name>.m3u8
	// Attrs is the EXT-X-STREAM-INF attribute list; with Audio, the playlist is instead an
	// EXT-X-MEDIA TYPE=AUDIO rendition of group "aud", which every video variant references.
	Attrs string
	Audio bool
}

type variant struct {
	Variant
	stallAt, endAt, gapFrom, restartAt time.Time
	statuses                           []statusSpan
}

type statusSpan struct {
	from, until time.Time
	code        int
}

// NewOrigin returns an origin whose playlists have target duration td, list window segments,
// and have been live since well before now.
func NewOrigin(td time.Duration, window int, variants ...Variant) *Origin {
	if td < time.Second || td%time.Second != 0 {
		panic("detectortest: target duration must be whole seconds")
	}
	o := &Origin{td: td, window: window, requests: map[string]int{}}
	// Live for 1000 segments, on a whole-TD boundary of the clock, so that segment times are
	// easy to read in the logs.
	now := time.Now()
	o.epoch = now.Truncate(td).Add(-1000 * td)
	for _, v := range variants {
		o.variants = append(o.variants, &variant{Variant: v})
	}
	return o
}

// Shift moves the segment boundaries d later (the playlists lose whatever segments that
// un-publishes), so that origins started together do not all change in the same phase.
func (o *Origin) Shift(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.epoch = o.epoch.Add(d)
}

// StandardVariants are two video variants and one audio rendition.
func StandardVariants() []Variant {
	return []Variant{
		{Name: "v720", Attrs: `BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"`},
		{Name: "v360", Attrs: `BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"`},
		{Name: "aen", Audio: true},
	}
}

// OnRequest makes the origin call f(+1) when a request arrives and f(-1) when it is answered.
func (o *Origin) OnRequest(f func(delta int)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.onRequest = f
}

// TargetDuration returns the target duration.
func (o *Origin) TargetDuration() time.Duration { return o.td }

// SetLatency makes every answer wait d first.
func (o *Origin) SetLatency(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latency = d
}

// SetMaster replaces the master playlist's text ("" restores the one built from the variants).
func (o *Origin) SetMaster(text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.master = text
}

// AddVariant adds a media playlist (listed in the built master from then on).
func (o *Origin) AddVariant(v Variant) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.variants = append(o.variants, &variant{Variant: v})
}

func (o *Origin) each(name string, f func(v *variant)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, v := range o.variants {
		if name == "" || v.Name == name {
			f(v)
		}
	}
}

// Stall stops the named playlist ("" for all) from getting new segments from at on. It
// returns when the playlist last changed: the last segment added before at.
func (o *Origin) Stall(name string, at time.Time) time.Time {
	o.each(name, func(v *variant) { v.stallAt = at })
	return o.LastChange(name, at)
}

// End makes the named playlist ("" for all) end at at: no segments after it, #EXT-X-ENDLIST.
func (o *Origin) End(name string, at time.Time) {
	o.each(name, func(v *variant) { v.endAt = at })
}

// Gap marks the segments of the named playlist ("" for all) that start from at on as EXT-X-GAP:
// the playlist keeps advancing, with no media.
func (o *Origin) Gap(name string, at time.Time) {
	o.each(name, func(v *variant) { v.gapFrom = at })
}

// Restart resets the named playlist's media sequence to 0 at at, as a restarted packager does.
func (o *Origin) Restart(name string, at time.Time) {
	o.each(name, func(v *variant) { v.restartAt = at })
}

// Fail answers the named playlist ("" for all; "master" for the master) with HTTP status code
// from from until until (zero: for ever).
func (o *Origin) Fail(name string, code int, from, until time.Time) {
	if name == "master" {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.masterStatuses = append(o.masterStatuses, statusSpan{from, until, code})
		return
	}
	o.each(name, func(v *variant) { v.statuses = append(v.statuses, statusSpan{from, until, code}) })
}

// LastChange returns when the named playlist (the first one for "") last changed as of t.
func (o *Origin) LastChange(name string, t time.Time) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, v := range o.variants {
		if name == "" || v.Name == name {
			_, _, changed := o.segments(v, t)
			return changed
		}
	}
	panic("detectortest: no variant " + name)
}

// MediaSequence returns the named playlist's EXT-X-MEDIA-SEQUENCE as of t.
func (o *Origin) MediaSequence(name string, t time.Time) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	v := o.find(name)
	if v == nil {
		panic("detectortest: no variant " + name)
	}
	first, _, _ := o.segments(v, t)
	return uint64(first)
}

// Requests returns how many requests path (for example "/v720.m3u8") got, and how many requests
// in all carried a cache-busting query.
func (o *Origin) Requests(path string) (n, busted int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[path], o.busted
}

// segments returns the first media sequence number and count of the segments v lists at t, and
// when its list last changed. Segment k (counted from base) covers [base+k*TD, base+(k+1)*TD)
// and is listed from its end on.
func (o *Origin) segments(v *variant, t time.Time) (first, n int64, changed time.Time) {
	base := o.epoch
	if !v.restartAt.IsZero() && !t.Before(v.restartAt) {
		base = v.restartAt
	}
	eff := t
	for _, stop := range []time.Time{v.stallAt, v.endAt} {
		if !stop.IsZero() && stop.Before(eff) {
			eff = stop
		}
	}
	n = int64(eff.Sub(base) / o.td)
	changed = base.Add(time.Duration(n) * o.td)
	if !v.endAt.IsZero() && !t.Before(v.endAt) && v.endAt.After(changed) {
		changed = v.endAt // ENDLIST appeared
	}
	if !v.restartAt.IsZero() && !t.Before(v.restartAt) && n == 0 {
		changed = v.restartAt
	}
	first = max(0, n-int64(o.window))
	return first, n - first, changed
}

func (o *Origin) mediaText(v *variant, t time.Time) string {
	first, n, _ := o.segments(v, t)
	base := o.epoch
	prefix := "seg"
	if !v.restartAt.IsZero() && !t.Before(v.restartAt) {
		base, prefix = v.restartAt, "restart-seg"
	}
	var b strings.Builder
	secs := int(o.td / time.Second)
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", secs, first)
	for k := first; k < first+n; k++ {
		start := base.Add(time.Duration(k) * o.td)
		if !v.gapFrom.IsZero() && !start.Before(v.gapFrom) {
			b.WriteString("#EXT-X-GAP\n")
		}
		fmt.Fprintf(&b, "#EXTINF:%d.000,\n%s-%s-%d.ts\n", secs, v.Name, prefix, k)
	}
	if !v.endAt.IsZero() && !t.Before(v.endAt) {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.String()
}

func (o *Origin) masterText() string {
	if o.master != "" {
		return o.master
	}
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n")
	hasAudio := false
	for _, v := range o.variants {
		if v.Audio {
			hasAudio = true
			fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"%s\",DEFAULT=YES,AUTOSELECT=YES,URI=\"%s.m3u8\"\n", v.Name, v.Name)
		}
	}
	for _, v := range o.variants {
		if v.Audio {
			continue
		}
		attrs := v.Attrs
		if hasAudio {
			attrs += `,AUDIO="aud"`
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:%s\n%s.m3u8\n", attrs, v.Name)
	}
	return b.String()
}

// ServeHTTP answers GET /master.m3u8 and GET /<name>.m3u8.
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.requests[r.URL.Path]++
	if r.URL.RawQuery != "" {
		o.busted++
	}
	latency, on := o.latency, o.onRequest
	o.mu.Unlock()
	if on != nil {
		on(+1)
		defer on(-1)
	}
	if latency > 0 {
		time.Sleep(latency)
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".m3u8")
	var body string
	var statuses []statusSpan
	if name == "master" {
		body, statuses = o.masterText(), o.masterStatuses
	} else {
		v := o.find(name)
		if v == nil {
			http.NotFound(w, r)
			return
		}
		body, statuses = o.mediaText(v, now), v.statuses
	}
	code := http.StatusOK
	for _, s := range statuses {
		if !now.Before(s.from) && (s.until.IsZero() || now.Before(s.until)) {
			code = s.code
		}
	}
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Cache-Control", "max-age=1")
	w.WriteHeader(code)
	// Error answers carry a playlist too: a detector must never read one.
	fmt.Fprint(w, body)
}

func (o *Origin) find(name string) *variant {
	i := slices.IndexFunc(o.variants, func(v *variant) bool { return v.Name == name })
	if i < 0 {
		return nil
	}
	return o.variants[i]
}
