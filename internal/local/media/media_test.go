package media

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// pes is one PES packet read back from a TS stream.
type pes struct {
	pts    uint64
	key    bool // random_access_indicator
	pcr    bool
	data   []byte
	offset int // byte offset of its first TS packet
}

// demux reads a TS stream of one elementary stream as our muxer writes it, checking as it goes
// what every reader relies on: sync bytes, continuity counters on every PID, PSI CRCs, PES
// headers. It returns the PES packets in order.
func demux(t *testing.T, b []byte) []pes {
	t.Helper()
	if len(b)%packetSize != 0 {
		t.Fatalf("stream of %d bytes is not a whole number of TS packets", len(b))
	}
	lastCC := map[uint16]int{}
	var out []pes
	var cur *pes
	flush := func() {
		if cur == nil {
			return
		}
		d := cur.data
		if len(d) < pesHeaderSize || d[0] != 0 || d[1] != 0 || d[2] != 1 || d[7] != 0x80 || d[8] != 5 {
			t.Fatalf("PES at byte %d: bad header % x", cur.offset, d[:min(len(d), 14)])
		}
		if l := int(d[4])<<8 | int(d[5]); l != 0 && l != len(d)-6 {
			t.Fatalf("PES at byte %d: PES_packet_length %d, carries %d", cur.offset, l, len(d)-6)
		}
		cur.pts = uint64(d[9]>>1&7)<<30 | uint64(d[10])<<22 | uint64(d[11]>>1)<<15 | uint64(d[12])<<7 | uint64(d[13]>>1)
		cur.data = d[pesHeaderSize:]
		out = append(out, *cur)
		cur = nil
	}
	for off := 0; off < len(b); off += packetSize {
		p := b[off : off+packetSize]
		if p[0] != 0x47 {
			t.Fatalf("byte %d: sync byte %#x", off, p[0])
		}
		pid := uint16(p[1]&0x1F)<<8 | uint16(p[2])
		pusi := p[1]&0x40 != 0
		afc, cc := p[3]>>4&3, int(p[3]&0xF)
		if last, ok := lastCC[pid]; ok && cc != (last+1)&0xF {
			t.Fatalf("byte %d: PID %#x continuity counter %d after %d", off, pid, cc, last)
		}
		lastCC[pid] = cc
		payload := p[4:]
		var pcr, rai bool
		if afc&2 != 0 {
			l := int(p[4])
			if l > 183 {
				t.Fatalf("byte %d: adaptation field length %d", off, l)
			}
			if l > 0 {
				rai, pcr = p[5]&0x40 != 0, p[5]&0x10 != 0
			}
			payload = p[5+l:]
		}
		if afc&1 == 0 {
			t.Fatalf("byte %d: packet without payload", off)
		}
		switch pid {
		case pidPAT, pidPMT:
			if !pusi || payload[0] != 0 {
				t.Fatalf("byte %d: PSI without pointer field 0", off)
			}
			sec := payload[1:]
			n := 3 + (int(sec[1]&0x0F)<<8 | int(sec[2]))
			if got := crc32MPEG2(sec[:n]); got != 0 { // the CRC over a section with its CRC is 0
				t.Fatalf("byte %d: PID %#x section CRC residue %#x", off, pid, got)
			}
		default:
			if pusi {
				flush()
				cur = &pes{key: rai, pcr: pcr, offset: off}
			} else if cur == nil {
				t.Fatalf("byte %d: PES continuation without a start", off)
			}
			cur.data = append(cur.data, payload...)
		}
	}
	flush()
	return out
}

