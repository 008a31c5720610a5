package hls

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseAttrList(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // Name=Value as written
	}{
		{"empty list", "", nil},
		{"integers and enumerated strings", "BANDWIDTH=1900000,DEFAULT=YES,HDCP-LEVEL=TYPE-0", []string{"BANDWIDTH=1900000", "DEFAULT=YES", "HDCP-LEVEL=TYPE-0"}},
		{"quoted string with commas", `CODECS="avc1.4D401F,mp4a.40.2",RESOLUTION=1280x720`, []string{`CODECS="avc1.4D401F,mp4a.40.2"`, "RESOLUTION=1280x720"}},
		{"quoted string with = and spaces", `VALUE="a=b, c",DATA-ID="x"`, []string{`VALUE="a=b, c"`, `DATA-ID="x"`}},
		{"blanks after commas (seed 003)", "PROGRAM-ID=1, BANDWIDTH=200000, RESOLUTION=720x480", []string{"PROGRAM-ID=1", "BANDWIDTH=200000", "RESOLUTION=720x480"}},
		{"blank before a comma", "A=1 ,B=2", []string{"A=1", "B=2"}},
		{"floats and hex", "TIME-OFFSET=-18.0,IV=0x1A2B", []string{"TIME-OFFSET=-18.0", "IV=0x1A2B"}},
		{"UTF-8 in a quoted string", `NAME="Español CC"`, []string{`NAME="Español CC"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseAttrList(tc.in)
			if err != nil {
				t.Fatalf("ParseAttrList(%q): %v", tc.in, err)
			}
			var got []string
			for _, a := range l.Attrs() {
				got = append(got, a.Name+"="+a.Value)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			if l.Text() != tc.in || l.Edit() != tc.in {
				t.Errorf("Text() = %q, Edit() = %q, want the input %q", l.Text(), l.Edit(), tc.in)
			}
		})
	}
}

func TestParseAttrListErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unterminated quoted string", `CODECS="avc1,mp4a`, "attribute CODECS: unterminated quoted-string"},
		{"no equals sign", "BANDWIDTH", "attribute BANDWIDTH has no '='"},
		{"empty value", "BANDWIDTH=,A=1", "attribute BANDWIDTH has an empty value"},
		{"lower-case name", "bandwidth=1", `expected an attribute name at byte 0, found "bandwidth=1"`},
		{"trailing comma", "A=1,", "trailing ',' after attribute A"},
		{"two commas", "A=1,,B=2", `expected an attribute name at byte 4, found ",B=2"`},
		{"text after a quoted string", `URI="a"b,C=1`, `unexpected "b,C=1" after attribute URI`},
		{"quote inside an unquoted value", `A=x"y"`, `attribute A: stray '"' in unquoted value`},
		{"blank inside an unquoted value", "A=x y,B=1", `attribute A: whitespace in unquoted value "x y"`},
		{"duplicate attribute", "A=1,B=2,A=3", "duplicate attribute A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAttrList(tc.in)
			if !errors.Is(err, ErrAttrList) {
				t.Fatalf("ParseAttrList(%q) error = %v, want ErrAttrList", tc.in, err)
			}
			if !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to end with %q", err, tc.want)
			}
		})
	}
}

func TestAttrListEdit(t *testing.T) {
	const in = `TYPE=AUDIO,GROUP-ID="aac", NAME="English, main",URI="a/b.m3u8?x=1,2",DEFAULT=YES`
	l, err := ParseAttrList(in)
	if err != nil {
		t.Fatal(err)
	}
	got := l.Edit(
		Attr{Name: "URI", Value: `"https://h.example/a/b.m3u8?x=1,2"`},
		Attr{Name: "GROUP-ID", Value: `"eu-west-1/aac"`},
		Attr{Name: "PATHWAY-ID", Value: `"eu-west-1"`},
	)
	want := `TYPE=AUDIO,GROUP-ID="eu-west-1/aac", NAME="English, main",URI="https://h.example/a/b.m3u8?x=1,2",DEFAULT=YES,PATHWAY-ID="eu-west-1"`
	if got != want {
		t.Errorf("Edit:\n got %s\nwant %s", got, want)
	}
	if a, ok := l.Get("NAME"); !ok || a.Unquoted() != "English, main" || !a.Quoted() {
		t.Errorf("Get(NAME) = %+v, %v", a, ok)
	}
	if a, _ := l.Get("DEFAULT"); a.Quoted() || a.Unquoted() != "YES" {
		t.Errorf("DEFAULT=%s: Quoted() = %v, Unquoted() = %q", a.Value, a.Quoted(), a.Unquoted())
	}
	if empty, _ := ParseAttrList(""); empty.Edit(Attr{Name: "A", Value: "1"}) != "A=1" {
		t.Errorf("appending to an empty list gives %q", empty.Edit(Attr{Name: "A", Value: "1"}))
	}
}

// A hostile attribute list of a whole megabyte must parse in linear time; the duplicate check
// switches to a map for long lists and still finds a late duplicate.
func TestParseAttrListLong(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "A%d=1,", i)
	}
	long := strings.TrimSuffix(b.String(), ",")
	l, err := ParseAttrList(long)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() < 100000 {
		t.Fatalf("parsed %d attributes", l.Len())
	}
	if _, err := ParseAttrList(long + ",A7=2"); err == nil || !strings.HasSuffix(err.Error(), "duplicate attribute A7") {
		t.Fatalf("late duplicate: error = %v", err)
	}
}
