package hls

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors a master playlist can fail with; ParseMaster wraps them with the line and tag.
var (
	// ErrNotMaster: the input is not a master (multivariant) playlist: a media playlist, an HTML
	// error page, anything else.
	ErrNotMaster = errors.New("not a master playlist")
	// ErrNoVariants: a master playlist without a single EXT-X-STREAM-INF.
	ErrNoVariants = errors.New("master playlist has no variants")
	// ErrMasterTag: a master playlist tag that breaks RFC 8216bis (a missing required attribute,
	// a value of the wrong type, a tag that may appear once appearing twice).
	ErrMasterTag = errors.New("invalid master playlist tag")
)

// Master is a master (multivariant) playlist split into its parts, every tag with the exact text
// it was read with so a merge can write it back losslessly. Comments and blank lines are dropped.
type Master struct {
	// Version is the EXT-X-VERSION value, 0 when the tag is absent.
	Version int
	// VersionTag is the EXT-X-VERSION line as written.
	VersionTag *MasterTag
	// IndependentSegments reports whether EXT-X-INDEPENDENT-SEGMENTS is present.
	IndependentSegments bool
	// Header holds the other playlist-wide tags in order: EXT-X-START, EXT-X-DEFINE,
	// EXT-X-SESSION-DATA, EXT-X-SESSION-KEY, EXT-X-CONTENT-STEERING and tags this parser does not
	// know, which are kept verbatim.
	Header []MasterTag
	// Renditions holds the EXT-X-MEDIA tags.
	Renditions []MasterTag
	// Variants holds the EXT-X-STREAM-INF tags, each with the URI line that follows it.
	Variants []MasterTag
	// IFrames holds the EXT-X-I-FRAME-STREAM-INF tags.
	IFrames []MasterTag
}

// MasterTag is one tag of a master playlist.
type MasterTag struct {
	// Line is the tag's line number, from 1.
	Line int
	// Name is the tag name without '#', for example EXT-X-MEDIA.
	Name string
	// Text is the line as read, without surrounding blanks or line ending.
	Text string
	// Attrs is the parsed attribute list of tags that have one.
	Attrs AttrList
	// URI is the URI line that follows an EXT-X-STREAM-INF, and URILine its line number.
	URI     string
	URILine int
}

// Master playlist tag names.
const (
	masterTagVersion     = "EXT-X-VERSION"
	masterTagIndependent = "EXT-X-INDEPENDENT-SEGMENTS"
	masterTagStart       = "EXT-X-START"
	masterTagDefine      = "EXT-X-DEFINE"
	masterTagMedia       = "EXT-X-MEDIA"
	masterTagStreamInf   = "EXT-X-STREAM-INF"
	masterTagIFrameInf   = "EXT-X-I-FRAME-STREAM-INF"
	masterTagSessionData = "EXT-X-SESSION-DATA"
	masterTagSessionKey  = "EXT-X-SESSION-KEY"
	masterTagSteering    = "EXT-X-CONTENT-STEERING"
	masterHeaderLine     = "#EXTM3U"
)

// masterMediaOnlyTags are tags that appear only in media playlists (RFC 8216bis 4.4.2-4.4.5):
// finding one means the input is a media playlist.
var masterMediaOnlyTags = map[string]bool{
	"EXTINF": true, "EXT-X-BYTERANGE": true, "EXT-X-DISCONTINUITY": true, "EXT-X-KEY": true,
	"EXT-X-MAP": true, "EXT-X-PROGRAM-DATE-TIME": true, "EXT-X-DATERANGE": true, "EXT-X-GAP": true,
	"EXT-X-BITRATE": true, "EXT-X-PART": true, "EXT-X-TARGETDURATION": true,
	"EXT-X-MEDIA-SEQUENCE": true, "EXT-X-DISCONTINUITY-SEQUENCE": true, "EXT-X-ENDLIST": true,
	"EXT-X-PLAYLIST-TYPE": true, "EXT-X-I-FRAMES-ONLY": true, "EXT-X-PART-INF": true,
	"EXT-X-SERVER-CONTROL": true, "EXT-X-SKIP": true, "EXT-X-PRELOAD-HINT": true,
	"EXT-X-RENDITION-REPORT": true,
}

