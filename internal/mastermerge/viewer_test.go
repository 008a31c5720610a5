package mastermerge

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestViewerMapMapsOriginURIs(t *testing.T) {
	for _, tc := range []struct {
		name, origin, dist, ref string
		want                    string // "" when not mapped
		onOrigin                bool
	}{
		{"same path, other host", "http://origin.example/live/ch1/index.m3u8", "https://d1.cloudfront.net/live/ch1/index.m3u8",
			"http://origin.example/live/ch1/index_1.m3u8", "https://d1.cloudfront.net/live/ch1/index_1.m3u8", true},
		{"same path: anything on the origin maps", "http://origin.example/live/ch1/index.m3u8", "https://d1.cloudfront.net/live/ch1/index.m3u8",
			"http://origin.example/other/x.m3u8?token=a%2Fb#t", "https://d1.cloudfront.net/other/x.m3u8?token=a%2Fb#t", true},
		{"origin path under a prefix", "https://bucket.s3.amazonaws.com/media/live/ch1/index.m3u8", "https://d1.cloudfront.net/live/ch1/index.m3u8",
			"https://bucket.s3.amazonaws.com/media/live/ch1/v/index_1.m3u8", "https://d1.cloudfront.net/live/ch1/v/index_1.m3u8", true},
		{"outside the origin prefix is not served", "https://bucket.s3.amazonaws.com/media/live/ch1/index.m3u8", "https://d1.cloudfront.net/live/ch1/index.m3u8",
			"https://bucket.s3.amazonaws.com/private/x.m3u8", "", true},
		{"different master names map the folder", "http://origin.example/a/master.m3u8", "https://d1.cloudfront.net/b/index.m3u8",
			"http://origin.example/a/index_1.m3u8", "https://d1.cloudfront.net/b/index_1.m3u8", true},
		{"dot segments could climb out", "http://origin.example/a/index.m3u8", "https://d1.cloudfront.net/b/index.m3u8",
			"http://origin.example/a/../secret/x.m3u8", "", true},
		{"host case and default port", "https://Origin.Example/live/index.m3u8", "https://d1.cloudfront.net/live/index.m3u8",
			"HTTPS://origin.example:443/live/index_1.m3u8", "https://d1.cloudfront.net/live/index_1.m3u8", true},
		{"network-path reference", "http://origin.example/live/index.m3u8", "https://d1.cloudfront.net/live/index.m3u8",
			"//origin.example/live/index_1.m3u8", "https://d1.cloudfront.net/live/index_1.m3u8", true},
		{"another port is another host", "http://origin.example:8080/live/index.m3u8", "https://d1.cloudfront.net/live/index.m3u8",
			"http://origin.example/live/index_1.m3u8", "", false},
		{"another host is left alone", "http://origin.example/live/index.m3u8", "https://d1.cloudfront.net/live/index.m3u8",
			"https://ads.example/live/index_1.m3u8", "", false},
		{"the distribution is left alone", "http://origin.example/live/index.m3u8", "https://d1.cloudfront.net/live/index.m3u8",
			"https://d1.cloudfront.net/live/index_1.m3u8", "", false},
		{"relative URIs are Merge's", "http://origin.example/live/index.m3u8", "https://d1.cloudfront.net/live/index.m3u8",
			"index_1.m3u8", "", false},
		{"a colon in a relative path is no scheme", "http://origin.example/live/index.m3u8", "https://d1.cloudfront.net/live/index.m3u8",
			"v/a://origin.example/x.m3u8", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newViewerMap(tc.origin, tc.dist)
			if err != nil {
				t.Fatal(err)
			}
			got, onOrigin, ok := m.mapURI(tc.ref)
			if got != tc.want || ok != (tc.want != "") || onOrigin != tc.onOrigin {
				t.Fatalf("mapURI(%q) = %q, onOrigin %v, ok %v; want %q, onOrigin %v", tc.ref, got, onOrigin, ok, tc.want, tc.onOrigin)
			}
		})
	}
}

