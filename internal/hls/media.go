package hls

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// ErrNotMediaPlaylist is wrapped by every error ParseMedia returns: the body is an HTML error
// page, a master playlist, garbage, or a media playlist too malformed to judge.
var ErrNotMediaPlaylist = errors.New("not a media playlist")

// mediaMaxSeconds bounds every duration read from a playlist (one day), so sums and multiples of
// them cannot overflow a time.Duration.
const mediaMaxSeconds = 86400

// Media is what ParseMedia reads from one media playlist: the facts the tracker and the sweeper
// judge by. One line scan reads them; media_agree_test.go checks it against github.com/grafov/m3u8.
type Media struct {
	// TargetDuration is the EXT-X-TARGETDURATION tag's value, a positive whole number of seconds.
	TargetDuration time.Duration
	// JudgedTargetDuration is what staleness is judged by: the larger of TargetDuration and the
	// longest EXTINF of the last RecentSegments segments, rounded to the nearest second (RFC 8216
	// 4.3.3.1's rule for the tag), so a playlist that understates its target duration is not
	// called stale while it advances.
	JudgedTargetDuration time.Duration
	// MediaSequence and DiscontinuitySequence are EXT-X-MEDIA-SEQUENCE and
	// EXT-X-DISCONTINUITY-SEQUENCE, 0 when absent.
	MediaSequence         uint64
	DiscontinuitySequence uint64
	// Skipped is EXT-X-SKIP's SKIPPED-SEGMENTS (a playlist delta update), 0 when absent.
	Skipped uint64
	// Segments is the number of segments listed, EXT-X-GAP ones included.
	Segments int
	// LastSegmentURI is the URI of the newest segment listed, "" when there is none.
	LastSegmentURI string
	// TrailingGaps is the number of segments marked EXT-X-GAP at the end of the list, and
	// TrailingGapDuration the sum of their EXTINF durations: an outage at the live edge.
	TrailingGaps        int
	TrailingGapDuration time.Duration
	// EdgeURI is the URI of the newest segment that has media (not marked EXT-X-GAP), "" when
	// every listed segment is a gap, and EdgeSequence its media sequence number.
	EdgeURI      string
	EdgeSequence uint64
	// LastPartURI is the URI of the newest EXT-X-PART not marked GAP=YES, "" when none.
	LastPartURI string
	// PreloadHintURI is the URI of EXT-X-PRELOAD-HINT, "" when absent.
	PreloadHintURI string
	// PartTarget is EXT-X-PART-INF's PART-TARGET, 0 when absent.
	PartTarget time.Duration
	// CanBlockReload reports EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES (LL-HLS).
	CanBlockReload bool
	// Ended reports #EXT-X-ENDLIST: no more segments will be added.
	Ended bool
}

// ParseMedia reads a media playlist. Errors name the line and tag at fault and wrap
// ErrNotMediaPlaylist. It reads all of body: callers bound what they fetch (ReadLimited).
func ParseMedia(body []byte) (*Media, error) {
	m, err := mediaParse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotMediaPlaylist, err)
	}
	return m, nil
}

// RecentSegments is how many of the newest segments JudgedTargetDuration looks at: the live
// edge, not a long segment hours back in an EVENT playlist.
const RecentSegments = 3

// mediaTagM3U is the line every playlist starts with.
var mediaTagM3U = []byte("#EXTM3U")

// mediaScanner is the line scan that reads a media playlist: it validates the structure (with
// line numbers), refuses master playlists and reads every tag Media holds.
type mediaScanner struct {
	m                     Media
	hasTD, hasMSN, hasDSN bool
	inf                   bool    // an EXTINF waits for its URI line
	infLine               int     // its line number
	infSeconds            float64 // its duration
	gap                   bool    // an EXT-X-GAP waits for its segment
	gapSeconds            float64 // the trailing gaps' duration so far
	lastURI               []byte
	edgeURI               []byte                  // the newest segment not marked EXT-X-GAP
	edge                  int                     // its index in the list
	recent                [RecentSegments]float64 // the newest segments' EXTINF, a ring
}

