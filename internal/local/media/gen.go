//go:build ignore

// gen makes the elementary streams in source/ with Debian's ffmpeg (5.1, libx264, the native AAC
// encoder): `go generate ./internal/local/media` (or `go run gen.go` in this folder). It prints
// every ffmpeg command it runs. Only this step needs ffmpeg; building segments needs only Go.
package main

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	loopSeconds = 16 // a multiple of 8 s: 48 kHz AAC frames (1024 samples) then tile the loop exactly
	labels      = 3  // pictures "REGION 1" .. "REGION 3"
	font        = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
)

// renditions are the video ladder: width x height and the label's font size.
var renditions = []struct{ w, h, fontSize int }{{320, 180, 22}, {160, 90, 11}}

func main() {
	for label := 1; label <= labels; label++ {
		for _, r := range renditions {
			video(label, r.w, r.h, r.fontSize)
		}
	}
	audio()
}

// video writes source/region<label>_<w>x<h>.h264: Annex B, constrained baseline (no B-frames, so
// DTS = PTS), 25 fps, an IDR with SPS/PPS every second, an access unit delimiter before each
// frame. The picture: the label, the second of the loop, and a marker that crosses once per loop.
func video(label, w, h, fs int) {
	filter := strings.Join([]string{
		fmt.Sprintf("color=c=0x1d3557:s=%dx%d:r=25:d=%d", w, h, loopSeconds),
		fmt.Sprintf("drawtext=fontfile=%s:text='REGION %d':fontcolor=white:fontsize=%d:x=(w-tw)/2:y=h/5", font, label, fs),
		fmt.Sprintf(`drawtext=fontfile=%s:text='%%{eif\:t\:d\:2}':fontcolor=0xffd166:fontsize=%d:x=(w-tw)/2:y=h*2/5`, font, 2*fs),
		"drawbox=x=0:y=ih*7/8:w=iw:h=ih/16:c=0x457b9d:t=fill",
		fmt.Sprintf("drawtext=fontfile=%s:text='|':fontcolor=white:fontsize=%d:x=(w-tw)*t/%d:y=h*13/16", font, fs, loopSeconds),
	}, ",")
	run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", filter,
		"-c:v", "libx264", "-profile:v", "baseline", "-preset", "veryslow", "-tune", "stillimage", "-crf", "30",
		"-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-bf", "0", "-x264-params", "repeat-headers=1",
		"-bsf:v", "h264_metadata=aud=insert", "-f", "h264",
		filepath.Join("source", fmt.Sprintf("region%d_%dx%d.h264", label, w, h)))
}

// audio writes source/audio.aac: one loop of ADTS AAC-LC, 48 kHz mono, 24 kb/s; a 440 Hz tone
// with an 880 Hz beep at each second (both periodic in the loop). Three loops are encoded and the
// middle one kept, so that the encoder's priming and its ending are cut off and the last frame
// leads into the first without a click.
func audio() {
	tmp := filepath.Join(os.TempDir(), "cvs-audio-3loops.aac")
	run("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
		fmt.Sprintf("sine=frequency=440:beep_factor=2:sample_rate=48000:duration=%d", 3*loopSeconds),
		"-ac", "1", "-c:a", "aac", "-b:a", "24k", "-f", "adts", tmp)
	b, err := os.ReadFile(tmp)
	if err != nil {
		log.Fatal(err)
	}
	frames := loopSeconds * 48000 / 1024
	var starts []int
	for off := 0; off+7 <= len(b); {
		if b[off] != 0xFF || b[off+1]&0xF0 != 0xF0 {
			log.Fatalf("%s: no ADTS sync word at byte %d", tmp, off)
		}
		starts = append(starts, off)
		off += int(b[off+3]&3)<<11 | int(b[off+4])<<3 | int(b[off+5])>>5
	}
	starts = append(starts, len(b))
	if len(starts)-1 < 2*frames {
		log.Fatalf("%s: %d frames, want at least %d", tmp, len(starts)-1, 2*frames)
	}
	fmt.Printf("keep ADTS frames [%d, %d) of %d\n", frames, 2*frames, len(starts)-1)
	if err := os.WriteFile(filepath.Join("source", "audio.aac"), b[starts[frames]:starts[2*frames]], 0o644); err != nil {
		log.Fatal(err)
	}
	os.Remove(tmp)
}

func run(name string, args ...string) {
	fmt.Println(name, strings.Join(quote(args), " "))
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v", name, err)
	}
}

func quote(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '\\%,=:|*") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}
