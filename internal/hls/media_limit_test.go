package hls

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
)

func TestReadLimited(t *testing.T) {
	boom := errors.New("connection reset by peer")
	for _, tc := range []struct {
		name    string
		body    string
		limit   int64
		wantErr func(error) bool
	}{
		{name: "body at the limit is read", body: "#EXTM3U\n", limit: 8},
		{name: "empty body is read", body: "", limit: 8},
		{name: "body one byte over the limit is refused", body: "#EXTM3U\n#", limit: 8, wantErr: func(err error) bool {
			var tl *TooLargeError
			return errors.Is(err, ErrTooLarge) && errors.As(err, &tl) && tl.Limit == 8
		}},
		{name: "zero limit is refused", body: "x", limit: 0, wantErr: func(err error) bool { return err != nil && !errors.Is(err, ErrTooLarge) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadLimited(strings.NewReader(tc.body), tc.limit)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("ReadLimited error %v, not the one wanted", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.body {
				t.Errorf("ReadLimited = %q, want %q", got, tc.body)
			}
		})
	}
	t.Run("reader error is wrapped", func(t *testing.T) {
		_, err := ReadLimited(iotest.ErrReader(boom), 8)
		if !errors.Is(err, boom) {
			t.Errorf("ReadLimited error %v, want one wrapping %v", err, boom)
		}
	})
	t.Run("stops reading one byte past the limit", func(t *testing.T) {
		r := strings.NewReader(strings.Repeat("x", 1000))
		if _, err := ReadLimited(r, 10); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v, want ErrTooLarge", err)
		}
		if got, want := r.Len(), 1000-11; got != want {
			t.Errorf("%d bytes left unread, want %d", got, want)
		}
	})
}

func TestMaxBodyFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        int64
		err         bool
	}{
		{name: "unset is the default", want: DefaultMaxBody},
		{name: "a number of bytes", value: "33554432", want: 32 << 20},
		{name: "zero is refused", value: "0", err: true},
		{name: "negative is refused", value: "-1", err: true},
		{name: "a unit is refused", value: "16MiB", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MaxBodyFromEnv(func(k string) string {
				if k == EnvMaxBody {
					return tc.value
				}
				return ""
			})
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), EnvMaxBody) {
					t.Fatalf("MaxBodyFromEnv(%q) = %d, %v; want an error naming %s", tc.value, got, err, EnvMaxBody)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("MaxBodyFromEnv(%q) = %d, %v; want %d", tc.value, got, err, tc.want)
			}
		})
	}
}

// TestDefaultMaxBodyCoversADayLongEventPlaylist: a 24-hour EVENT playlist of 1 s segments, each
// with an EXT-X-PROGRAM-DATE-TIME tag and a 56-byte URI, is read and parsed within the default.
func TestDefaultMaxBodyCoversADayLongEventPlaylist(t *testing.T) {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init.mp4\"\n")
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range 86400 {
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:1.000,\n../../../segments/news-channel/1080p/segment_%09d.m4s\n",
			t0.Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000Z"), i)
	}
	body, err := ReadLimited(strings.NewReader(b.String()), DefaultMaxBody)
	if err != nil {
		t.Fatalf("ReadLimited of %d bytes: %v", b.Len(), err)
	}
	m, err := ParseMedia(body)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes (%.1f MiB), %d segments; the default limit is %d MiB", len(body), float64(len(body))/(1<<20), m.Segments, DefaultMaxBody>>20)
	if m.Segments != 86400 || int64(len(body))*3/2 > DefaultMaxBody {
		t.Errorf("%d segments in %d bytes: want 86400, with at least half again as much room under %d", m.Segments, len(body), DefaultMaxBody)
	}
}

// TestTrackerRemembersALongBodyByHash: an identical long playlist is recognized without being
// parsed again, and without the tracker keeping a copy of it.
func TestTrackerRemembersALongBodyByHash(t *testing.T) {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "#EXTINF:1.000,\nsegment_%09d.ts\n", i)
	}
	body := []byte(b.String())
	if len(body) <= keptBody {
		t.Fatalf("body of %d bytes, want more than %d", len(body), keptBody)
	}
	tr, err := NewTracker(TrackerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if r := tr.Observe(Observation{At: at, Status: 200, Body: body}); r.Health != state.HealthFresh {
		t.Fatalf("first observation: %s (%s)", r.Health, r.Reason)
	}
	if tr.body != nil {
		t.Errorf("the tracker keeps a %d-byte copy of the body", len(tr.body))
	}
	allocs := testing.AllocsPerRun(5, func() {
		at = at.Add(100 * time.Millisecond)
		if r := tr.Observe(Observation{At: at, Status: 200, Body: body}); r.Health != state.HealthFresh || r.Changed {
			t.Fatalf("same body again: %s, changed %t (%s)", r.Health, r.Changed, r.Reason)
		}
	})
	if allocs > 20 {
		t.Errorf("%.0f allocations to observe the same long body again: it was parsed again", allocs)
	}
}