// masterGroupRefs are the variant attributes that name a rendition group; each is also the
// EXT-X-MEDIA TYPE of the group it names.
var masterGroupRefs = [...]string{"AUDIO", "VIDEO", "SUBTITLES", "CLOSED-CAPTIONS"}

// masterAttrTags are the master tags that carry an attribute list.
var masterAttrTags = map[string]bool{
	masterTagStart: true, masterTagDefine: true, masterTagMedia: true, masterTagStreamInf: true, masterTagIFrameInf: true,
	masterTagSessionData: true, masterTagSessionKey: true, masterTagSteering: true,
}

// ParseMaster parses a master playlist. It accepts LF or CRLF line endings and a leading UTF-8 byte
// order mark, and checks what a merge relies on: the tags' attribute lists, their required
// attributes, and that every EXT-X-STREAM-INF has its URI line. Errors wrap ErrNotMaster,
// ErrNoVariants, ErrMasterTag or ErrAttrList, with the line number and tag.
func ParseMaster(body []byte) (*Master, error) {
	// One conversion: every line and attribute below is a substring of text.
	text := strings.TrimPrefix(string(body), "\ufeff")
	m := &Master{}
	var pending *MasterTag // an EXT-X-STREAM-INF waiting for its URI line
	n := 0
	sawHeader := false
	for len(text) > 0 {
		n++
		var line string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, ""
		}
		line = strings.Trim(line, " \t\r")
		if err := masterCheckText(line); err != nil {
			if !sawHeader {
				return nil, fmt.Errorf("line %d: %w: %v", n, ErrNotMaster, err)
			}
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if !sawHeader {
			if line == "" {
				continue
			}
			if line != masterHeaderLine {
				return nil, fmt.Errorf("line %d: %w: starts with %q, not #EXTM3U", n, ErrNotMaster, attrPreview(line))
			}
			sawHeader = true
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "#EXT") {
			continue // blank line or comment
		}
		if !strings.HasPrefix(line, "#") {
			if pending == nil {
				return nil, fmt.Errorf("line %d: %w: URI line %q without EXT-X-STREAM-INF", n, ErrNotMaster, attrPreview(line))
			}
			pending.URI, pending.URILine = line, n
			m.Variants = append(m.Variants, *pending)
			pending = nil
			continue
		}
		name, rest, hasColon := strings.Cut(line[1:], ":")
		if pending != nil {
			return nil, fmt.Errorf("line %d %s: %w: EXT-X-STREAM-INF on line %d has no URI line", n, name, ErrMasterTag, pending.Line)
		}
		if masterMediaOnlyTags[name] {
			return nil, fmt.Errorf("line %d %s: %w: %s is a media playlist tag", n, name, ErrNotMaster, name)
		}
		tag := MasterTag{Line: n, Name: name, Text: line}
		if masterAttrTags[name] {
			attrs, err := ParseAttrList(rest)
			if err != nil {
				return nil, fmt.Errorf("line %d %s: %w", n, name, err)
			}
			tag.Attrs = attrs
			if err := masterCheckTag(&tag); err != nil {
				return nil, fmt.Errorf("line %d %s: %w", n, name, err)
			}
		}
		switch name {
		case "EXTM3U":
			return nil, fmt.Errorf("line %d %s: %w: a second #EXTM3U (two playlists pasted together?)", n, name, ErrMasterTag)
		case masterTagVersion:
			if m.VersionTag != nil {
				return nil, fmt.Errorf("line %d %s: %w: repeated (first on line %d)", n, name, ErrMasterTag, m.VersionTag.Line)
			}
			v, err := strconv.Atoi(rest)
			if err != nil || v < 1 || !hasColon {
				return nil, fmt.Errorf("line %d %s: %w: version %q is not a positive integer", n, name, ErrMasterTag, rest)
			}
			m.Version, m.VersionTag = v, &tag
		case masterTagIndependent:
			if hasColon {
				return nil, fmt.Errorf("line %d %s: %w: takes no value", n, name, ErrMasterTag)
			}
			m.IndependentSegments = true
		case masterTagMedia:
			m.Renditions = append(m.Renditions, tag)
		case masterTagStreamInf:
			pending = &tag
		case masterTagIFrameInf:
			m.IFrames = append(m.IFrames, tag)
		default:
			m.Header = append(m.Header, tag)
		}
	}
	if !sawHeader {
		return nil, fmt.Errorf("%w: empty input", ErrNotMaster)
	}
	if pending != nil {
		return nil, fmt.Errorf("line %d %s: %w: no URI line before the end", pending.Line, masterTagStreamInf, ErrMasterTag)
	}
	if len(m.Variants) == 0 {
		return nil, ErrNoVariants
	}
	return m, nil
}

