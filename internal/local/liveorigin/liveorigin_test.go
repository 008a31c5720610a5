package liveorigin

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/local/media"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for Config.Now.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }
func (c *clock) Set(segments float64) {
	c.t = epoch.Add(time.Duration(segments * float64(2*time.Second)))
}
func (c *clock) Add(segments float64) {
	c.t = c.t.Add(time.Duration(segments * float64(2*time.Second)))
}
func newClock(segments float64) *clock   { c := &clock{}; c.Set(segments); return c }
func (c *clock) config(label int) Config { return Config{Label: label, Epoch: epoch, Now: c.Now} }

func newOrigin(t *testing.T, cfg Config) *Origin {
	t.Helper()
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func get(t *testing.T, o *Origin, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	o.ServeHTTP(w, httptest.NewRequest(method, "http://origin.test"+path, nil))
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Fatalf("%s %s: Access-Control-Allow-Origin %q, want *", method, path, got)
	}
	return w
}

// playlist GETs a media playlist and parses it with the detector's parser.
func playlist(t *testing.T, o *Origin, name string) (*hls.Media, string) {
	t.Helper()
	w := get(t, o, http.MethodGet, "/"+name+".m3u8")
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s.m3u8: %d", name, w.Code)
	}
	if got := w.Header().Get("Cache-Control"); got != "max-age=1" {
		t.Fatalf("GET %s.m3u8: Cache-Control %q", name, got)
	}
	m, err := hls.ParseMedia(w.Body.Bytes())
	if err != nil {
		t.Fatalf("GET %s.m3u8: %v\n%s", name, err, w.Body.String())
	}
	return m, w.Body.String()
}

func TestPlaylistsAdvanceWithTheClock(t *testing.T) {
	cases := []struct {
		name          string
		at            float64 // segments after the epoch
		wantSequence  uint64
		wantSegments  int
		wantLastURI   string
		wantLastSeqOK bool
	}{
		{"before the first segment ends", 0.5, 0, 0, "", false},
		{"window filling", 3.2, 0, 3, "v180/2.ts", true},
		{"window full", 100.5, 94, 6, "v180/99.ts", true},
		{"one segment later", 101.5, 95, 6, "v180/100.ts", true},
		{"on a boundary the segment that just ended is listed", 102, 96, 6, "v180/101.ts", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock(c.at)
			o := newOrigin(t, clk.config(1))
			m, text := playlist(t, o, "v180")
			if m.MediaSequence != c.wantSequence || m.Segments != c.wantSegments || m.LastSegmentURI != c.wantLastURI {
				t.Fatalf("sequence %d, %d segments, last %q; want %d, %d, %q\n%s", m.MediaSequence, m.Segments, m.LastSegmentURI, c.wantSequence, c.wantSegments, c.wantLastURI, text)
			}
			if m.TargetDuration != 2*time.Second || m.Ended {
				t.Fatalf("target duration %v, ended %t", m.TargetDuration, m.Ended)
			}
			st := o.Status()
			if st.Served != c.wantLastSeqOK || c.wantLastSeqOK && st.LastSequence != c.wantSequence+uint64(c.wantSegments)-1 {
				t.Fatalf("status %+v after serving sequence %d with %d segments", st, c.wantSequence, c.wantSegments)
			}
		})
	}
}

