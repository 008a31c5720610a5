package hls

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// benchPlaylist is a 10-segment live TS media playlist shaped like MediaPackage's output
// (PROGRAM-DATE-TIME on every segment), about 1 KB.
func benchPlaylist(msn int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:%d\n", msn)
	for n := msn; n < msn+10; n++ {
		pdt := mediaT0.Add(time.Duration(n) * 6006 * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:6.006,\nindex_1_%d.ts?m=1772445600\n", pdt, n)
	}
	return []byte(b.String())
}

// BenchmarkTrackerObserve measures one observation of a 10-segment live media playlist:
// "changed body" parses a playlist that advanced by one segment every time; "identical body"
// sees the same bytes again (the fast path: no parse, only the staleness evaluation).
func BenchmarkTrackerObserve(b *testing.B) {
	b.Run("changed body", func(b *testing.B) {
		bodies := make([][]byte, 1024)
		for i := range bodies {
			bodies[i] = benchPlaylist(1000 + i)
		}
		tr, err := NewTracker(TrackerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		at := mediaT0
		tr.Observe(Observation{At: at, Status: 200, Body: bodies[0]})
		b.SetBytes(int64(len(bodies[0])))
		b.ReportAllocs()
		i := 1
		for b.Loop() {
			at = at.Add(6 * time.Second)
			// Every 1024th observation goes back to the first body: a restart, still a full parse,
			// but not progress until the restarted playlist advances, so not reported as a change.
			restart := i%len(bodies) == 0
			r := tr.Observe(Observation{At: at, Status: 200, Body: bodies[i%len(bodies)]})
			if r.Err != nil || r.Health != state.HealthFresh || r.Changed == restart {
				b.Fatalf("observation %d: %s %v (%s)", i, r.Health, r.Err, r.Reason)
			}
			i++
		}
	})
	b.Run("identical body", func(b *testing.B) {
		body := benchPlaylist(1000)
		tr, err := NewTracker(TrackerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		at := mediaT0
		tr.Observe(Observation{At: at, Status: 200, Body: body})
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			// Time stands still so the playlist stays fresh; the work is the same either way.
			r := tr.Observe(Observation{At: at, Status: 200, Body: body})
			if r.Err != nil || r.Changed {
				b.Fatalf("%s %v", r.Health, r.Err)
			}
		}
	})
}

// BenchmarkParseMedia compares the production parse (the line scan) with the github.com/grafov/m3u8
// decode it is tested against.
func BenchmarkParseMedia(b *testing.B) {
	body := benchPlaylist(1000)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseMedia(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := libraryMedia(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
