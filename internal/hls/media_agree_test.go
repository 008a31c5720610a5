package hls

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/grafov/m3u8"
)

// libraryMedia decodes a media playlist with github.com/grafov/m3u8, the reference ParseMedia's
// line scan is checked against. That decoder takes a blank line for a URI line (it appends a
// segment with no URI, or applies a pending EXT-X-KEY to a segment that does not exist), so
// blank lines, which RFC 8216 says to ignore, are removed first; its panics become errors.
func libraryMedia(body []byte) (pl *m3u8.MediaPlaylist, err error) {
	defer func() {
		if r := recover(); r != nil {
			pl, err = nil, fmt.Errorf("github.com/grafov/m3u8 failed on this playlist: %v", r)
		}
	}()
	var kept []byte
	segments := 0
	for _, line := range bytes.SplitAfter(body, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 {
			kept = append(kept, line...)
			if t[0] != '#' {
				segments++
			}
		}
	}
	pl, err = m3u8.NewMediaPlaylist(0, uint(max(segments, 1)))
	if err != nil {
		return nil, err
	}
	if err := pl.Decode(*bytes.NewBuffer(kept), false); err != nil {
		return nil, err
	}
	return pl, nil
}

// libraryBlindSpots are bodies the line scan reads and github.com/grafov/m3u8 cannot: production
// judges them, the library would have called them unreachable.
var libraryBlindSpots = map[string]bool{
	"widevine-tag.m3u8": true, // a #WV- comment line: the library slices past its end and panics
}

// mediaAgree reports how ParseMedia and the library disagree on body, "" when they agree on
// everything both read: the segment count, the media and discontinuity sequences, ENDLIST and
// the last segment URI. A body only the line scan refuses agrees (the scan is the stricter).
func mediaAgree(body []byte) (scanOnly bool, diff string) {
	m, err := ParseMedia(body)
	if err != nil {
		return false, ""
	}
	pl, lerr := libraryMedia(body)
	if lerr != nil {
		return true, ""
	}
	n := int(pl.Count())
	last := ""
	if n > 0 {
		last = pl.Segments[n-1].URI
	}
	switch {
	case n != m.Segments:
		return false, fmt.Sprintf("library reads %d segments, the scan %d", n, m.Segments)
	case pl.SeqNo != m.MediaSequence || pl.DiscontinuitySeq != m.DiscontinuitySequence:
		return false, fmt.Sprintf("library reads sequences %d/%d, the scan %d/%d", pl.SeqNo, pl.DiscontinuitySeq, m.MediaSequence, m.DiscontinuitySequence)
	case pl.Closed != m.Ended:
		return false, fmt.Sprintf("library reads ENDLIST %t, the scan %t", pl.Closed, m.Ended)
	case last != m.LastSegmentURI:
		return false, fmt.Sprintf("library reads the last URI %q, the scan %q", last, m.LastSegmentURI)
	}
	return false, ""
}

// TestParseMediaAgreesWithLibrary runs the line scan and github.com/grafov/m3u8 on every body of
// the case table and the fuzz corpus: where both read a body they agree, and the scan reads no
// body the library refuses except the known blind spots.
func TestParseMediaAgreesWithLibrary(t *testing.T) {
	bodies := map[string][]byte{}
	for _, c := range mediaCases {
		for _, s := range c.steps {
			if s.file != "" {
				bodies[s.file] = mediaBody(t, s.file)
			}
		}
	}
	corpus, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzTrackerObserve", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range corpus {
		for i, b := range corpusBytes(t, f) {
			bodies[fmt.Sprintf("%s[%d]", filepath.Base(f), i)] = b
		}
	}
	if len(bodies) < 20 {
		t.Fatalf("only %d bodies to compare", len(bodies))
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			scanOnly, diff := mediaAgree(body)
			if diff != "" {
				t.Fatal(diff)
			}
			if scanOnly != libraryBlindSpots[name] {
				t.Errorf("read by the scan only: %t, want %t", scanOnly, libraryBlindSpots[name])
			}
		})
	}
}

// FuzzParseMediaAgrees: on any body both read, the line scan and the library agree.
func FuzzParseMediaAgrees(f *testing.F) {
	for _, c := range mediaCases {
		for _, s := range c.steps {
			if s.file != "" {
				f.Add(mediaBody(f, s.file))
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, diff := mediaAgree(body); diff != "" {
			t.Fatalf("%s\nbody %q", diff, body)
		}
	})
}

// corpusBytes reads the []byte values of a Go fuzz corpus file.
func corpusBytes(t *testing.T, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "[]byte("); ok {
			s, err := strconv.Unquote(strings.TrimSuffix(v, ")"))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out = append(out, []byte(s))
		}
	}
	return out
}
