package hls

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/grafov/m3u8"
)

var mergeUpdate = flag.Bool("update", false, "rewrite the golden files under testdata/merge")

// masterCaseSource is one input of a master case: a file under testdata/master (optionally edited) or
// an inline body.
type masterCaseSource struct {
	name, url string
	file      string
	replace   []string // old, new pairs applied to the file, in order
	body      string   // used when file is empty
	// parse is what ParseMaster makes of the body (masterSummary), or "error: " and a part of
	// the error message.
	parse string
}

// masterCase is a real-shaped merge: its sources, what parsing each gives and what merging them
// gives: a golden file and warnings, or an error.
type masterCase struct {
	name     string
	sources  []masterCaseSource
	opts     MergeOptions
	golden   string   // file under testdata/merge
	warnings []string // MergeWarning.String() of every warning, in order
	wantErr  error    // errors.Is target
	errText  string   // the whole error message
}

const (
	mergeEUURL = "https://d1q747mcnm9q46.cloudfront.net/out/v1/f53b2dd7810e43f4a05bffec4aa5c7a1/index.m3u8"
	mergeUSURL = "https://d3623mp9gw7c0l.cloudfront.net/out/v1/3889cc3066c34b11ad01a1be071fb09a/index.m3u8"
	mergeAPURL = "https://d2zihajmogu5jn.cloudfront.net/out/v1/9b1e2c7d3a4f4e5c8d6a7b8c9d0e1f2a/index.m3u8"
)