func TestRegionsAlign(t *testing.T) {
	for _, d := range []time.Duration{2 * time.Second, 6 * time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			clk := newClock(1234.7)
			a := newOrigin(t, Config{Label: 1, SegmentDuration: d, Epoch: epoch, Now: clk.Now})
			b := newOrigin(t, Config{Label: 2, SegmentDuration: d, Epoch: epoch, Now: clk.Now})
			for _, name := range []string{"v180", "v90", "audio"} {
				// Same sequence numbers, durations, PDTs and URIs: the playlists are equal byte for byte.
				_, ta := playlist(t, a, name)
				_, tb := playlist(t, b, name)
				if ta != tb {
					t.Fatalf("%s playlists differ:\n%s\n%s", name, ta, tb)
				}
				m, _ := playlist(t, a, name)
				seg := "/" + m.LastSegmentURI
				sa, sb := get(t, a, http.MethodGet, seg), get(t, b, http.MethodGet, seg)
				if sa.Code != 200 || sb.Code != 200 || sa.Header().Get("Content-Type") != "video/mp2t" {
					t.Fatalf("GET %s: %d and %d, %q", seg, sa.Code, sb.Code, sa.Header().Get("Content-Type"))
				}
				// Different pictures for video; the audio is shared.
				if same := bytes.Equal(sa.Body.Bytes(), sb.Body.Bytes()); same != (name == "audio") {
					t.Fatalf("GET %s: same bytes in both regions = %t", seg, same)
				}
			}
		})
	}
}

func TestMaster(t *testing.T) {
	clk := newClock(50)
	o := newOrigin(t, clk.config(1))
	w := get(t, o, http.MethodGet, "/master.m3u8")
	m, err := hls.ParseMaster(w.Body.Bytes())
	if err != nil || w.Code != 200 {
		t.Fatalf("master: %d %v\n%s", w.Code, err, w.Body.String())
	}
	if len(m.Variants) != 2 || len(m.Renditions) != 1 {
		t.Fatalf("master has %d variants and %d renditions, want 2 and 1:\n%s", len(m.Variants), len(m.Renditions), w.Body.String())
	}
	uris := []string{}
	for _, v := range m.Variants {
		// The detector counts a variant with RESOLUTION as video; hls.js needs CODECS to set up MSE.
		res, okRes := v.Attrs.Get("RESOLUTION")
		codecs, okCodecs := v.Attrs.Get("CODECS")
		audio, _ := v.Attrs.Get("AUDIO")
		if !okRes || !okCodecs || !strings.HasPrefix(codecs.Unquoted(), "avc1.") || !strings.HasSuffix(codecs.Unquoted(), ",mp4a.40.2") || audio.Unquoted() != "aac" {
			t.Fatalf("variant %s: RESOLUTION %q CODECS %q AUDIO %q", v.Text, res.Value, codecs.Value, audio.Value)
		}
		uris = append(uris, v.URI)
	}
	r := m.Renditions[0]
	typ, _ := r.Attrs.Get("TYPE")
	group, _ := r.Attrs.Get("GROUP-ID")
	uri, _ := r.Attrs.Get("URI")
	if typ.Value != "AUDIO" || group.Unquoted() != "aac" || uri.Unquoted() == "" {
		t.Fatalf("rendition %s: want TYPE=AUDIO, GROUP-ID aac and a URI", r.Text)
	}
	uris = append(uris, uri.Unquoted())
	for _, u := range uris {
		pl, _ := playlist(t, o, strings.TrimSuffix(u, ".m3u8"))
		if got := get(t, o, http.MethodGet, "/"+pl.LastSegmentURI); got.Code != 200 {
			t.Fatalf("GET %s from %s: %d", pl.LastSegmentURI, u, got.Code)
		}
	}
}