// masterCheckText rejects what RFC 8216bis 4.1 forbids in a playlist line: invalid UTF-8 and
// control characters (tabs are tolerated).
func masterCheckText(line string) error {
	if !utf8.ValidString(line) {
		return errors.New("invalid UTF-8")
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("control character %#02x at byte %d", c, i)
		}
	}
	return nil
}

// masterCheckTag checks the attributes a merge relies on.
func masterCheckTag(t *MasterTag) error {
	l := t.Attrs
	switch t.Name {
	case masterTagStreamInf, masterTagIFrameInf:
		bw, ok := l.Get("BANDWIDTH")
		if !ok {
			return fmt.Errorf("%w: no BANDWIDTH", ErrMasterTag)
		}
		if _, err := strconv.ParseUint(bw.Value, 10, 64); err != nil {
			return fmt.Errorf("%w: BANDWIDTH=%s is not a decimal integer", ErrMasterTag, bw.Value)
		}
		if t.Name == masterTagIFrameInf {
			if err := masterNeedQuoted(l, "URI", true); err != nil {
				return err
			}
		}
		for _, name := range masterGroupRefs {
			if name == "CLOSED-CAPTIONS" {
				if cc, ok := l.Get(name); ok && cc.Value == "NONE" {
					continue // the enumerated NONE, not a group
				}
			}
			if err := masterNeedQuoted(l, name, false); err != nil {
				return err
			}
		}
		return masterNeedQuoted(l, "PATHWAY-ID", false)
	case masterTagMedia:
		typ, ok := l.Get("TYPE")
		if !ok {
			return fmt.Errorf("%w: no TYPE", ErrMasterTag)
		}
		switch typ.Value {
		case "AUDIO", "VIDEO", "SUBTITLES", "CLOSED-CAPTIONS":
		default:
			return fmt.Errorf("%w: TYPE=%s is not AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS", ErrMasterTag, typ.Value)
		}
		for _, name := range []string{"GROUP-ID", "NAME"} {
			if err := masterNeedQuoted(l, name, true); err != nil {
				return err
			}
		}
		return masterNeedQuoted(l, "URI", false)
	case masterTagSessionData:
		if err := masterNeedQuoted(l, "DATA-ID", true); err != nil {
			return err
		}
		return masterNeedQuoted(l, "URI", false)
	case masterTagSessionKey:
		if _, ok := l.Get("METHOD"); !ok {
			return fmt.Errorf("%w: no METHOD", ErrMasterTag)
		}
		return masterNeedQuoted(l, "URI", false)
	case masterTagSteering:
		if err := masterNeedQuoted(l, "SERVER-URI", true); err != nil {
			return err
		}
		return masterNeedQuoted(l, "PATHWAY-ID", false)
	case masterTagStart:
		if _, ok := l.Get("TIME-OFFSET"); !ok {
			return fmt.Errorf("%w: no TIME-OFFSET", ErrMasterTag)
		}
	}
	return nil
}

// masterNeedQuoted checks that attribute name, if present (and it must be when required), is a
// non-empty quoted-string.
func masterNeedQuoted(l AttrList, name string, required bool) error {
	a, ok := l.Get(name)
	switch {
	case !ok && required:
		return fmt.Errorf("%w: no %s", ErrMasterTag, name)
	case !ok:
		return nil
	case !a.Quoted():
		return fmt.Errorf("%w: %s=%s is not a quoted-string", ErrMasterTag, name, a.Value)
	case a.Unquoted() == "":
		return fmt.Errorf("%w: %s is empty", ErrMasterTag, name)
	}
	return nil
}
