package hls

import (
	"strings"
	"testing"
)

func TestMergeResolveDropsUserinfo(t *testing.T) {
	tests := []struct {
		name, base, ref, want string
	}{
		{"file name", "https://alice:s3cr3t@h.example/a/index.m3u8", "v1.m3u8", "https://h.example/a/v1.m3u8"},
		{"absolute path", "https://alice:s3cr3t@h.example:8443/a/index.m3u8", "/live/x.m3u8", "https://h.example:8443/live/x.m3u8"},
		{"query-only reference", "https://token@h.example/a/index.m3u8", "?m=1", "https://h.example/a/index.m3u8?m=1"},
		{"an @ in the password", "https://alice:p@ss@h.example/a/index.m3u8", "v1.m3u8", "https://h.example/a/v1.m3u8"},
		{"a reference's own authority is the playlist's", "https://alice:s3cr3t@h.example/a/index.m3u8", "//bob@cdn.example/x.m3u8", "https://bob@cdn.example/x.m3u8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mergeResolve(mergeSplitRef(tc.base), tc.ref)
			if err != nil || got != tc.want {
				t.Fatalf("mergeResolve(%q, %q) = %q, %v; want %q", tc.base, tc.ref, got, err, tc.want)
			}
		})
	}
}

func TestMergePublishesNoUserinfo(t *testing.T) {
	master := "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nv1.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI=\"i1.m3u8\"\n"
	res, err := Merge([]MergeSource{
		{Name: "eu-west-1", URL: "https://alice:s3cr3t@eu.example/out/index.m3u8", Body: []byte(master)},
		{Name: "us-east-1", URL: "https://us.example/out/index.m3u8", Body: []byte(master)},
	}, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Playlist)
	if strings.Contains(out, "alice") || strings.Contains(out, "s3cr3t") {
		t.Fatalf("the merged master publishes the source's user info:\n%s", out)
	}
	for _, want := range []string{"\nhttps://eu.example/out/v1.m3u8\n", `URI="https://eu.example/out/i1.m3u8"`} {
		if !strings.Contains(out, want) {
			t.Errorf("merged master lacks %q:\n%s", want, out)
		}
	}
}