func TestStates(t *testing.T) {
	cases := []struct {
		state                      State
		master, playlist, segment  int
		wantEnded, wantAdvancement bool
	}{
		{Running, 200, 200, 200, false, true},
		{Stalled, 200, 200, 200, false, false},
		{Error, 503, 503, 503, false, false},
		{Missing, 404, 404, 404, false, false},
		{Ended, 200, 200, 200, true, false},
	}
	for _, c := range cases {
		t.Run(string(c.state), func(t *testing.T) {
			clk := newClock(200.5)
			o := newOrigin(t, clk.config(1))
			before, _ := playlist(t, o, "v90")
			if err := o.SetState(c.state); err != nil {
				t.Fatal(err)
			}
			clk.Add(10)
			for path, want := range map[string]int{"/master.m3u8": c.master, "/v90.m3u8": c.playlist, "/" + before.LastSegmentURI: c.segment} {
				if got := get(t, o, http.MethodGet, path); got.Code != want {
					t.Errorf("GET %s: %d, want %d", path, got.Code, want)
				} else if want != 200 && got.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("GET %s: %d with Cache-Control %q, want no-store", path, want, got.Header().Get("Cache-Control"))
				}
			}
			if o.Status().State != c.state {
				t.Fatalf("status %+v, want state %s", o.Status(), c.state)
			}
			if c.playlist != 200 {
				return
			}
			after, text := playlist(t, o, "v90")
			if advanced := after.MediaSequence != before.MediaSequence; advanced != c.wantAdvancement || after.Ended != c.wantEnded {
				t.Fatalf("after 10 segments: sequence %d (was %d), ended %t\n%s", after.MediaSequence, before.MediaSequence, after.Ended, text)
			}
			// A segment the encoder has not made is not there.
			next := get(t, o, http.MethodGet, "/v90/"+strconv.FormatUint(after.EdgeSequence+1, 10)+".ts")
			if next.Code != http.StatusNotFound {
				t.Fatalf("segment after the live edge: %d, want 404", next.Code)
			}
		})
	}
}

// TestResumeAfterStall: back to running, the region lists the segments of the clock again,
// exactly as a region that never stalled: no discontinuity, so it stays aligned with the others.
func TestResumeAfterStall(t *testing.T) {
	for _, stall := range []State{Stalled, Ended, Error, Missing} {
		t.Run("from "+string(stall), func(t *testing.T) {
			clk := newClock(300.5)
			o := newOrigin(t, clk.config(1))
			other := newOrigin(t, clk.config(2))
			if err := o.SetState(stall); err != nil {
				t.Fatal(err)
			}
			clk.Add(25) // longer than the window: the segments of the stall are gone from it
			if err := o.SetState(Running); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"v180", "audio"} {
				m, text := playlist(t, o, name)
				_, want := playlist(t, other, name)
				if text != want || strings.Contains(text, "DISCONTINUITY") || m.DiscontinuitySequence != 0 {
					t.Fatalf("%s after resuming:\n%s\nthe region that never stalled:\n%s", name, text, want)
				}
				if m.EdgeSequence != 324 {
					t.Fatalf("%s resumes at sequence %d, want 324 (the clock's)", name, m.EdgeSequence)
				}
			}
			// A stall again freezes at the new edge, not the old one.
			if err := o.SetState(Stalled); err != nil {
				t.Fatal(err)
			}
			clk.Add(3)
			if m, _ := playlist(t, o, "v180"); m.EdgeSequence != 324 {
				t.Fatalf("second stall frozen at %d, want 324", m.EdgeSequence)
			}
		})
	}
}

func TestStatusReportsTheLastSequenceServed(t *testing.T) {
	clk := newClock(40.5)
	o := newOrigin(t, clk.config(1))
	if st := o.Status(); st.Served || st.State != Running {
		t.Fatalf("fresh origin status %+v", st)
	}
	playlist(t, o, "v180")
	clk.Add(2)
	if got := o.Status().LastSequence; got != 39 {
		t.Fatalf("LastSequence %d, want 39 (served before the clock moved)", got)
	}
	playlist(t, o, "audio")
	if got := o.Status().LastSequence; got != 41 {
		t.Fatalf("LastSequence %d, want 41", got)
	}
	o.SetState(Error)
	get(t, o, http.MethodGet, "/v180.m3u8")
	if st := o.Status(); st.LastSequence != 41 || st.State != Error {
		t.Fatalf("after an error answer: %+v, want 41 kept and state error", st)
	}
}