func masterCases() []masterCase {
	mp := func(name, url string) masterCaseSource {
		return masterCaseSource{name: name, url: url, file: "mediapackage.m3u8", parse: "version=3 independent variants=4 iframes=2 renditions=1 header=0"}
	}
	adv := func(name, url string) masterCaseSource {
		return masterCaseSource{name: name, url: url, file: "advanced-fmp4.m3u8", parse: "version=7 independent variants=6 iframes=4 renditions=6 header=5"}
	}
	seed := func(name, url string) masterCaseSource {
		return masterCaseSource{name: name, url: url, file: "seed002-region.m3u8", parse: "version=4 independent variants=3 iframes=1 renditions=0 header=0"}
	}
	ml := func(name, url string) masterCaseSource {
		return masterCaseSource{name: name, url: url, file: "medialive.m3u8", parse: "version=3 independent variants=4 iframes=0 renditions=0 header=0"}
	}
	return []masterCase{
		{
			name:    "seed 002 install guide: two CloudFront regions",
			sources: []masterCaseSource{seed("RegionOne", mergeEUURL), seed("RegionTwo", mergeUSURL)},
			golden:  "seed002-two-regions.m3u8",
		},
		{
			name: "CRLF line endings, a byte order mark and blank lines change nothing",
			sources: []masterCaseSource{
				{name: "RegionOne", url: mergeEUURL, file: "seed002-region.m3u8", replace: []string{"\n", "\r\n", "#EXTM3U", "\ufeff#EXTM3U\r\n"}, parse: "version=4 independent variants=3 iframes=1 renditions=0 header=0"},
				seed("RegionTwo", mergeUSURL),
			},
			golden: "seed002-two-regions.m3u8",
		},
		{
			name:    "MediaPackage: audio group and manifest-filter query strings",
			sources: []masterCaseSource{mp("eu-west-1", mergeEUURL), mp("us-east-1", mergeUSURL)},
			golden:  "mediapackage-two-regions.m3u8",
		},
		{
			name:    "MediaLive: three regions",
			sources: []masterCaseSource{ml("eu-west-1", mergeEUURL), ml("us-east-1", mergeUSURL), ml("ap-southeast-2", mergeAPURL)},
			golden:  "medialive-three-regions.m3u8",
		},
		{
			name:    "advanced fMP4 master: audio, subtitles, closed captions, I-frames, session tags",
			sources: []masterCaseSource{adv("eu-west-1", mergeEUURL), adv("us-east-1", mergeUSURL)},
			golden:  "advanced-two-regions.m3u8",
		},
		{
			name:    "content steering: one pathway per region",
			sources: []masterCaseSource{adv("eu-west-1", mergeEUURL), adv("us-east-1", mergeUSURL)},
			opts:    MergeOptions{SteeringURI: "https://steering.example.com/harbour.json?session=1"},
			golden:  "advanced-steering.m3u8",
		},
		{
			name: "encoder failover in one S3 bucket: relative URIs under primary/ and failover/",
			sources: []masterCaseSource{
				{name: "primary", url: "primary/index.m3u8", file: "elemental-live.m3u8", parse: "version=3 variants=2 iframes=0 renditions=0 header=0"},
				{name: "failover", url: "failover/index.m3u8", file: "elemental-live.m3u8", parse: "version=3 variants=2 iframes=0 renditions=0 header=0"},
			},
			opts:   MergeOptions{Relative: true},
			golden: "s3-primary-failover.m3u8",
		},
		{
			name: "differing ladders are merged and reported",
			sources: []masterCaseSource{
				mp("eu-west-1", mergeEUURL),
				{
					name: "us-east-1", url: mergeUSURL, file: "mediapackage.m3u8",
					replace: []string{
						"#EXT-X-STREAM-INF:BANDWIDTH=5014000,AVERAGE-BANDWIDTH=4614000,RESOLUTION=1920x1080,FRAME-RATE=29.970,CODECS=\"avc1.640029,mp4a.40.2\",AUDIO=\"audio_aac\"\nindex_1.m3u8?aws.manifestfilter=video_height:1-1080\n", "",
						"AVERAGE-BANDWIDTH=3014000", "AVERAGE-BANDWIDTH=3021000",
						"NAME=\"Alternate Audio\"", "NAME=\"English\"",
					},
					parse: "version=3 independent variants=3 iframes=2 renditions=1 header=0",
				},
			},
			golden: "differing-ladders.m3u8",
			warnings: []string{
				`us-east-1 line 5: variant BANDWIDTH=3314000,AVERAGE-BANDWIDTH=3021000,RESOLUTION=1280x720,FRAME-RATE=29.970,CODECS="avc1.4D401F,mp4a.40.2",AUDIO="audio_aac" has no match in eu-west-1`,
				`us-east-1: lacks eu-west-1's variant BANDWIDTH=5014000,AVERAGE-BANDWIDTH=4614000,RESOLUTION=1920x1080,FRAME-RATE=29.970,CODECS="avc1.640029,mp4a.40.2",AUDIO="audio_aac" (eu-west-1 line 5)`,
				`us-east-1: lacks eu-west-1's variant BANDWIDTH=3314000,AVERAGE-BANDWIDTH=3014000,RESOLUTION=1280x720,FRAME-RATE=29.970,CODECS="avc1.4D401F,mp4a.40.2",AUDIO="audio_aac" (eu-west-1 line 7)`,
				`us-east-1 line 4: rendition TYPE=AUDIO,LANGUAGE="eng",NAME="English",AUTOSELECT=YES,DEFAULT=YES,CHANNELS="2",GROUP-ID="audio_aac" has no match in eu-west-1`,
				`us-east-1: lacks eu-west-1's rendition TYPE=AUDIO,LANGUAGE="eng",NAME="Alternate Audio",AUTOSELECT=YES,DEFAULT=YES,CHANNELS="2",GROUP-ID="audio_aac" (eu-west-1 line 4)`,
			},
		},
		{
			name: "highest version, and EXT-X-INDEPENDENT-SEGMENTS only when every source has it",
			sources: []masterCaseSource{
				ml("eu-west-1", mergeEUURL),
				{
					name: "us-east-1", url: mergeUSURL, file: "medialive.m3u8",
					replace: []string{"#EXT-X-INDEPENDENT-SEGMENTS\n", "", "VERSION:3", "VERSION:6"},
					parse:   "version=6 variants=4 iframes=0 renditions=0 header=0",
				},
			},
			golden:   "independent-segments-dropped.m3u8",
			warnings: []string{"us-east-1: has no EXT-X-INDEPENDENT-SEGMENTS, so the merged master does not claim it"},
		},
		{
			name: "conflicting EXT-X-START and session data keep the first source's and warn",
			sources: []masterCaseSource{
				adv("eu-west-1", mergeEUURL),
				{
					name: "us-east-1", url: mergeUSURL, file: "advanced-fmp4.m3u8",
					replace: []string{"TIME-OFFSET=-18.0", "TIME-OFFSET=-12.0", "Harbour cam, live", "Harbour cam (US)"},
					parse:   "version=7 independent variants=6 iframes=4 renditions=6 header=5",
				},
			},
			golden: "conflicting-session-tags.m3u8",
			warnings: []string{
				`us-east-1 line 5: #EXT-X-START:TIME-OFFSET=-12.0,PRECISE=YES differs from eu-west-1's #EXT-X-START:TIME-OFFSET=-18.0,PRECISE=YES; kept eu-west-1's`,
				`us-east-1 line 6: #EXT-X-SESSION-DATA:DATA-ID="com.example.title",VALUE="Harbour cam (US)",LANGUAGE="en" differs from eu-west-1's #EXT-X-SESSION-DATA:DATA-ID="com.example.title",VALUE="Harbour cam, live",LANGUAGE="en" for the same DATA-ID and LANGUAGE; kept eu-west-1's`,
			},
		},
		{
			name: "unknown tags are kept once and comments dropped",
			sources: []masterCaseSource{
				{name: "a", url: mergeEUURL, body: "#EXTM3U\n# packager comment\n#EXT-X-VENDOR-HINT:x=1\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlow.m3u8\n", parse: "version=0 variants=1 iframes=0 renditions=0 header=1"},
				{name: "b", url: mergeUSURL, body: "#EXTM3U\n#EXT-X-VENDOR-HINT:x=1\n#EXT-X-VENDOR-OTHER\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlow.m3u8\n", parse: "version=0 variants=1 iframes=0 renditions=0 header=2"},
			},
			golden: "unknown-tags.m3u8",
		},
		{
			name: "media playlist given as a master",
			sources: []masterCaseSource{
				seed("RegionOne", mergeEUURL),
				{name: "RegionTwo", url: mergeUSURL, file: "media-playlist.m3u8", parse: "error: line 3 EXT-X-TARGETDURATION: not a master playlist"},
			},
			wantErr: ErrNotMaster,
			errText: "source RegionTwo (" + mergeUSURL + "): line 3 EXT-X-TARGETDURATION: not a master playlist: EXT-X-TARGETDURATION is a media playlist tag",
		},
		{
			name: "HTML error page instead of a playlist",
			sources: []masterCaseSource{
				{name: "eu-west-1", url: mergeEUURL, file: "cloudfront-403.html", parse: "error: line 1: not a master playlist"},
			},
			wantErr: ErrNotMaster,
			errText: "source eu-west-1 (" + mergeEUURL + `): line 1: not a master playlist: starts with "<!DOCTYPE HTML PUBLI...", not #EXTM3U`,
		},
		{
			name: "binary garbage",
			sources: []masterCaseSource{
				seed("eu-west-1", mergeEUURL),
				{name: "us-east-1", url: mergeUSURL, body: "PK\x03\x04\x14\x00\x00\x00", parse: "error: line 1: not a master playlist: control character"},
			},
			wantErr: ErrNotMaster,
			errText: "source us-east-1 (" + mergeUSURL + "): line 1: not a master playlist: control character 0x03 at byte 2",
		},
		{
			name:    "empty body",
			sources: []masterCaseSource{{name: "eu-west-1", url: mergeEUURL, body: "", parse: "error: not a master playlist: empty input"}},
			wantErr: ErrNotMaster,
			errText: "source eu-west-1 (" + mergeEUURL + "): not a master playlist: empty input",
		},
		{
			name: "master without variants",
			sources: []masterCaseSource{
				seed("eu-west-1", mergeEUURL),
				{name: "us-east-1", url: mergeUSURL, file: "renditions-only.m3u8", parse: "error: master playlist has no variants"},
			},
			wantErr: ErrNoVariants,
			errText: "source us-east-1 (" + mergeUSURL + "): master playlist has no variants",
		},
		{
			name: "variant without its URI line",
			sources: []masterCaseSource{
				{name: "eu-west-1", url: mergeEUURL, body: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n#EXT-X-STREAM-INF:BANDWIDTH=2000\nhi.m3u8\n", parse: "error: line 3 EXT-X-STREAM-INF: invalid master playlist tag"},
			},
			wantErr: ErrMasterTag,
			errText: "source eu-west-1 (" + mergeEUURL + "): line 3 EXT-X-STREAM-INF: invalid master playlist tag: EXT-X-STREAM-INF on line 2 has no URI line",
		},
		{
			name: "unterminated quoted string",
			sources: []masterCaseSource{
				{name: "eu-west-1", url: mergeEUURL, body: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000,CODECS=\"avc1.4d401f,mp4a.40.2\nlo.m3u8\n", parse: "error: line 2 EXT-X-STREAM-INF: malformed attribute list"},
			},
			wantErr: ErrAttrList,
			errText: "source eu-west-1 (" + mergeEUURL + "): line 2 EXT-X-STREAM-INF: malformed attribute list: attribute CODECS: unterminated quoted-string",
		},
		{
			name: "variant without BANDWIDTH",
			sources: []masterCaseSource{
				{name: "eu-west-1", url: mergeEUURL, body: "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=640x360\nlo.m3u8\n", parse: "error: line 2 EXT-X-STREAM-INF: invalid master playlist tag: no BANDWIDTH"},
			},
			wantErr: ErrMasterTag,
			errText: "source eu-west-1 (" + mergeEUURL + "): line 2 EXT-X-STREAM-INF: invalid master playlist tag: no BANDWIDTH",
		},
		{
			name:    "source URL that is not absolute",
			sources: []masterCaseSource{seed("eu-west-1", "/out/v1/index.m3u8")},
			wantErr: ErrMergeInput,
			errText: `source eu-west-1 (/out/v1/index.m3u8): invalid merge input: URL "/out/v1/index.m3u8" is not an absolute http(s) URL`,
		},
		{
			name:    "the same name twice",
			sources: []masterCaseSource{seed("eu-west-1", mergeEUURL), seed("eu-west-1", mergeUSURL)},
			wantErr: ErrMergeInput,
			errText: "source eu-west-1 (" + mergeUSURL + "): invalid merge input: name used twice",
		},
		{
			name:    "name that cannot be a pathway",
			sources: []masterCaseSource{seed("eu west", mergeEUURL)},
			wantErr: ErrMergeInput,
			errText: "source eu west (" + mergeEUURL + `): invalid merge input: source name "eu west" may hold only letters, digits, '.', '-' and '_'`,
		},
		{
			name: "relative URI above the merged master's folder",
			sources: []masterCaseSource{
				{name: "primary", url: "primary/index.m3u8", body: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n../../etc/lo.m3u8\n", parse: "version=0 variants=1 iframes=0 renditions=0 header=0"},
			},
			opts:    MergeOptions{Relative: true},
			wantErr: errMergeAboveRoot,
			errText: `source primary (primary/index.m3u8): line 3 URI: "../../etc/lo.m3u8": climbs above the merged master's folder`,
		},
		{
			name: "a variable defined differently by two sources",
			sources: []masterCaseSource{
				{name: "a", url: mergeEUURL, body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"cdn\",VALUE=\"a.example\"\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlo.m3u8\n", parse: "version=0 variants=1 iframes=0 renditions=0 header=1"},
				{name: "b", url: mergeUSURL, body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"cdn\",VALUE=\"b.example\"\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlo.m3u8\n", parse: "version=0 variants=1 iframes=0 renditions=0 header=1"},
			},
			wantErr: ErrMergeInput,
			errText: "source b (" + mergeUSURL + `): line 2 EXT-X-DEFINE: invalid merge input: variable "cdn" is defined differently by another source (#EXT-X-DEFINE:NAME="cdn",VALUE="a.example")`,
		},
		{
			// The merge edits GROUP-ID, AUDIO and URI in place: blanks around commas, the order of
			// the attributes and quoted commas and '=' stay byte for byte, which a merge rebuilding
			// lists from name=value pairs would lose.
			name: "unusual but legal spacing, order and quoting in edited tags survive byte for byte",
			sources: []masterCaseSource{
				{name: "primary", url: mergeEUURL, body: "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-MEDIA:URI=\"audio/en.m3u8\" , NAME=\"English, main=1\" ,TYPE=AUDIO,\tGROUP-ID=\"aud\",DEFAULT=YES ,LANGUAGE=\"en\"\n#EXT-X-STREAM-INF:AUDIO=\"aud\" ,CODECS=\"avc1.4d401f,mp4a.40.2\",BANDWIDTH=1000 ,\tRESOLUTION=640x360,FRAME-RATE=29.970,X-CUSTOM=\"k=v, w\"\nlo.m3u8\n#EXT-X-I-FRAME-STREAM-INF:CODECS=\"avc1.4d401f\" , URI=\"lo-iframe.m3u8\",BANDWIDTH=200\n", parse: "version=4 variants=1 iframes=1 renditions=1 header=0"},
				{name: "failover", url: mergeUSURL, body: "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-MEDIA:URI=\"audio/en.m3u8\" , NAME=\"English, main=1\" ,TYPE=AUDIO,\tGROUP-ID=\"aud\",DEFAULT=YES ,LANGUAGE=\"en\"\n#EXT-X-STREAM-INF:AUDIO=\"aud\" ,CODECS=\"avc1.4d401f,mp4a.40.2\",BANDWIDTH=1000 ,\tRESOLUTION=640x360,FRAME-RATE=29.970,X-CUSTOM=\"k=v, w\"\nhi.m3u8\n#EXT-X-I-FRAME-STREAM-INF:CODECS=\"avc1.4d401f\" , URI=\"hi-iframe.m3u8\",BANDWIDTH=200\n", parse: "version=4 variants=1 iframes=1 renditions=1 header=0"},
			},
			golden: "unusual-attribute-spacing.m3u8",
		},
		{
			name: "variables resolved per source, QUERYPARAM from each source's URL",
			sources: []masterCaseSource{
				{name: "eu-west-1", url: mergeEUURL + "?token=abc", body: defineMaster, parse: "version=0 variants=2 iframes=0 renditions=1 header=2"},
				{name: "us-east-1", url: mergeUSURL + "?token=abc", body: defineMaster, parse: "version=0 variants=2 iframes=0 renditions=1 header=2"},
			},
			golden: "define-two-regions.m3u8",
		},
		{
			name: "variables of an encoder pair resolved in relative mode",
			sources: []masterCaseSource{
				{name: "primary", url: "primary/index.m3u8", body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"r\",VALUE=\"720p\"\n#EXT-X-STREAM-INF:BANDWIDTH=3000000\nvideo_{$r}.m3u8\n", parse: "version=0 variants=1 iframes=0 renditions=0 header=1"},
				{name: "failover", url: "failover/index.m3u8", body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"r\",VALUE=\"720p\"\n#EXT-X-STREAM-INF:BANDWIDTH=3000000\nvideo_{$r}.m3u8\n", parse: "version=0 variants=1 iframes=0 renditions=0 header=1"},
			},
			opts:   MergeOptions{Relative: true},
			golden: "define-encoder-pair.m3u8",
		},
		{
			name: "a QUERYPARAM that differs between sources would give one region's media playlists another's value",
			sources: []masterCaseSource{
				{name: "eu-west-1", url: mergeEUURL + "?token=abc", body: defineMaster, parse: "version=0 variants=2 iframes=0 renditions=1 header=2"},
				{name: "us-east-1", url: mergeUSURL + "?token=xyz", body: defineMaster, parse: "version=0 variants=2 iframes=0 renditions=1 header=2"},
			},
			wantErr: ErrMergeInput,
			errText: "source us-east-1 (" + mergeUSURL + "?token=xyz" + `): line 3 EXT-X-DEFINE: invalid merge input: variable "token" is defined differently by another source (#EXT-X-DEFINE:NAME="token",VALUE="abc")`,
		},
		{
			name: "a reference no EXT-X-DEFINE resolves is refused, never published",
			sources: []masterCaseSource{
				{name: "eu-west-1", url: mergeEUURL, body: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n{$cdn}/lo.m3u8\n", parse: "version=0 variants=1 iframes=0 renditions=0 header=0"},
			},
			wantErr: ErrVariable,
			errText: "source eu-west-1 (" + mergeEUURL + "): line 3: unresolved EXT-X-DEFINE variable: {$cdn} is not defined by any EXT-X-DEFINE",
		},
		{
			name: "a QUERYPARAM the source URL lacks is refused",
			sources: []masterCaseSource{
				{name: "eu-west-1", url: mergeEUURL, body: defineMaster, parse: "version=0 variants=2 iframes=0 renditions=1 header=2"},
			},
			wantErr: ErrVariable,
			errText: "source eu-west-1 (" + mergeEUURL + "): line 3 EXT-X-DEFINE: unresolved EXT-X-DEFINE variable: QUERYPARAM=\"token\": the playlist URL " + mergeEUURL + " has no such query parameter",
		},
		{
			name: "IMPORT in a master is refused",
			sources: []masterCaseSource{
				{name: "eu-west-1", url: mergeEUURL, body: "#EXTM3U\n#EXT-X-DEFINE:IMPORT=\"cdn\"\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n{$cdn}/lo.m3u8\n", parse: "version=0 variants=1 iframes=0 renditions=0 header=1"},
			},
			wantErr: ErrVariable,
			errText: "source eu-west-1 (" + mergeEUURL + `): line 2 EXT-X-DEFINE: unresolved EXT-X-DEFINE variable: IMPORT="cdn": a master playlist has nothing to import from (IMPORT is for media playlists)`,
		},
	}
}

// defineMaster uses EXT-X-DEFINE as RFC 8216bis 4.4.2.3 allows in a master: a variable with a
// value (an absolute CDN prefix), one from the master URL's query (a token), referenced in URI
// lines and in a rendition's URI attribute.
const defineMaster = `#EXTM3U
#EXT-X-DEFINE:NAME="cdn",VALUE="https://cdn.example.com/live"
#EXT-X-DEFINE:QUERYPARAM="token"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,URI="{$cdn}/audio.m3u8?token={$token}"
#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS="avc1.64001e,mp4a.40.2",AUDIO="aud"
{$cdn}/lo.m3u8?token={$token}
#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud"
hi.m3u8?token={$token}
`

// body returns the source's playlist text.
func (s masterCaseSource) read(t testing.TB) []byte {
	t.Helper()
	if s.file == "" {
		return []byte(s.body)
	}
	b := string(masterRead(t, filepath.Join("testdata", "master", s.file)))
	for i := 0; i+1 < len(s.replace); i += 2 {
		if !strings.Contains(b, s.replace[i]) {
			t.Fatalf("%s: replace %q: not in the file", s.file, s.replace[i])
		}
		b = strings.ReplaceAll(b, s.replace[i], s.replace[i+1])
	}
	return []byte(b)
}

func (c masterCase) mergeSources(t testing.TB) []MergeSource {
	out := make([]MergeSource, len(c.sources))
	for i, s := range c.sources {
		out[i] = MergeSource{Name: s.name, URL: s.url, Body: s.read(t)}
	}
	return out
}

// masterSummary describes a parsed master in one line.
func masterSummary(m *Master) string {
	s := fmt.Sprintf("version=%d", m.Version)
	if m.IndependentSegments {
		s += " independent"
	}
	return s + fmt.Sprintf(" variants=%d iframes=%d renditions=%d header=%d", len(m.Variants), len(m.IFrames), len(m.Renditions), len(m.Header))
}

func TestParseMasterCases(t *testing.T) {
	for _, c := range masterCases() {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range c.sources {
				if s.parse == "" {
					t.Fatalf("source %s: the case does not say what parsing gives", s.name)
				}
				m, err := ParseMaster(s.read(t))
				if want, ok := strings.CutPrefix(s.parse, "error: "); ok {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("source %s: ParseMaster error = %v, want one containing %q", s.name, err, want)
					}
					continue
				}
				if err != nil {
					t.Fatalf("source %s: ParseMaster: %v", s.name, err)
				}
				if got := masterSummary(m); got != s.parse {
					t.Errorf("source %s: parsed %q, want %q", s.name, got, s.parse)
				}
			}
		})
	}
}

