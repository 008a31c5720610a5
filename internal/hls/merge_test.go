package hls

import (
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Seed 002's two regional distribution playlist URLs. The seed prints region one's master URL
// and only the child playlists of region two, whose master sits in the same folder.
const (
	mergeSeedOneURL = "https://d1q747mcnm9q46.cloudfront.net/out/v1/f53b2dd7810e43f4a05bffec4aa5c7a1/index.m3u8"
	mergeSeedTwoURL = "https://d3623mp9gw7c0l.cloudfront.net/out/v1/3889cc3066c34b11ad01a1be071fb09a/index.m3u8"
)

// The install guide (seed 002) builds the merged master by hand: paste both regions' masters,
// drop the second header, make every URI absolute (the I-frame URI attributes too), then move
// region two's entries right after region one's of the same bitrate. Merge must produce that
// final text exactly.
func TestMergeSeed002ByHand(t *testing.T) {
	region := masterRead(t, "testdata/master/seed002-region.m3u8")
	want := masterRead(t, "testdata/merge/seed002-by-hand.m3u8")
	got, err := Merge([]MergeSource{
		{Name: "RegionOne", URL: mergeSeedOneURL, Body: region},
		{Name: "RegionTwo", URL: mergeSeedTwoURL, Body: region},
	}, MergeOptions{})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if diff := cmp.Diff(string(want), string(got.Playlist)); diff != "" {
		t.Errorf("merged master differs from the seed's by-hand playlist (-seed +merge):\n%s", diff)
	}
	if len(got.Warnings) != 0 {
		t.Errorf("warnings = %v, want none for identical ladders", got.Warnings)
	}
	if got.Variants != 6 || got.VariantGroups != 3 || got.IFrames != 2 || got.IFrameGroups != 1 {
		t.Errorf("counts = %d variants in %d groups, %d I-frames in %d groups; want 6 in 3, 2 in 1",
			got.Variants, got.VariantGroups, got.IFrames, got.IFrameGroups)
	}
}

func masterRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMergeResolve(t *testing.T) {
	tests := []struct {
		name, base, ref, want string
	}{
		{"file name", "https://h.example/out/v1/abc/index.m3u8", "index_1.m3u8", "https://h.example/out/v1/abc/index_1.m3u8"},
		{"query string kept as written", "https://h.example/a/index.m3u8", "v1.m3u8?m=1634812345&aws.manifestfilter=video_height:1-720", "https://h.example/a/v1.m3u8?m=1634812345&aws.manifestfilter=video_height:1-720"},
		{"base query dropped", "https://h.example/a/index.m3u8?token=x", "v1.m3u8", "https://h.example/a/v1.m3u8"},
		{"query-only reference", "https://h.example/a/index.m3u8?token=x", "?token=y", "https://h.example/a/index.m3u8?token=y"},
		{"parent folder", "https://h.example/out/v1/abc/index.m3u8", "../media/720p.m3u8", "https://h.example/out/v1/media/720p.m3u8"},
		{"dot segments", "https://h.example/a/b/index.m3u8", "./c/./d/../e.m3u8", "https://h.example/a/b/c/e.m3u8"},
		{"too many parents stop at the root", "https://h.example/a/index.m3u8", "../../../x.m3u8", "https://h.example/x.m3u8"},
		{"absolute path", "https://h.example/a/b/index.m3u8", "/live/x.m3u8", "https://h.example/live/x.m3u8"},
		{"scheme-relative", "https://h.example/a/index.m3u8", "//cdn.example/x.m3u8", "https://cdn.example/x.m3u8"},
		{"absolute URI untouched", "https://h.example/a/index.m3u8", "HTTP://Other.example/./x.m3u8?a=b", "HTTP://Other.example/./x.m3u8?a=b"},
		{"skd URI untouched", "https://h.example/a/index.m3u8", "skd://key-id-1", "skd://key-id-1"},
		{"data URI untouched", "https://h.example/a/index.m3u8", "data:text/plain;base64,SGk=", "data:text/plain;base64,SGk="},
		{"colon after a slash is not a scheme", "https://h.example/a/index.m3u8", "v/a:b.m3u8", "https://h.example/a/v/a:b.m3u8"},
		{"host without path", "https://h.example", "x.m3u8", "https://h.example/x.m3u8"},
		{"percent escapes kept", "https://h.example/a%20b/index.m3u8", "c%2Fd.m3u8?x=%41", "https://h.example/a%20b/c%2Fd.m3u8?x=%41"},
		{"fragment kept", "https://h.example/a/index.m3u8", "x.m3u8#t=1", "https://h.example/a/x.m3u8#t=1"},
		{"relative base gets a prefix", "primary/index.m3u8", "index_1.m3u8?m=2", "primary/index_1.m3u8?m=2"},
		{"relative base with folders", "primary/out/index.m3u8", "../720p/x.m3u8", "primary/720p/x.m3u8"},
		{"relative base without folder", "index.m3u8", "x.m3u8", "x.m3u8"},
		{"relative result is the merged master's folder", "primary/index.m3u8", "..", "./"},
		{"relative result with a colon in its first segment", "primary/index.m3u8", "../a:b.m3u8", "./a:b.m3u8"},
		{"relative result that would start with a slash", "primary/index.m3u8", "..//x.m3u8", ".//x.m3u8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mergeResolve(mergeSplitRef(tc.base), tc.ref)
			if err != nil {
				t.Fatalf("mergeResolve(%q, %q): %v", tc.base, tc.ref, err)
			}
			if got != tc.want {
				t.Fatalf("mergeResolve(%q, %q) = %q, want %q", tc.base, tc.ref, got, tc.want)
			}
			// Where net/url keeps the text as is, it must agree with RFC 3986 resolution.
			if strings.Contains(tc.base, "://") && !strings.ContainsAny(tc.ref, "%:") && !strings.Contains(tc.base, "%") {
				b, _ := url.Parse(tc.base)
				r, _ := url.Parse(tc.ref)
				if std := b.ResolveReference(r).String(); std != got {
					t.Errorf("net/url resolves to %q, mergeResolve to %q", std, got)
				}
			}
		})
	}
}

func TestMergeResolveAboveRelativeRoot(t *testing.T) {
	_, err := mergeResolve(mergeSplitRef("primary/index.m3u8"), "../../secret/x.m3u8")
	if !errors.Is(err, errMergeAboveRoot) {
		t.Fatalf("err = %v, want errMergeAboveRoot", err)
	}
}