func TestBadInput(t *testing.T) {
	clk := newClock(40.5)
	o := newOrigin(t, clk.config(1))
	t.Run("unknown state changes nothing", func(t *testing.T) {
		if err := o.SetState("paused"); err == nil || !strings.Contains(err.Error(), `"paused"`) {
			t.Fatalf("SetState(paused) = %v", err)
		}
		if o.Status().State != Running {
			t.Fatalf("state %s after a refused switch", o.Status().State)
		}
	})
	for _, path := range []string{"/nope.m3u8", "/v180/abc.ts", "/v180/-1.ts", "/v180/3", "/nope/3.ts", "/", "/v180/3.ts/x"} {
		t.Run("GET "+path, func(t *testing.T) {
			if got := get(t, o, http.MethodGet, path); got.Code != http.StatusNotFound {
				t.Fatalf("GET %s: %d, want 404", path, got.Code)
			}
		})
	}
	t.Run("POST", func(t *testing.T) {
		if got := get(t, o, http.MethodPost, "/master.m3u8"); got.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST: %d", got.Code)
		}
	})
	t.Run("CORS preflight", func(t *testing.T) {
		w := get(t, o, http.MethodOptions, "/master.m3u8")
		if w.Code != http.StatusNoContent || !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "GET") {
			t.Fatalf("OPTIONS: %d %v", w.Code, w.Header())
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		w := get(t, o, http.MethodHead, "/v180/3.ts")
		if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
			t.Fatalf("HEAD: %d, %d body bytes, Content-Length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
		}
	})
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"no epoch", Config{}},
		{"window of 2", Config{Epoch: epoch, Window: 2}},
		{"fractional segment duration", Config{Epoch: epoch, SegmentDuration: 1500 * time.Millisecond}},
		{"label past the source", Config{Epoch: epoch, Label: 99}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.cfg); err == nil {
				t.Fatalf("New(%+v) = nil error", c.cfg)
			}
		})
	}
	if _, err := ParseState("running"); err != nil {
		t.Fatal(err)
	}
}

func TestEndingAStalledStreamKeepsItsLastSegment(t *testing.T) {
	clk := newClock(60.5)
	o := newOrigin(t, clk.config(1))
	o.SetState(Stalled)
	clk.Add(5)
	o.SetState(Ended)
	clk.Add(5)
	m, text := playlist(t, o, "v180")
	if !m.Ended || m.EdgeSequence != 59 {
		t.Fatalf("ended %t at %d, want ended at 59 (where it stalled)\n%s", m.Ended, m.EdgeSequence, text)
	}
}

// TestMasterIsTheSameInEveryRegion: the regions' pictures differ, and so do their segment sizes,
// but hls.js takes two variants as redundant only when BANDWIDTH (and the other attributes of its
// key) are equal: every label must announce the same master, at every segment duration.
func TestMasterIsTheSameInEveryRegion(t *testing.T) {
	for _, d := range []time.Duration{2 * time.Second, 6 * time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			clk := newClock(50)
			var first string
			for label := 1; label <= media.Labels(); label++ {
				o := newOrigin(t, Config{Label: label, SegmentDuration: d, Epoch: epoch, Now: clk.Now})
				w := get(t, o, http.MethodGet, "/master.m3u8")
				m, err := hls.ParseMaster(w.Body.Bytes())
				if err != nil {
					t.Fatalf("label %d: %v", label, err)
				}
				for _, v := range m.Variants {
					bw, _ := v.Attrs.Get("BANDWIDTH")
					n, err := strconv.Atoi(bw.Value)
					if err != nil || n <= 0 {
						t.Fatalf("label %d: variant %s: BANDWIDTH %q", label, v.URI, bw.Value)
					}
				}
				if label == 1 {
					first = w.Body.String()
				} else if got := w.Body.String(); got != first {
					t.Errorf("label %d announces another master than label 1:\n%s\nlabel 1:\n%s", label, got, first)
				}
			}
			if media.Labels() < 2 {
				t.Fatalf("the source has %d labels: nothing to compare", media.Labels())
			}
		})
	}
}