func mediaParse(body []byte) (*Media, error) {
	var s mediaScanner
	if err := s.scan(body); err != nil {
		return nil, err
	}
	m := s.m
	m.LastSegmentURI = string(s.lastURI)
	if s.edgeURI != nil {
		m.EdgeURI = string(s.edgeURI)
		m.EdgeSequence = m.MediaSequence + m.Skipped + uint64(s.edge)
	}
	return &m, nil
}

func (s *mediaScanner) scan(body []byte) error {
	if len(body) == 0 {
		return errors.New("empty body")
	}
	n := 0
	for rest := body; len(rest) > 0; {
		n++
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if err := s.line(n, line); err != nil {
			return err
		}
	}
	if s.inf {
		return fmt.Errorf("line %d %s: %w", s.infLine, "#EXTINF", errors.New("no segment URI follows"))
	}
	if !s.hasTD {
		return errors.New("no #EXT-X-TARGETDURATION")
	}
	s.m.TrailingGapDuration = mediaSeconds(s.gapSeconds)
	longest := slices.Max(s.recent[:])
	s.m.JudgedTargetDuration = max(s.m.TargetDuration, time.Duration(math.Round(longest))*time.Second)
	return nil
}

func (s *mediaScanner) line(n int, line []byte) error {
	// RFC 8216 4.1: UTF-8 without control characters other than CR and LF. Checked here so
	// that nothing read (a URI in the evidence, in a JSON snapshot) is binary garbage.
	ascii := true
	for _, c := range line {
		switch {
		case c < 0x20 && c != '\t' && c != '\r', c == 0x7f:
			return fmt.Errorf("line %d: control character %#x", n, c)
		case c >= 0x80:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(line) {
		return fmt.Errorf("line %d: not UTF-8", n)
	}
	line = bytes.TrimSpace(line)
	if n == 1 {
		if !bytes.Equal(line, mediaTagM3U) {
			return fmt.Errorf("line 1: %w", errors.New("does not start with #EXTM3U"))
		}
		return nil
	}
	if len(line) == 0 {
		return nil // ignored (RFC 8216 4.1)
	}
	if line[0] != '#' {
		return s.uri(n, line)
	}
	if !bytes.HasPrefix(line, []byte("#EXT")) {
		return nil // a comment
	}
	// One switch on the tag name rather than a chain of prefix tests: most lines are tags.
	name, value, attrs := line, []byte(nil), false
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value, attrs = line[:i], line[i+1:], true
	}
	switch string(name) {
	case "#EXTINF":
		if attrs {
			return s.extinf(n, value)
		}
	case "#EXT-X-GAP":
		s.gap = s.gap || !attrs
	case "#EXT-X-ENDLIST":
		s.m.Ended = s.m.Ended || !attrs
	case "#EXT-X-TARGETDURATION":
		if !attrs {
			break
		}
		if s.hasTD {
			return fmt.Errorf("line %d %s: %w", n, name, errors.New("appears twice"))
		}
		d, err := mediaTargetDuration(value)
		if err != nil {
			return fmt.Errorf("line %d %s: %w", n, name, err)
		}
		s.m.TargetDuration, s.hasTD = d, true
	case "#EXT-X-MEDIA-SEQUENCE":
		if !attrs {
			break
		}
		v, err := mediaUint(n, name, s.hasMSN, value)
		if err != nil {
			return err
		}
		s.m.MediaSequence, s.hasMSN = v, true
	case "#EXT-X-DISCONTINUITY-SEQUENCE":
		if !attrs {
			break
		}
		v, err := mediaUint(n, name, s.hasDSN, value)
		if err != nil {
			return err
		}
		s.m.DiscontinuitySequence, s.hasDSN = v, true
	case "#EXT-X-PART":
		if attrs {
			return s.part(n, value)
		}
	case "#EXT-X-PART-INF":
		if attrs {
			return s.partInf(n, value)
		}
	case "#EXT-X-PRELOAD-HINT":
		if attrs {
			return s.preloadHint(n, value)
		}
	case "#EXT-X-SERVER-CONTROL":
		if attrs {
			return s.serverControl(n, value)
		}
	case "#EXT-X-SKIP":
		if attrs {
			return s.skip(n, value)
		}
	case "#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-MEDIA", "#EXT-X-SESSION-DATA",
		"#EXT-X-SESSION-KEY", "#EXT-X-CONTENT-STEERING":
		if attrs {
			return fmt.Errorf("line %d %s: %w", n, name, errors.New("a master playlist tag"))
		}
	}
	return nil
}

func (s *mediaScanner) extinf(n int, v []byte) error {
	if s.inf {
		return fmt.Errorf("line %d %s: %w", n, "#EXTINF", errors.New("a second #EXTINF before the segment URI"))
	}
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	d, err := mediaDecimal(v)
	if err != nil {
		return fmt.Errorf("line %d %s: %w", n, "#EXTINF", err)
	}
	s.inf, s.infSeconds, s.infLine = true, d, n
	return nil
}

func (s *mediaScanner) uri(n int, line []byte) error {
	if !s.inf {
		return fmt.Errorf("line %d: %w", n, fmt.Errorf("URI %q without #EXTINF", mediaPreview(line)))
	}
	s.inf = false
	s.recent[s.m.Segments%RecentSegments] = s.infSeconds
	s.m.Segments++
	s.lastURI = line
	if s.gap {
		s.m.TrailingGaps++
		s.gapSeconds += s.infSeconds
	} else {
		s.m.TrailingGaps, s.gapSeconds = 0, 0
		s.edgeURI, s.edge = line, s.m.Segments-1
	}
	s.gap = false
	return nil
}

func (s *mediaScanner) part(n int, list []byte) error {
	var uri []byte
	gap := false
	a := mediaAttrs{s: list}
	for a.next() {
		switch string(a.name) {
		case "URI":
			uri = a.value
		case "GAP":
			gap = string(a.value) == "YES"
		}
	}
	if a.err == nil && len(uri) == 0 {
		a.err = errors.New("no URI")
	}
	if a.err != nil {
		return fmt.Errorf("line %d %s: %w", n, "#EXT-X-PART", a.err)
	}
	if !gap {
		s.m.LastPartURI = string(uri)
	}
	return nil
}

func (s *mediaScanner) partInf(n int, list []byte) error {
	a := mediaAttrs{s: list}
	for a.next() {
		if string(a.name) == "PART-TARGET" {
			d, err := mediaDuration(a.value)
			if err != nil {
				return fmt.Errorf("line %d %s: PART-TARGET: %w", n, "#EXT-X-PART-INF", err)
			}
			s.m.PartTarget = d
		}
	}
	if a.err != nil {
		return fmt.Errorf("line %d %s: %w", n, "#EXT-X-PART-INF", a.err)
	}
	return nil
}

func (s *mediaScanner) preloadHint(n int, list []byte) error {
	a := mediaAttrs{s: list}
	for a.next() {
		if string(a.name) == "URI" {
			s.m.PreloadHintURI = string(a.value)
		}
	}
	if a.err != nil {
		return fmt.Errorf("line %d %s: %w", n, "#EXT-X-PRELOAD-HINT", a.err)
	}
	return nil
}

func (s *mediaScanner) serverControl(n int, list []byte) error {
	a := mediaAttrs{s: list}
	for a.next() {
		if string(a.name) == "CAN-BLOCK-RELOAD" {
			s.m.CanBlockReload = string(a.value) == "YES"
		}
	}
	if a.err != nil {
		return fmt.Errorf("line %d %s: %w", n, "#EXT-X-SERVER-CONTROL", a.err)
	}
	return nil
}

func (s *mediaScanner) skip(n int, list []byte) error {
	found := false
	a := mediaAttrs{s: list}
	for a.next() {
		if string(a.name) == "SKIPPED-SEGMENTS" {
			if !mediaDigits(a.value, false) {
				return fmt.Errorf("line %d %s: SKIPPED-SEGMENTS %q is not a decimal integer", n, "#EXT-X-SKIP", mediaPreview(a.value))
			}
			v, err := strconv.ParseUint(string(a.value), 10, 32)
			if err != nil {
				return fmt.Errorf("line %d %s: SKIPPED-SEGMENTS: %w", n, "#EXT-X-SKIP", err)
			}
			s.m.Skipped, found = v, true
		}
	}
	if a.err == nil && !found {
		a.err = errors.New("no SKIPPED-SEGMENTS")
	}
	if a.err != nil {
		return fmt.Errorf("line %d %s: %w", n, "#EXT-X-SKIP", a.err)
	}
	return nil
}

// mediaUint reads a decimal-integer tag value that may appear once.
func mediaUint(n int, tag []byte, seen bool, v []byte) (uint64, error) {
	if seen {
		return 0, fmt.Errorf("line %d %s: %w", n, tag, errors.New("appears twice"))
	}
	if !mediaDigits(v, false) {
		return 0, fmt.Errorf("line %d %s: %w", n, tag, fmt.Errorf("%q is not a decimal integer", mediaPreview(v)))
	}
	u, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("line %d %s: %w", n, tag, err)
	}
	return u, nil
}