func TestSegments(t *testing.T) {
	loop := uint64(LoopSeconds)
	wrapSegment := func(d uint64) uint64 { return (ptsWrap - PTSOffset) / (d * clock) } // holds the 33-bit wrap
	cases := []struct {
		name     string
		d        uint64 // seconds
		from, to uint64 // segments
	}{
		{"2s across two loop points", 2, 0, 20},
		{"6s across the loop point mid-segment", 6, 1, 9},
		{"1s", 1, loop - 3, loop + 3},
		{"4s", 4, 3, 7},
		{"7s, prime to the loop", 7, 0, 6},
		{"2s across the 33-bit PTS wrap", 2, wrapSegment(2) - 2, wrapSegment(2) + 3},
		{"6s across the 33-bit PTS wrap", 6, wrapSegment(6) - 2, wrapSegment(6) + 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(1, time.Duration(c.d)*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for tr, track := range s.Tracks() {
				m := s.es[tr]
				var all []byte
				var prev *pes
				for n := c.from; n < c.to; n++ {
					seg := s.AppendSegment(nil, tr, n)
					if got, want := len(seg), s.Size(tr, n); got != want {
						t.Fatalf("%s segment %d: %d bytes, Size says %d", track.Name, n, got, want)
					}
					all = append(all, seg...)
					frames := demux(t, seg)
					first := frames[0]
					if want := (PTSOffset + (n*c.d*clock+m.ticks-1)/m.ticks*m.ticks) % ptsWrap; first.pts != want {
						t.Fatalf("%s segment %d: first PTS %d, want %d", track.Name, n, first.pts, want)
					}
					if lag := s.Start(tr, n) - time.Duration(n*c.d)*time.Second; lag < 0 || lag >= time.Duration(m.ticks)*time.Second/clock || track.Kind == Video && lag != 0 {
						t.Fatalf("%s segment %d starts %v after its nominal start", track.Name, n, lag)
					}
					if track.Kind == Video {
						if !first.key || !bytes.Contains(first.data, []byte{0, 0, 1, 0x65}) || !bytes.Contains(first.data, []byte{0, 0, 1, 0x67}) {
							t.Fatalf("%s segment %d does not open with an IDR with SPS (random access %t)", track.Name, n, first.key)
						}
						if got, want := uint64(len(frames))*m.ticks, c.d*clock; got != want {
							t.Fatalf("%s segment %d: %d frames last %d ticks, want %d", track.Name, n, len(frames), got, want)
						}
					}
					if got, want := time.Duration(uint64(len(frames))*m.ticks)*time.Second/clock, s.Duration(tr, n); got != want {
						t.Fatalf("%s segment %d: frames last %v, Duration says %v", track.Name, n, got, want)
					}
					if d := s.Duration(tr, n) - s.SegmentDuration(); d < -21334*time.Microsecond || d > 21334*time.Microsecond {
						t.Fatalf("%s segment %d lasts %v, more than a frame off %v", track.Name, n, s.Duration(tr, n), s.SegmentDuration())
					}
					for i := range frames {
						f := &frames[i]
						if !f.pcr {
							t.Fatalf("%s segment %d frame %d: no PCR", track.Name, n, i)
						}
						// Each frame follows the one before by exactly one frame duration, modulo the
						// 33-bit wrap: across segments and across the loop point.
						if prev != nil && (f.pts+ptsWrap-prev.pts)%ptsWrap != m.ticks {
							t.Fatalf("%s segment %d frame %d: PTS %d after %d", track.Name, n, i, f.pts, prev.pts)
						}
						prev = f
					}
				}
				demux(t, all) // continuity counters run on across segment boundaries
			}
		})
	}
}

