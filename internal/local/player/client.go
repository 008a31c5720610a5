package player

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
)

// ClientOptions set up an HLS client.
type ClientOptions struct {
	// HTTP fetches playlists and segments; nil means a client with a 10 s timeout.
	HTTP *http.Client
	// Regions names hosts by region, as Options.Regions does.
	Regions map[string]string
	// Now is the clock the simulated buffer drains by; nil means time.Now.
	Now func() time.Time
	// StartSegments is how many segments behind the live edge it starts and how many it buffers
	// before "playing", as hls.js's liveSyncDurationCount; 0 means 3.
	StartSegments int
}

// Client is an HLS client in Go that fetches like hls.js for machines without Chromium: it
// follows the first variant of a master, then its redundant variants (same BANDWIDTH,
// RESOLUTION, FRAME-RATE, CODECS, VIDEO-RANGE and HDCP-LEVEL; PATHWAY-ID is left out, so with
// content steering the pathways count as redundant variants), then the other variants; reloads the media playlist every
// target duration (half of it when unchanged), downloads new video segments in order and keeps
// a simulated buffer drained at 1x by the clock. A 4xx switches at once to the next redundant
// variant; a 5xx or network error is retried twice (after 1 s and 2 s) before switching. It
// decodes nothing and fetches no audio rendition.
type Client struct {
	http     *http.Client
	regions  map[string]string
	now      func() time.Time
	start    int
	variants []string // redundant media playlist URLs, in master order
	cancel   context.CancelFunc
	done     chan struct{}

	mu      sync.Mutex
	cur     int
	events  []Event
	loaded  int // segments loaded
	buffer  time.Duration
	played  time.Duration
	playing bool
	started bool
	last    time.Time // when buffer and played were last brought up to date
}

var _ Viewer = (*Client)(nil)