func TestMergeCases(t *testing.T) {
	for _, c := range masterCases() {
		t.Run(c.name, func(t *testing.T) {
			sources := c.mergeSources(t)
			got, err := Merge(sources, c.opts)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Merge error = %v, want %v", err, c.wantErr)
				}
				if err.Error() != c.errText {
					t.Fatalf("Merge error:\n got %s\nwant %s", err, c.errText)
				}
				var se *MergeSourceError
				if !errors.As(err, &se) || se.Source == "" {
					t.Fatalf("Merge error %v does not name its source", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			golden := filepath.Join("testdata", "merge", c.golden)
			if *mergeUpdate {
				if err := os.WriteFile(golden, got.Playlist, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(string(masterRead(t, golden)), string(got.Playlist)); diff != "" {
				t.Errorf("merged master differs from %s (-golden +got):\n%s", golden, diff)
			}
			var warnings []string
			for _, w := range got.Warnings {
				warnings = append(warnings, w.String())
			}
			if diff := cmp.Diff(c.warnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			again, err := Merge(c.mergeSources(t), c.opts)
			if err != nil || !bytes.Equal(again.Playlist, got.Playlist) {
				t.Errorf("a second merge of the same input gave different output (err %v)", err)
			}
			if err := mergeCheckOutput(sources, c.opts, got.Playlist); err != nil {
				t.Error(err)
			}
		})
	}
}

// mergeCheckOutput checks what must hold for every merge: the output is a master playlist (for this
// parser and, when it accepts the inputs, for grafov too) that holds every source's variants,
// I-frame variants and renditions with every attribute but the rewritten ones unchanged, with
// absolute URIs unless in relative mode and group names namespaced by source.
func mergeCheckOutput(sources []MergeSource, opts MergeOptions, out []byte) error {
	merged, err := ParseMaster(out)
	if err != nil {
		return fmt.Errorf("merged output does not parse: %v\n%s", err, out)
	}
	var want [3][]string
	grafovInputs := true
	for _, s := range sources {
		body, err := ExpandMasterVariables(s.Body, s.URL)
		if err != nil {
			return fmt.Errorf("source %s: %v", s.Name, err)
		}
		m, err := ParseMaster(body)
		if err != nil {
			return fmt.Errorf("source %s: %v", s.Name, err)
		}
		for i, tags := range [][]MasterTag{m.Variants, m.IFrames, m.Renditions} {
			for _, tag := range tags {
				want[i] = append(want[i], mergeCheckKept(tag, opts))
			}
		}
		if _, _, err := mergeGrafov(s.Body); err != nil {
			grafovInputs = false
		}
	}
	names := map[string]bool{}
	for _, s := range sources {
		names[s.Name] = true
	}
	for n, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "#"+masterTagDefine+":") && HasVariableReference(line) {
			return fmt.Errorf("merged line %d holds a variable reference: %s", n+1, line)
		}
	}
	for i, tags := range [][]MasterTag{merged.Variants, merged.IFrames, merged.Renditions} {
		var got []string
		for _, tag := range tags {
			got = append(got, mergeCheckKept(tag, opts))
			if err := mergeCheckRewritten(tag, opts, names); err != nil {
				return fmt.Errorf("merged line %d: %v", tag.Line, err)
			}
		}
		sort.Strings(got)
		sort.Strings(want[i])
		if diff := cmp.Diff(want[i], got); diff != "" {
			return fmt.Errorf("merged %s are not the sources' (-sources +merged):\n%s", [...]string{"variants", "I-frame variants", "renditions"}[i], diff)
		}
	}
	for _, h := range merged.Header {
		var uris []string
		for _, a := range h.Attrs.Attrs() {
			if a.Quoted() && (a.Name == "URI" && (h.Name == masterTagSessionData || h.Name == masterTagSessionKey) ||
				a.Name == "SERVER-URI" && h.Name == masterTagSteering) {
				uris = append(uris, a.Unquoted())
			}
		}
		if err := mergeCheckAbsolute(uris, opts); err != nil {
			return fmt.Errorf("merged line %d: %v", h.Line, err)
		}
	}
	if grafovInputs {
		pl, typ, err := mergeGrafov(out)
		if err != nil {
			return fmt.Errorf("grafov/m3u8 rejects the merged master: %v\n%s", err, out)
		}
		gm, ok := pl.(*m3u8.MasterPlaylist)
		if typ != m3u8.MASTER || !ok {
			return fmt.Errorf("grafov/m3u8 reads the merged master as list type %v", typ)
		}
		if got, want := len(gm.Variants), len(want[0])+len(want[1]); got != want {
			return fmt.Errorf("grafov/m3u8 sees %d variants (I-frame ones included), want %d", got, want)
		}
	}
	return nil
}

// mergeGrafov decodes a playlist with grafov/m3u8 in strict mode, turning its panics into errors.
func mergeGrafov(b []byte) (pl m3u8.Playlist, typ m3u8.ListType, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("grafov/m3u8 panics: %v", r)
		}
	}()
	return m3u8.DecodeFrom(bytes.NewReader(b), true)
}

