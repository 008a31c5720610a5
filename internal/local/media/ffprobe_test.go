package media

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestFFprobeDecodes has ffprobe decode every frame of consecutive segments concatenated, across
// the loop point, and report no error.
func TestFFprobeDecodes(t *testing.T) {
	ffprobe := testenv.Command(t, "ffprobe", "the media decode test")
	for _, d := range []time.Duration{2 * time.Second, 6 * time.Second} {
		s, err := New(3, d)
		if err != nil {
			t.Fatal(err)
		}
		for tr, track := range s.Tracks() {
			t.Run(d.String()+"/"+track.Name, func(t *testing.T) {
				var b []byte
				wantFrames := 0
				for n := uint64(5); n < 5+uint64(40*time.Second/d); n++ { // 40 s: two loop points
					b = s.AppendSegment(b, tr, n)
					a, e := s.frameRange(s.es[tr], n)
					wantFrames += int(e - a)
				}
				file := filepath.Join(t.TempDir(), track.Name+".ts")
				if err := os.WriteFile(file, b, 0o644); err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(ffprobe, "-v", "error", "-count_frames", "-show_entries",
					"stream=codec_name,profile,width,height,sample_rate,channels,nb_read_frames", "-of", "json", file)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil || stderr.Len() > 0 {
					t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
				}
				var out struct {
					Streams []struct {
						CodecName    string `json:"codec_name"`
						Profile      string `json:"profile"`
						Width        int    `json:"width"`
						Height       int    `json:"height"`
						SampleRate   string `json:"sample_rate"`
						NbReadFrames string `json:"nb_read_frames"`
					} `json:"streams"`
				}
				if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out.Streams) != 1 {
					t.Fatalf("ffprobe output %s: %v", stdout.String(), err)
				}
				st := out.Streams[0]
				if got, want := st.NbReadFrames, strconv.Itoa(wantFrames); got != want {
					t.Errorf("decoded %s frames, want %s", got, want)
				}
				switch track.Kind {
				case Video:
					if st.CodecName != "h264" || st.Profile != "Constrained Baseline" || st.Width != track.Width || st.Height != track.Height {
						t.Errorf("ffprobe reads %+v, want h264 constrained baseline %dx%d", st, track.Width, track.Height)
					}
				case Audio:
					if st.CodecName != "aac" || st.Profile != "LC" || st.SampleRate != "48000" {
						t.Errorf("ffprobe reads %+v, want AAC LC at 48000 Hz", st)
					}
				}
			})
		}
	}
}
