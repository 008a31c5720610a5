package media

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"sync"
)

//go:generate go run gen.go

// source holds one loop of elementary streams made by gen.go: per label and rendition an Annex B
// H.264 stream, and one ADTS AAC stream that every label shares.
//
//go:embed source/*.h264 source/audio.aac
var source embed.FS

const (
	// LoopSeconds is the length of the source loop.
	LoopSeconds = 16
	clock       = 90000 // MPEG-TS timestamps tick at 90 kHz
	videoTicks  = clock / 25
	sampleRate  = 48000
	aacSamples  = 1024
	audioTicks  = clock * aacSamples / sampleRate // 1920: whole ticks, so audio timestamps never drift
)

// frame is one access unit (H.264) or one ADTS frame (AAC), as stored in the source.
type frame struct {
	data []byte
	key  bool
}

// esTrack is one loop of one elementary stream.
type esTrack struct {
	name          string
	width, height int
	codec         string // RFC 6381
	frames        []frame
}

// library is every source track, parsed once.
type library struct {
	video [][]esTrack // by label, then rendition from the largest
	audio esTrack
}

var loadLibrary = sync.OnceValues(func() (*library, error) { return parseLibrary(source) })

func parseLibrary(fsys fs.FS) (*library, error) {
	names, err := fs.Glob(fsys, "source/region*_*x*.h264")
	if err != nil {
		return nil, err
	}
	byLabel := map[int][]esTrack{}
	for _, name := range names {
		var label, w, h int
		if _, err := fmt.Sscanf(path.Base(name), "region%d_%dx%d.h264", &label, &w, &h); err != nil {
			return nil, fmt.Errorf("media source %s: name is not region<N>_<W>x<H>.h264: %w", name, err)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		t, err := parseH264(b)
		if err != nil {
			return nil, fmt.Errorf("media source %s: %w", name, err)
		}
		t.name, t.width, t.height = fmt.Sprintf("v%d", h), w, h
		byLabel[label] = append(byLabel[label], t)
	}
	lib := &library{}
	for label := 1; label <= len(byLabel); label++ {
		ts := byLabel[label]
		if len(ts) < 2 {
			return nil, fmt.Errorf("media source: label %d has %d renditions, want at least 2", label, len(ts))
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].height > ts[j].height })
		if lib.video != nil && len(ts) != len(lib.video[0]) {
			return nil, fmt.Errorf("media source: label %d has %d renditions, label 1 has %d", label, len(ts), len(lib.video[0]))
		}
		lib.video = append(lib.video, ts)
	}
	if len(lib.video) != len(byLabel) {
		return nil, fmt.Errorf("media source: labels are not numbered 1..%d", len(byLabel))
	}
	b, err := fs.ReadFile(fsys, "source/audio.aac")
	if err != nil {
		return nil, err
	}
	if lib.audio, err = parseADTS(b); err != nil {
		return nil, fmt.Errorf("media source audio.aac: %w", err)
	}
	lib.audio.name = "audio"
	return lib, nil
}

// parseH264 splits an Annex B stream into access units at each access unit delimiter, and checks
// that it is one loop of 1 s GOPs, each opening with an IDR that carries SPS and PPS.
func parseH264(b []byte) (esTrack, error) {
	var t esTrack
	var sps []byte
	start := -1
	var hasSPS, hasPPS, hasIDR bool
	finish := func(end int) error {
		if start < 0 {
			return nil
		}
		i := len(t.frames)
		if key := i%(clock/videoTicks) == 0; key != hasIDR || key && (!hasSPS || !hasPPS) {
			return fmt.Errorf("access unit %d: IDR=%t SPS=%t PPS=%t, want an IDR with SPS and PPS exactly every 25 frames", i, hasIDR, hasSPS, hasPPS)
		}
		t.frames = append(t.frames, frame{data: b[start:end], key: hasIDR})
		hasSPS, hasPPS, hasIDR = false, false, false
		return nil
	}
	for i := 0; i+3 < len(b); {
		if b[i] != 0 || b[i+1] != 0 || b[i+2] != 1 {
			i++
			continue
		}
		sc := i // a 4-byte start code belongs to this NAL unit
		if sc > 0 && b[sc-1] == 0 {
			sc--
		}
		nal := b[i+3]
		switch nal & 0x1F {
		case 9: // access unit delimiter: a new frame
			if err := finish(sc); err != nil {
				return t, err
			}
			start = sc
		case 7:
			hasSPS = true
			if sps == nil && i+6 < len(b) {
				sps = b[i+3 : i+7]
			}
		case 8:
			hasPPS = true
		case 5:
			hasIDR = true
		}
		if start < 0 {
			return t, fmt.Errorf("byte %d: NAL unit type %d before the first access unit delimiter", sc, nal&0x1F)
		}
		i += 3
	}
	if err := finish(len(b)); err != nil {
		return t, err
	}
	if want := LoopSeconds * clock / videoTicks; len(t.frames) != want {
		return t, fmt.Errorf("%d access units, want %d (%d s at 25 fps)", len(t.frames), want, LoopSeconds)
	}
	// avc1.PPCCLL: profile_idc, the constraint flags byte and level_idc of the SPS.
	t.codec = fmt.Sprintf("avc1.%02x%02x%02x", sps[1], sps[2], sps[3])
	return t, nil
}

// parseADTS splits an ADTS stream into frames and checks that it is one loop of AAC-LC at 48 kHz.
func parseADTS(b []byte) (esTrack, error) {
	var t esTrack
	for off := 0; off < len(b); {
		if off+7 > len(b) || b[off] != 0xFF || b[off+1]&0xF0 != 0xF0 {
			return t, fmt.Errorf("byte %d: no ADTS header", off)
		}
		profile, freq := b[off+2]>>6, b[off+2]>>2&0xF
		if profile != 1 || freq != 3 {
			return t, fmt.Errorf("byte %d: ADTS profile %d, frequency index %d, want AAC-LC (1) at 48 kHz (3)", off, profile, freq)
		}
		n := int(b[off+3]&3)<<11 | int(b[off+4])<<3 | int(b[off+5])>>5
		if n < 7 || off+n > len(b) {
			return t, fmt.Errorf("byte %d: ADTS frame length %d", off, n)
		}
		t.frames = append(t.frames, frame{data: b[off : off+n], key: true})
		off += n
	}
	if want := LoopSeconds * sampleRate / aacSamples; len(t.frames) != want {
		return t, fmt.Errorf("%d AAC frames, want %d (%d s)", len(t.frames), want, LoopSeconds)
	}
	t.codec = "mp4a.40.2"
	return t, nil
}