// mediaDecimal reads a decimal-floating-point number of seconds (digits, at most one '.'),
// at most mediaMaxSeconds. ParseFloat alone would take "Inf", "NaN", "1e3" and "0x1p3".
func mediaDecimal(v []byte) (float64, error) {
	if !mediaDigits(v, true) {
		return 0, fmt.Errorf("%q is not a decimal number", mediaPreview(v))
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, err
	}
	if f > mediaMaxSeconds {
		return 0, fmt.Errorf("%s s is over %d s", v, mediaMaxSeconds)
	}
	return f, nil
}

// mediaTargetDuration reads EXT-X-TARGETDURATION: a decimal-integer (RFC 8216 4.3.3.1), positive.
// A fraction such as 0.001 would make every playlist stale between two polls.
func mediaTargetDuration(v []byte) (time.Duration, error) {
	if !mediaDigits(v, false) {
		if mediaDigits(v, true) {
			return 0, fmt.Errorf("%q is not a decimal integer", mediaPreview(v))
		}
		return 0, fmt.Errorf("%q is not a decimal number", mediaPreview(v))
	}
	f, err := mediaDecimal(v)
	if err != nil {
		return 0, err
	}
	if f < 1 {
		return 0, errors.New("must be positive")
	}
	return time.Duration(f) * time.Second, nil
}

