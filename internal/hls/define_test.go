package hls

import (
	"errors"
	"strings"
	"testing"
)

func TestExpandMasterVariables(t *testing.T) {
	const url = "https://origin.example.com/live/index.m3u8?token=a%2Bb&region=eu"
	for _, tc := range []struct {
		name, body, want, err string
	}{
		{name: "no variables: the body as it is",
			body: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlo.m3u8\n", want: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlo.m3u8\n"},
		{name: "a value, a query parameter (decoded), CRLF kept, comments untouched",
			body: "#EXTM3U\r\n#EXT-X-DEFINE:NAME=\"p\",VALUE=\"v1\"\r\n#EXT-X-DEFINE:QUERYPARAM=\"token\"\r\n# {$nothing}\r\n#EXT-X-STREAM-INF:BANDWIDTH=1\r\n{$p}/lo.m3u8?t={$token}\r\n",
			want: "#EXTM3U\r\n#EXT-X-DEFINE:NAME=\"p\",VALUE=\"v1\"\r\n#EXT-X-DEFINE:NAME=\"token\",VALUE=\"a+b\"\r\n# {$nothing}\r\n#EXT-X-STREAM-INF:BANDWIDTH=1\r\nv1/lo.m3u8?t=a+b\r\n"},
		{name: "a definition after its use still resolves it",
			body: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n{$p}.m3u8\n#EXT-X-DEFINE:NAME=\"p\",VALUE=\"lo\"\n",
			want: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlo.m3u8\n#EXT-X-DEFINE:NAME=\"p\",VALUE=\"lo\"\n"},
		{name: "a variable in a quoted attribute", body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"g\",VALUE=\"aud\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{$g}\",NAME=\"en\"\n",
			want: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"g\",VALUE=\"aud\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\"\n"},
		{name: "undefined", body: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n{$cdn}/lo.m3u8\n", err: "line 3: unresolved EXT-X-DEFINE variable: {$cdn} is not defined by any EXT-X-DEFINE"},
		{name: "defined twice", body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"p\",VALUE=\"a\"\n#EXT-X-DEFINE:NAME=\"p\",VALUE=\"b\"\n", err: `line 3 EXT-X-DEFINE: unresolved EXT-X-DEFINE variable: variable "p" is defined twice`},
		{name: "a name with a dot", body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"a.b\",VALUE=\"x\"\n", err: `variable name "a.b" may hold only`},
		{name: "NAME without VALUE", body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"p\"\n", err: `NAME="p" has no VALUE`},
		{name: "NAME and QUERYPARAM together", body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"p\",QUERYPARAM=\"region\"\n", err: "exactly one of NAME, IMPORT and QUERYPARAM"},
		{name: "a query parameter missing", body: "#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"sig\"\n", err: `QUERYPARAM="sig": the playlist URL ` + url + " has no such query parameter"},
		{name: "a value holding a reference", body: "#EXTM3U\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"{$a}\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n{$a}.m3u8\n", err: `the value of "a" holds a variable reference`},
		{name: "a malformed reference", body: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n{$}/lo.m3u8\n", err: `"{$}/lo.m3u8" is not a variable reference`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExpandMasterVariables([]byte(tc.body), url)
			if tc.err != "" {
				if !errors.Is(err, ErrVariable) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "EXT-X-DEFINE") {
					t.Fatalf("error %v, want ErrVariable saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestHasVariableReference(t *testing.T) {
	for u, want := range map[string]bool{
		"https://o.example.com/{$cdn}/v.m3u8":       true,
		"https://o.example.com/%7B$cdn%7D/v.m3u8":   true,
		"https://o.example.com/%7b%24cdn%7d/v.m3u8": true,
		"https://o.example.com/live/v.m3u8?x=%7B":   false,
	} {
		if got := HasVariableReference(u); got != want {
			t.Errorf("HasVariableReference(%q) = %t, want %t", u, got, want)
		}
	}
}

// FuzzExpandMasterVariables: any body either is refused or comes out with no variable reference
// outside EXT-X-DEFINE lines, and expanding it again changes nothing.
func FuzzExpandMasterVariables(f *testing.F) {
	for _, c := range masterCases() {
		for _, s := range c.mergeSources(f) {
			f.Add(s.Body, s.URL)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, url string) {
		out, err := ExpandMasterVariables(body, url)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#EXT-X-DEFINE:") && strings.HasPrefix(strings.TrimSpace(line), "#EXT") && strings.Contains(line, "{$") ||
				!strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, "{$") {
				t.Fatalf("expanded line still holds a reference: %q", line)
			}
		}
		again, err := ExpandMasterVariables(out, url)
		if err != nil || string(again) != string(out) {
			t.Fatalf("a second expansion changed it (err %v):\n%q\n%q", err, out, again)
		}
	})
}
