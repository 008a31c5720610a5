package hls

import (
	"bytes"
	"testing"
)

// FuzzMerge merges two arbitrary bodies. Merge may refuse them, but never panics, and what it
// writes is a master playlist (for ParseMaster, and for grafov/m3u8 when grafov accepts the
// inputs) holding every source variant with its attributes, absolute URIs unless in relative
// mode, namespaced groups, and the same bytes on every run.
func FuzzMerge(f *testing.F) {
	for _, c := range masterCases() {
		sources := c.mergeSources(f)
		a, b := sources[0].Body, sources[len(sources)-1].Body
		f.Add(a, b, c.opts.SteeringURI != "", c.opts.Relative)
	}
	f.Fuzz(func(t *testing.T, a, b []byte, steering, relative bool) {
		opts := MergeOptions{Relative: relative}
		if steering {
			opts.SteeringURI = "https://steering.example.com/s.json"
		}
		sources := []MergeSource{
			{Name: "eu-west-1", URL: "https://eu.example.com/out/v1/abc/index.m3u8?token=1", Body: a},
			{Name: "us-east-1", URL: "https://us.example.com/live/index.m3u8", Body: b},
		}
		if relative {
			sources[0].URL, sources[1].URL = "primary/index.m3u8", "failover/sub/index.m3u8"
		}
		got, err := Merge(sources, opts)
		if err != nil {
			return
		}
		if err := mergeCheckOutput(sources, opts, got.Playlist); err != nil {
			t.Fatal(err)
		}
		again, err := Merge(sources, opts)
		if err != nil || !bytes.Equal(again.Playlist, got.Playlist) {
			t.Fatalf("second merge differs (err %v)", err)
		}
	})
}

// FuzzParseAttrList checks that a parsed attribute list writes back byte for byte, and that
// replacing every value with a quoted-string still parses to the same names.
func FuzzParseAttrList(f *testing.F) {
	for _, s := range []string{
		`BANDWIDTH=4285600,AVERAGE-BANDWIDTH=4285600,RESOLUTION=1280x720,FRAME-RATE=30.000,CODECS="avc1.4D401F,mp4a.40.2"`,
		`PROGRAM-ID=1, BANDWIDTH=200000, RESOLUTION=720x480`,
		`TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="Español CC",INSTREAM-ID="SERVICE2"`,
		`A=1 ,B="x,y"`, `A=`, `A="`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseAttrList(s)
		if err != nil {
			return
		}
		if l.Edit() != s {
			t.Fatalf("Edit() = %q, want %q", l.Edit(), s)
		}
		var edits []Attr
		for _, a := range l.Attrs() {
			edits = append(edits, Attr{Name: a.Name, Value: `"x,y"`})
		}
		edits = append(edits, Attr{Name: "NEW-ATTR", Value: "1"})
		edited, err := ParseAttrList(l.Edit(edits...))
		if err != nil {
			t.Fatalf("edited list %q does not parse: %v", l.Edit(edits...), err)
		}
		if edited.Len() != l.Len()+1 {
			t.Fatalf("edited list has %d attributes, want %d", edited.Len(), l.Len()+1)
		}
		for i, a := range l.Attrs() {
			if e := edited.Attrs()[i]; e.Name != a.Name || e.Value != `"x,y"` {
				t.Fatalf("attribute %d = %s=%s, want %s=\"x,y\"", i, e.Name, e.Value, a.Name)
			}
		}
	})
}