func TestViewerMasterRewritesEveryURIKind(t *testing.T) {
	m, err := newViewerMap("http://o.example/media/live/index.m3u8", "https://d1.cloudfront.net/live/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	in := "\ufeff#EXTM3U\r\n" +
		"#EXT-X-SESSION-DATA:DATA-ID=\"com.example.title\",URI=\"http://o.example/media/live/title.json\"\r\n" +
		"#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"http://o.example/media/keys/k1\",KEYFORMAT=\"identity\"\r\n" +
		"#EXT-X-CONTENT-STEERING:SERVER-URI=\"http://o.example/media/steer.json\"\r\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"http://o.example/elsewhere/en.m3u8\"\r\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO=\"aud\"\r\n" +
		"http://o.example/media/live/v1.m3u8\r\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=2000,AUDIO=\"aud\"\r\n" +
		"v2.m3u8\r\n" +
		"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=500,URI=\"http://o.example/media/live/i.m3u8\"\r\n"
	out, warnings := viewerMaster("eu-west-1", []byte(in), m)
	want := "#EXTM3U\r\n" +
		"#EXT-X-SESSION-DATA:DATA-ID=\"com.example.title\",URI=\"https://d1.cloudfront.net/live/title.json\"\n" +
		"#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"https://d1.cloudfront.net/keys/k1\",KEYFORMAT=\"identity\"\n" +
		"#EXT-X-CONTENT-STEERING:SERVER-URI=\"https://d1.cloudfront.net/steer.json\"\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"http://o.example/elsewhere/en.m3u8\"\r\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=1000,AUDIO=\"aud\"\r\n" +
		"https://d1.cloudfront.net/live/v1.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=2000,AUDIO=\"aud\"\r\n" +
		"v2.m3u8\r\n" +
		"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=500,URI=\"https://d1.cloudfront.net/live/i.m3u8\"\n"
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("rewritten master (-want +got):\n%s", diff)
	}
	wantWarnings := []string{
		"eu-west-1 line 2: 5 absolute URIs point at the origin (o.example); rewritten to https://d1.cloudfront.net/ so viewers go through CloudFront and its copilot",
		"eu-west-1 line 5: URI http://o.example/elsewhere/en.m3u8 points at the origin outside /media/, which the distribution does not serve by any known path; kept as written, so viewers of it bypass CloudFront and the copilot",
	}
	if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}

	t.Run("a master with nothing on the origin is returned as is", func(t *testing.T) {
		body := []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nv1.m3u8\n")
		if out, w := viewerMaster("x", body, m); string(out) != string(body) || w != nil {
			t.Fatalf("got %q, %q", out, w)
		}
	})
	t.Run("a body that is no master is left for Merge to report", func(t *testing.T) {
		body := []byte("<html>http://o.example/media/live/x</html>")
		if out, w := viewerMaster("x", body, m); string(out) != string(body) || w != nil {
			t.Fatalf("got %q, %q", out, w)
		}
	})
	if strings.Contains(string(out), "\ufeff") {
		t.Error("byte order mark kept in a rewritten master")
	}
}

// BenchmarkViewerMaster measures what reading a master from its origin adds per region: a parse
// and the rewrite of its origin URIs (all of them here, the worst case).
func BenchmarkViewerMaster(b *testing.B) {
	m, err := newViewerMap("http://o.example/live/ch1/index.m3u8", "https://d1.cloudfront.net/live/ch1/index.m3u8")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, uri string }{{"relative URIs", ""}, {"origin URIs", "http://o.example/live/ch1/"}} {
		var sb strings.Builder
		sb.WriteString("#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n")
		for i := range 6 {
			sb.WriteString("#EXT-X-STREAM-INF:BANDWIDTH=" + strings.Repeat("1", i+6) + ",RESOLUTION=1280x720,CODECS=\"avc1.4D401F,mp4a.40.2\"\n")
			sb.WriteString(bc.uri + "index_" + string(rune('1'+i)) + ".m3u8\n")
		}
		sb.WriteString("#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1900000,CODECS=\"avc1.4D401F\",RESOLUTION=1280x720,URI=\"" + bc.uri + "iframe.m3u8\"\n")
		body := []byte(sb.String())
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, w := viewerMaster("us-east-1", body, m); (bc.uri == "") != (w == nil) {
					b.Fatalf("warnings %q", w)
				}
			}
		})
	}
}
