package hls

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// What ParseMedia reads that github.com/grafov/m3u8 v0.12.1 misses, on the table's fixtures.
func TestParseMediaReadsWhatTheLibraryMisses(t *testing.T) {
	for _, tc := range []struct {
		name               string
		file               string
		want               Media
		libraryTD          float64 // what the library says the target duration is
		libraryCount       uint
		libraryLenSegments int
	}{
		{
			name: "TD tag 6 with EXTINF 6.006", file: "mediapackage-ts-100.m3u8",
			want: Media{TargetDuration: 6 * time.Second, JudgedTargetDuration: 6 * time.Second, MediaSequence: 100, Segments: 10,
				LastSegmentURI: "index_1_109.ts?m=1772445600", EdgeURI: "index_1_109.ts?m=1772445600", EdgeSequence: 109},
			libraryTD: 7, libraryCount: 10, libraryLenSegments: 10,
		},
		{
			name: "LL-HLS parts, preload hint and server control", file: "llhls-272-part1.m3u8",
			want: Media{TargetDuration: 4 * time.Second, JudgedTargetDuration: 4 * time.Second, MediaSequence: 266, Segments: 6,
				LastSegmentURI: "fileSequence271.mp4", EdgeURI: "fileSequence271.mp4", EdgeSequence: 271,
				LastPartURI: "filePart272.1.mp4", PreloadHintURI: "filePart272.2.mp4",
				PartTarget: 1004 * time.Millisecond, CanBlockReload: true},
			libraryTD: 5, libraryCount: 6, libraryLenSegments: 6,
		},
		{
			name: "GAP segments at the live edge", file: "gap-302-edge2.m3u8",
			want: Media{TargetDuration: 6 * time.Second, JudgedTargetDuration: 6 * time.Second, MediaSequence: 302, Segments: 10,
				LastSegmentURI: "live_311.ts", TrailingGaps: 2, TrailingGapDuration: 12012 * time.Millisecond,
				EdgeURI: "live_309.ts", EdgeSequence: 309},
			libraryTD: 7, libraryCount: 10, libraryLenSegments: 10,
		},
		{
			name: "discontinuity sequence and ENDLIST", file: "mediapackage-ts-102-endlist.m3u8",
			want: Media{TargetDuration: 6 * time.Second, JudgedTargetDuration: 6 * time.Second, MediaSequence: 102, Segments: 10, Ended: true,
				LastSegmentURI: "index_1_111.ts?m=1772445600", EdgeURI: "index_1_111.ts?m=1772445600", EdgeSequence: 111},
			libraryTD: 7, libraryCount: 10, libraryLenSegments: 10,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMedia(mediaBody(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, *m); diff != "" {
				t.Errorf("ParseMedia (-want +got):\n%s", diff)
			}
			// The library's own view, with the pitfalls design.md names.
			pl, err := libraryMedia(mediaBody(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := pl.TargetDuration, tc.libraryTD; got != want {
				t.Errorf("library TargetDuration %g, want %g (ceil of the longest EXTINF)", got, want)
			}
			if got, want := pl.Count(), tc.libraryCount; got != want {
				t.Errorf("library Count() %d, want %d", got, want)
			}
			if got, want := len(pl.Segments), tc.libraryLenSegments; got != want {
				t.Errorf("library len(Segments) %d, want %d", got, want)
			}
		})
	}
}

func TestParseMediaErrorsWrapNotMediaPlaylist(t *testing.T) {
	for _, file := range []string{"error-503.html", "master.m3u8", "gzipped-playlist.bin", "malformed-targetduration.m3u8"} {
		t.Run(file, func(t *testing.T) {
			_, err := ParseMedia(mediaBody(t, file))
			if !errors.Is(err, ErrNotMediaPlaylist) {
				t.Errorf("ParseMedia error %v, want one wrapping ErrNotMediaPlaylist", err)
			}
		})
	}
}

func TestTrackerReportErrorsAreTyped(t *testing.T) {
	tr, err := NewTracker(TrackerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	at := mediaT0
	next := func(o Observation) Report {
		at = at.Add(time.Second)
		o.At = at
		return tr.Observe(o)
	}
	t.Run("HTTP status", func(t *testing.T) {
		var se *HTTPStatusError
		if r := next(Observation{Status: 503}); !errors.As(r.Err, &se) || se.Status != 503 {
			t.Errorf("error %v, want *HTTPStatusError 503", r.Err)
		}
	})
	t.Run("transport error keeps its cause", func(t *testing.T) {
		if r := next(Observation{Err: context.DeadlineExceeded}); !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Errorf("error %v, want one wrapping context.DeadlineExceeded", r.Err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := make([]byte, DefaultMaxBody+1)
		if r := next(Observation{Status: 200, Body: big}); !errors.Is(r.Err, ErrTooLarge) {
			t.Errorf("error %v, want ErrTooLarge", r.Err)
		}
	})
	t.Run("not a media playlist", func(t *testing.T) {
		if r := next(Observation{Status: 200, Body: []byte("<html></html>")}); !errors.Is(r.Err, ErrNotMediaPlaylist) {
			t.Errorf("error %v, want ErrNotMediaPlaylist", r.Err)
		}
	})
	t.Run("out of order", func(t *testing.T) {
		if r := tr.Observe(Observation{At: mediaT0, Status: 503}); !errors.Is(r.Err, ErrOutOfOrder) {
			t.Errorf("error %v, want ErrOutOfOrder", r.Err)
		}
		if r := tr.Observe(Observation{Status: 503}); !errors.Is(r.Err, ErrOutOfOrder) {
			t.Errorf("observation without time: error %v, want ErrOutOfOrder", r.Err)
		}
	})
}

// The tracker must not keep the caller's body: fetchers reuse their buffers.
func TestTrackerDoesNotKeepTheBody(t *testing.T) {
	tr, err := NewTracker(TrackerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	body := mediaBody(t, "mediapackage-ts-100.m3u8")
	tr.Observe(Observation{At: mediaT0, Status: 200, Body: body})
	// The buffer now holds the next playlist: were it kept, this would look identical.
	copy(body, mediaBody(t, "mediapackage-ts-101.m3u8"))
	r := tr.Observe(Observation{At: mediaT0.Add(sec(6)), Status: 200, Body: body})
	if !r.Changed {
		t.Errorf("reused buffer with a new playlist: changed false (%s)", r.Reason)
	}
}