func mediaDuration(v []byte) (time.Duration, error) {
	f, err := mediaDecimal(v)
	if err != nil {
		return 0, err
	}
	return mediaSeconds(f), nil
}

// mediaSeconds converts seconds to a duration rounded to the millisecond.
func mediaSeconds(f float64) time.Duration {
	return time.Duration(math.Round(f*1000)) * time.Millisecond
}

func mediaDigits(v []byte, dot bool) bool {
	digits := 0
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && dot:
			dot = false
		default:
			return false
		}
	}
	return digits > 0
}

// mediaPreview shortens what an error quotes from a body.
func mediaPreview(v []byte) []byte {
	if len(v) > 40 {
		return v[:40]
	}
	return v
}

// mediaAttrs walks an attribute list (RFC 8216bis 4.2) without allocating:
// a := mediaAttrs{s: list}; for a.next() { use a.name, a.value }; then check a.err.
// Quotes are removed from quoted-string values.
type mediaAttrs struct {
	s           []byte
	name, value []byte
	err         error
}

func (a *mediaAttrs) next() bool {
	if len(a.s) == 0 || a.err != nil {
		return false
	}
	eq := bytes.IndexByte(a.s, '=')
	if eq <= 0 {
		a.err = fmt.Errorf("attribute %q has no value", mediaPreview(a.s))
		return false
	}
	a.name = a.s[:eq]
	rest := a.s[eq+1:]
	if len(rest) > 0 && rest[0] == '"' {
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 {
			a.err = fmt.Errorf("attribute %s: unterminated quoted string", a.name)
			return false
		}
		a.value, rest = rest[1:1+end], rest[end+2:]
	} else {
		end := bytes.IndexByte(rest, ',')
		if end < 0 {
			end = len(rest)
		}
		a.value, rest = rest[:end], rest[end:]
	}
	if len(rest) > 0 {
		if rest[0] != ',' {
			a.err = fmt.Errorf("attribute %s: %q after its value", a.name, mediaPreview(rest))
			return false
		}
		rest = rest[1:]
	}
	a.s = rest
	return true
}