// StartClient loads the master at masterURL and starts following its first variant until
// Close. The client outlives ctx, which bounds only the master's load.
func StartClient(ctx context.Context, masterURL string, opts ClientOptions) (*Client, error) {
	c := &Client{http: opts.HTTP, regions: opts.Regions, now: opts.Now, start: opts.StartSegments, done: make(chan struct{})}
	if c.http == nil {
		c.http = &http.Client{Timeout: 10 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.start == 0 {
		c.start = 3
	}
	body, code, err := c.get(ctx, masterURL)
	if err != nil {
		return nil, fmt.Errorf("HLS client: master %s: %w", masterURL, err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("HLS client: master %s: HTTP status %d", masterURL, code)
	}
	variants, err := redundantVariants(masterURL, body)
	if err != nil {
		return nil, fmt.Errorf("HLS client: master %s: %w", masterURL, err)
	}
	c.variants = variants
	c.record(Event{Kind: "MANIFEST_PARSED", Level: len(variants)})
	c.record(c.levelEvent())
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go c.run(run)
	return c, nil
}

// redundancyAttrs are the attributes hls.js compares to call two variants redundant (design.md
// section 6), without PATHWAY-ID.
var redundancyAttrs = []string{"BANDWIDTH", "RESOLUTION", "FRAME-RATE", "CODECS", "VIDEO-RANGE", "HDCP-LEVEL"}

// redundantVariants returns the absolute URLs of the master's first variant and of the
// variants redundant with it, in master order, then the other variants in master order: with
// no redundant variant left, hls.js too moves to another level rather than give up.
func redundantVariants(masterURL string, body []byte) ([]string, error) {
	m, err := hls.ParseMaster(body)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(masterURL)
	if err != nil {
		return nil, err
	}
	key := func(t hls.MasterTag) string {
		var b strings.Builder
		for _, name := range redundancyAttrs {
			a, _ := t.Attrs.Get(name)
			b.WriteString(a.Unquoted() + "\x00")
		}
		return b.String()
	}
	want := key(m.Variants[0])
	var same, rest []string
	for _, v := range m.Variants {
		u, err := base.Parse(v.URI)
		if err != nil {
			return nil, fmt.Errorf("line %d: variant URI %q: %w", v.URILine, v.URI, err)
		}
		if key(v) == want {
			same = append(same, u.String())
		} else {
			rest = append(rest, u.String())
		}
	}
	return append(same, rest...), nil
}

// Describe says what watches: never a player.
func (c *Client) Describe() string { return "HLS client in Go (no player)" }

// Close stops the client.
func (c *Client) Close() error {
	if c.cancel != nil {
		c.cancel()
		<-c.done
		c.cancel = nil
	}
	return nil
}

// Snapshot returns what the client did so far, the buffer drained up to now.
func (c *Client) Snapshot(context.Context) (Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(c.now())
	s := Snapshot{At: c.now(), CurrentTime: c.played.Seconds(), Events: append([]Event(nil), c.events...)}
	summarize(&s)
	s.Started = c.started
	return s, nil
}

func (c *Client) record(e Event) {
	if e.At.IsZero() {
		e.At = c.now()
	}
	e.AtMS = e.At.UnixMilli()
	if e.URL != "" {
		e.Region, e.Host = regionOf(c.regions, e.URL)
	}
	c.events = append(c.events, e)
}

func (c *Client) levelEvent() Event {
	return Event{Kind: "LEVEL_SWITCHED", Level: c.cur, URL: c.variants[c.cur]}
}

// advance drains the buffer up to now; running dry after start-up is a rebuffer.
func (c *Client) advance(now time.Time) {
	if c.playing {
		dt := now.Sub(c.last)
		if dt >= c.buffer {
			dry := c.last.Add(c.buffer)
			c.played += c.buffer
			c.buffer, c.playing = 0, false
			c.record(Event{At: dry, Kind: KindWaiting, Rebuffer: true})
		} else {
			c.buffer -= dt
			c.played += dt
		}
	}
	if now.After(c.last) {
		c.last = now
	}
}

func (c *Client) addSegment(u string, sn int64, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.advance(now)
	c.loaded++
	c.buffer += d
	c.record(Event{At: now, Kind: KindFragLoaded, Type: "main", SN: sn, Level: c.cur, URL: u})
	// Start after StartSegments segments, as hls.js waits for its live sync position; after a
	// rebuffer any buffered media resumes playback.
	if !c.playing && (c.started || c.loaded >= c.start) {
		c.playing, c.started = true, true
		c.record(Event{At: now, Kind: KindPlaying})
	}
}

func (c *Client) fail(details, u string, code int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := Event{Kind: KindError, Details: details, URL: u, Code: code}
	if err != nil {
		e.Details += ": " + err.Error()
	}
	c.record(e)
}

func (c *Client) switchVariant() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur = (c.cur + 1) % len(c.variants)
	c.record(c.levelEvent())
}

func (c *Client) variant() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.variants[c.cur]
}

func (c *Client) get(ctx context.Context, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := hls.ReadLimited(resp.Body, 64<<20)
	return body, resp.StatusCode, err
}

// fetch gets u, retrying a 5xx or network error twice; on a 4xx or the third failure it
// switches to the next redundant variant and reports false.
func (c *Client) fetch(ctx context.Context, u, details string) ([]byte, bool) {
	for attempt := 0; ; attempt++ {
		body, code, err := c.get(ctx, u)
		if err == nil && code == http.StatusOK {
			return body, true
		}
		if ctx.Err() != nil {
			return nil, false
		}
		c.fail(details, u, code, err)
		if code >= 400 && code < 500 || attempt == 2 {
			c.switchVariant()
			return nil, false
		}
		if !sleep(ctx, time.Duration(attempt+1)*time.Second) {
			return nil, false
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	next := int64(-1) // the media sequence number to download next
	failures := 0     // switches since the last good playlist
	for ctx.Err() == nil {
		// Every redundant variant failed in a row: wait before going round again, as a
		// player would rather than hammer the origins.
		if failures >= len(c.variants) && !sleep(ctx, time.Second) {
			return
		}
		playlistURL := c.variant()
		body, ok := c.fetch(ctx, playlistURL, "levelLoadError")
		if !ok {
			failures++
			continue
		}
		m, err := hls.ParseMedia(body)
		if err != nil {
			c.fail("levelParsingError", playlistURL, 0, err)
			c.switchVariant()
			failures++
			continue
		}
		base, _ := url.Parse(playlistURL)
		segs := segmentsOf(body)
		first := int64(m.MediaSequence)
		if next < 0 {
			next = first + int64(max(0, len(segs)-c.start))
		}
		// Fallen out of the window (the variant stalled for long): rejoin where it starts.
		next = max(next, first)
		switched, loaded := false, false
		for i, s := range segs {
			sn := first + int64(i)
			if sn < next {
				continue
			}
			u, err := base.Parse(s.URI)
			if err != nil {
				c.fail("fragParsingError", s.URI, 0, err)
				continue
			}
			if _, ok := c.fetch(ctx, u.String(), "fragLoadError"); !ok {
				switched = true
				break
			}
			c.addSegment(u.String(), sn, time.Duration(s.Duration*float64(time.Second)))
			next, loaded = sn+1, true
		}
		if switched {
			failures++
			continue
		}
		failures = 0
		if m.Ended {
			c.mu.Lock()
			c.record(Event{Kind: "ENDED", URL: playlistURL})
			c.mu.Unlock()
			return
		}
		wait := m.TargetDuration
		if !loaded {
			wait /= 2
		}
		sleep(ctx, wait)
	}
}

// mediaSegment is one segment of a media playlist, as the client fetches it.
type mediaSegment struct {
	URI      string
	Duration float64 // seconds, from #EXTINF
}

// segmentsOf lists a media playlist's segments in order: each URI line after its #EXTINF. The
// product's parser keeps only what staleness needs, so the client reads the list itself.
func segmentsOf(body []byte) []mediaSegment {
	var segs []mediaSegment
	dur := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			dur, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			segs = append(segs, mediaSegment{URI: line, Duration: dur})
			dur = 0
		}
	}
	return segs
}