func TestRegionsAlign(t *testing.T) {
	for _, d := range []time.Duration{2 * time.Second, 6 * time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			a, err := New(1, d)
			if err != nil {
				t.Fatal(err)
			}
			b, err := New(2, d)
			if err != nil {
				t.Fatal(err)
			}
			for tr, track := range a.Tracks() {
				for n := uint64(100); n < 110; n++ {
					fa, fb := demux(t, a.AppendSegment(nil, tr, n)), demux(t, b.AppendSegment(nil, tr, n))
					if len(fa) != len(fb) {
						t.Fatalf("%s segment %d: %d frames in label 1, %d in label 2", track.Name, n, len(fa), len(fb))
					}
					same := true
					for i := range fa {
						if fa[i].pts != fb[i].pts || fa[i].key != fb[i].key {
							t.Fatalf("%s segment %d frame %d: PTS %d key %t in label 1, %d %t in label 2", track.Name, n, i, fa[i].pts, fa[i].key, fb[i].pts, fb[i].key)
						}
						same = same && bytes.Equal(fa[i].data, fb[i].data)
					}
					if got, want := same, track.Kind == Audio; got != want {
						t.Fatalf("%s segment %d: same content in both labels = %t, want %t", track.Name, n, got, want)
					}
				}
			}
		})
	}
}

func TestTracks(t *testing.T) {
	s, err := New(2, 6*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tracks := s.Tracks()
	var names []string
	for _, tr := range tracks {
		names = append(names, fmt.Sprintf("%s %dx%d %s", tr.Name, tr.Width, tr.Height, tr.Codec))
	}
	if got, want := fmt.Sprint(names), "[v180 320x180 avc1.42c015 v90 160x90 avc1.42c00c audio 0x0 mp4a.40.2]"; got != want {
		t.Fatalf("tracks %s, want %s", got, want)
	}
	for tr, track := range tracks {
		// The rates follow from the sizes of the 8 segments that lcm(16 s, 6 s) holds.
		var peak, total int
		for n := range uint64(8) {
			peak, total = max(peak, s.Size(tr, n)), total+s.Size(tr, n)
		}
		if got, want := track.Bandwidth, peak*8/6; got < want || got > want+1 {
			t.Errorf("%s: Bandwidth %d, want %d", track.Name, got, want)
		}
		if got, want := track.AverageBandwidth, total*8/6/8; got < want || got > want+1 {
			t.Errorf("%s: AverageBandwidth %d, want %d", track.Name, got, want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name  string
		label int
		d     time.Duration
	}{
		{"label 0", 0, 2 * time.Second},
		{"label past the source", Labels() + 1, 2 * time.Second},
		{"fraction of a second", 1, 2500 * time.Millisecond},
		{"zero duration", 1, 0},
		{"over an hour", 1, 2 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.label, c.d); err == nil {
				t.Fatalf("New(%d, %v) = nil error", c.label, c.d)
			}
		})
	}
	if Labels() < 2 {
		t.Fatalf("Labels() = %d, want at least 2", Labels())
	}
}

func TestTSPackets(t *testing.T) {
	// The count the continuity counters rest on must match what appendPES writes, at the edges
	// of the first and the following packets.
	for _, size := range []int{0, 1, 161, 162, 163, 345, 346, 347, 1000, 70000} {
		b := appendPES(nil, pidVideo, 0xE0, make([]byte, size), true, 0, 0)
		if got, want := uint64(len(b)/packetSize), tsPackets(size); got != want || len(b)%packetSize != 0 {
			t.Errorf("frame of %d bytes: %d bytes written (%d packets), tsPackets says %d", size, len(b), got, want)
		}
		if got := demux(t, b); len(got) != 1 || len(got[0].data) != size {
			t.Errorf("frame of %d bytes read back as %d PES packets", size, len(got))
		}
	}
}

func BenchmarkSegment(b *testing.B) {
	for _, d := range []time.Duration{2 * time.Second, 6 * time.Second} {
		s, err := New(1, d)
		if err != nil {
			b.Fatal(err)
		}
		for tr, track := range s.Tracks() {
			b.Run(fmt.Sprintf("%v/%s", d, track.Name), func(b *testing.B) {
				var buf []byte
				var bytes int
				n := uint64(0)
				for b.Loop() {
					buf = s.AppendSegment(buf[:0], tr, n)
					bytes += len(buf)
					n++
				}
				b.ReportMetric(float64(bytes)/float64(b.N), "bytes/segment")
			})
		}
	}
}