// mergeRewritable reports whether Merge may rewrite attribute attr of a tag: URIs, group names
// and their references.
func mergeRewritable(tag, attr string) bool {
	switch tag {
	case masterTagMedia:
		return attr == "URI" || attr == "GROUP-ID"
	case masterTagIFrameInf, masterTagStreamInf:
		return attr == "URI" && tag == masterTagIFrameInf ||
			attr == "AUDIO" || attr == "VIDEO" || attr == "SUBTITLES" || attr == "CLOSED-CAPTIONS"
	}
	return false
}

// mergeCheckKept returns the attributes Merge must keep as written.
func mergeCheckKept(tag MasterTag, opts MergeOptions) string {
	var parts []string
	for _, a := range tag.Attrs.Attrs() {
		if mergeRewritable(tag.Name, a.Name) && a.Quoted() || a.Name == "PATHWAY-ID" && opts.SteeringURI != "" {
			continue
		}
		parts = append(parts, a.Name+"="+a.Value)
	}
	return tag.Name + ":" + strings.Join(parts, ",")
}

// mergeCheckRewritten checks one merged tag's rewritten attributes.
func mergeCheckRewritten(tag MasterTag, opts MergeOptions, names map[string]bool) error {
	uris := []string{tag.URI}
	for _, a := range tag.Attrs.Attrs() {
		switch {
		case !mergeRewritable(tag.Name, a.Name) || !a.Quoted():
		case a.Name == "URI":
			uris = append(uris, a.Unquoted())
		default:
			src, _, ok := strings.Cut(a.Unquoted(), "/")
			if !ok || !names[src] {
				return fmt.Errorf("%s=%s is not namespaced by a source name", a.Name, a.Value)
			}
		}
	}
	if tag.Name != masterTagMedia && opts.SteeringURI != "" {
		if p, ok := tag.Attrs.Get("PATHWAY-ID"); !ok || !names[p.Unquoted()] {
			return fmt.Errorf("%s has no PATHWAY-ID naming a source", tag.Name)
		}
	}
	return mergeCheckAbsolute(uris, opts)
}

// mergeCheckAbsolute checks that URIs are absolute, unless the merge keeps them relative.
func mergeCheckAbsolute(uris []string, opts MergeOptions) error {
	for _, u := range uris {
		if u != "" && !opts.Relative && mergeSplitRef(u).scheme == "" {
			return fmt.Errorf("URI %q is not absolute", u)
		}
	}
	return nil
}
