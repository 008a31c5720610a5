// Package media builds the MPEG-TS segments of an endless live stream (an H.264 ladder and AAC
// audio) from a small looped source embedded in the binary, for the local runtime's origins.
package media

import (
	"fmt"
	"time"
)

// Kind tells video from audio.
type Kind int

// The kinds of track.
const (
	Video Kind = iota
	Audio
)

// Track is one rendition of a Stream: its segments are a media playlist of their own.
type Track struct {
	Name          string // "v180", "v90", "audio": a name for URLs
	Kind          Kind
	Width, Height int     // 0 for audio
	FrameRate     float64 // 0 for audio
	Codec         string  // RFC 6381, for CODECS
	// Bandwidth and AverageBandwidth are the peak and the mean bit rate of its segments, TS
	// overhead included, at the stream's segment duration (for BANDWIDTH, AVERAGE-BANDWIDTH).
	Bandwidth, AverageBandwidth int
}

// Stream is an endless live stream cut into segments of one duration. Segment n starts at
// n x the segment duration on a timeline every Stream shares, whatever its label: segment n of
// two streams has the same timestamps, duration and frame count, as HLS redundant streams need.
// Safe for concurrent use.
type Stream struct {
	label  int
	d      uint64 // segment duration in 90 kHz ticks
	tracks []Track
	es     []*muxTrack // in the order of tracks
}

// muxTrack is what building a track's segments needs.
type muxTrack struct {
	pid        uint16
	streamType byte
	streamID   byte
	ticks      uint64 // frame duration
	frames     []frame
	// before[i] is the number of TS packets of frames 0..i-1 of the loop: the continuity
	// counter of a frame follows from it without building the segments before it.
	before []uint64
}

// PTSOffset is the PTS of the first frame of segment 0 (1 s, so that its PCR is positive).
// Timestamps are PTSOffset + t x 90 kHz modulo 2^33 for stream time t: they wrap after 26.5 h
// of stream time since segment 0, as every MPEG-TS stream does; players unwrap them.
const PTSOffset = clock

// Labels is the number of pictures the source has: label k shows "REGION k".
func Labels() int {
	lib, err := loadLibrary()
	if err != nil {
		return 0
	}
	return len(lib.video)
}

// New returns the stream of picture label (1..Labels()) cut into segments of duration d, a whole
// number of seconds: every segment then starts with a keyframe.
func New(label int, d time.Duration) (*Stream, error) {
	lib, err := loadLibrary()
	if err != nil {
		return nil, err
	}
	if label < 1 || label > len(lib.video) {
		return nil, fmt.Errorf("media: label %d: the source has labels 1 to %d", label, len(lib.video))
	}
	if d < time.Second || d > time.Hour || d%time.Second != 0 {
		return nil, fmt.Errorf("media: segment duration %v: want whole seconds from 1s to 1h", d)
	}
	s := &Stream{label: label, d: uint64(d/time.Second) * clock}
	for _, t := range lib.video[label-1] {
		s.add(t, Video, &muxTrack{pid: pidVideo, streamType: 0x1B, streamID: 0xE0, ticks: videoTicks})
	}
	s.add(lib.audio, Audio, &muxTrack{pid: pidAudio, streamType: 0x0F, streamID: 0xC0, ticks: audioTicks})
	return s, nil
}

func (s *Stream) add(t esTrack, kind Kind, m *muxTrack) {
	m.frames = t.frames
	m.before = make([]uint64, len(t.frames)+1)
	for i, f := range t.frames {
		m.before[i+1] = m.before[i] + tsPackets(len(f.data))
	}
	tr := Track{Name: t.name, Kind: kind, Width: t.width, Height: t.height, Codec: t.codec}
	if kind == Video {
		tr.FrameRate = clock / videoTicks
	}
	// Segments repeat after lcm(loop, d); their sizes give the bit rates.
	loop := uint64(LoopSeconds * clock)
	period := loop / gcd(loop, s.d)
	var total, peak uint64
	for n := range period {
		b := s.segmentBytes(m, n)
		total += b
		peak = max(peak, b)
	}
	secs := float64(s.d) / clock
	tr.Bandwidth = int(float64(peak*8)/secs + 0.5)
	tr.AverageBandwidth = int(float64(total*8)/float64(period)/secs + 0.5)
	s.tracks = append(s.tracks, tr)
	s.es = append(s.es, m)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Label returns the picture label.
func (s *Stream) Label() int { return s.label }

// SegmentDuration returns the nominal segment duration: that of every video segment.
func (s *Stream) SegmentDuration() time.Duration {
	return time.Duration(s.d/clock) * time.Second
}

// Tracks returns the video renditions, largest first, then the audio track.
func (s *Stream) Tracks() []Track { return s.tracks }

// frameRange returns the frames of segment n: those that start in [n*d, (n+1)*d), as indexes
// counted from the first frame of segment 0.
func (s *Stream) frameRange(m *muxTrack, n uint64) (first, end uint64) {
	ceil := func(t uint64) uint64 { return (t + m.ticks - 1) / m.ticks }
	return ceil(n * s.d), ceil((n + 1) * s.d)
}

// packetsBefore is the number of TS packets of frames 0..i-1.
func (m *muxTrack) packetsBefore(i uint64) uint64 {
	f := uint64(len(m.frames))
	return i/f*m.before[f] + m.before[i%f]
}

func (s *Stream) segmentBytes(m *muxTrack, n uint64) uint64 {
	a, b := s.frameRange(m, n)
	return (2 + m.packetsBefore(b) - m.packetsBefore(a)) * packetSize
}

// Duration returns the duration of segment n of track: the segment duration for video; for audio
// the frames that start within it, which differs from it by less than one frame (21.3 ms).
func (s *Stream) Duration(track int, n uint64) time.Duration {
	m := s.es[track]
	a, b := s.frameRange(m, n)
	return time.Duration((b-a)*m.ticks) * time.Second / clock
}

// Start returns when segment n of track starts, from the start of segment 0: n x the segment
// duration for video; for audio, the start of its first frame, up to one frame later.
func (s *Stream) Start(track int, n uint64) time.Duration {
	m := s.es[track]
	a, _ := s.frameRange(m, n)
	return time.Duration(a*m.ticks/clock)*time.Second + time.Duration(a*m.ticks%clock)*time.Second/clock
}

// Size returns the size in bytes of segment n of track.
func (s *Stream) Size(track int, n uint64) int { return int(s.segmentBytes(s.es[track], n)) }

// AppendSegment appends segment n of track (an index into Tracks) to dst: PAT, PMT, then one PES
// packet per frame. Continuity counters run on from segment n-1, so consecutive segments
// concatenate into one valid stream.
func (s *Stream) AppendSegment(dst []byte, track int, n uint64) []byte {
	m := s.es[track]
	a, b := s.frameRange(m, n)
	dst = appendPSI(dst, m.pid, m.streamType, byte(n))
	cc := byte(m.packetsBefore(a))
	f := uint64(len(m.frames))
	for i := a; i < b; i++ {
		fr := m.frames[i%f]
		dst = appendPES(dst, m.pid, m.streamID, fr.data, fr.key, (PTSOffset+i*m.ticks)%ptsWrap, cc)
		cc += byte(m.before[i%f+1] - m.before[i%f])
	}
	return dst
}
