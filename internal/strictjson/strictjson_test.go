package strictjson

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type closeRequest struct {
	Reason string `json:"reason"`
	Force  bool   `json:"force,omitempty"`
}

type base struct {
	Cluster string `json:"cluster"`
}

type playlist struct {
	URL   string `json:"url"`
	Count int64  `json:"count"`
}

type event struct {
	base
	Version   int               `json:"version"`
	At        time.Time         `json:"at"`
	Playlists []playlist        `json:"playlists"`
	Extra     json.RawMessage   `json:"extra,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Ratio     float64           `json:"ratio,omitempty"`
	Secret    string            `json:"-"`
	hidden    int
}

func TestDecodeCloseRequest(t *testing.T) {
	cases := []struct {
		name, in string
		want     closeRequest
		problem  string // empty: decodes to want
	}{
		{name: "plain object", in: `{"reason":"x","force":true}`, want: closeRequest{Reason: "x", Force: true}},
		{name: "blanks around the object", in: " \n{\"reason\":\"x\"}\t\n", want: closeRequest{Reason: "x"}},
		{name: "null field keeps the zero value", in: `{"reason":"x","force":null}`, want: closeRequest{Reason: "x"}},
		{name: "trailing bracket", in: `{"reason":"x","force":true}]`, problem: "has data after the object; must be one JSON object"},
		{name: "second object", in: `{"reason":"x"}{"force":true}`, problem: "has data after the object; must be one JSON object"},
		{name: "key in another case", in: `{"reason":"x","force":false,"FORCE":true}`, problem: `unknown field "FORCE"`},
		{name: "duplicate key", in: `{"reason":"x","force":false,"force":true}`, problem: `duplicate field "force"`},
		{name: "unknown key", in: `{"reason":"x","why":"y"}`, problem: `unknown field "why"`},
		{name: "array", in: `[{"reason":"x"}]`, problem: "must be one JSON object"},
		{name: "string", in: `"x"`, problem: "must be one JSON object"},
		{name: "null", in: `null`, problem: "must be one JSON object"},
		{name: "empty", in: ``, problem: "must be one JSON object"},
		{name: "blank", in: "  \n", problem: "must be one JSON object"},
		{name: "wrong type names JSON kinds", in: `{"reason":"x","force":"yes"}`, problem: `field "force": must be true or false, not a string`},
		{name: "number for a string", in: `{"reason":12}`, problem: `field "reason": must be a string, not 12`},
		{name: "object for a bool", in: `{"reason":"x","force":{}}`, problem: `field "force": must be true or false, not an object`},
		{name: "unterminated", in: `{"reason":"x"`, problem: "ends before the JSON is complete"},
		{name: "syntax error", in: `{"reason":"x",}`, problem: "is not valid JSON at byte 14"},
		{name: "invalid UTF-8", in: "{\"reason\":\"\xff\"}", problem: "is not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got closeRequest
			err := Decode([]byte(c.in), &got)
			if c.problem == "" {
				if err != nil {
					t.Fatalf("Decode(%q) = %v, want no error", c.in, err)
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Fatalf("Decode(%q) (-want +got):\n%s", c.in, diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decode(%q) = nil error, decoded %+v; want %q", c.in, got, c.problem)
			}
			if got, want := err.Error(), c.problem; got != want {
				t.Fatalf("Decode(%q) error = %q, want %q", c.in, got, want)
			}
			if (got != closeRequest{}) {
				t.Fatalf("Decode(%q) failed but filled %+v", c.in, got)
			}
		})
	}
}

func TestDecodeNested(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name, in string
		want     event
		problem  string
	}{
		{name: "every kind of field", in: `{"cluster":"c","version":1,"at":"2026-12-05T10:00:00Z","playlists":[{"url":"u","count":3}],"extra":{"a":[1,{"b":2}]},"labels":{"Env":"x"},"ratio":1.5}`,
			want: event{base: base{Cluster: "c"}, Version: 1, At: at, Playlists: []playlist{{URL: "u", Count: 3}}, Extra: json.RawMessage(`{"a":[1,{"b":2}]}`), Labels: map[string]string{"Env": "x"}, Ratio: 1.5}},
		{name: "embedded field in another case", in: `{"Cluster":"c"}`, problem: `unknown field "Cluster"`},
		{name: "embedded field twice", in: `{"cluster":"a","cluster":"b"}`, problem: `duplicate field "cluster"`},
		{name: "unknown key inside an array entry", in: `{"playlists":[{"url":"u","URL":"v"}]}`, problem: `field "playlists[0]": unknown field "URL"`},
		{name: "type error inside an array entry", in: `{"playlists":[{"url":"u"},{"count":1.5}]}`, problem: `field "playlists[1].count": must be an integer of at most 64 bits, not 1.5`},
		{name: "integer overflow", in: `{"version":99999999999999999999}`, problem: `field "version": must be an integer of at most 64 bits, not 99999999999999999999`},
		{name: "bad time", in: `{"at":"yesterday"}`, problem: `field "at": must be an RFC 3339 time string`},
		{name: "time of the wrong type", in: `{"at":5}`, problem: `field "at": must be an RFC 3339 time string`},
		{name: "duplicate inside raw JSON", in: `{"extra":{"a":1,"a":2}}`, problem: `field "extra": duplicate field "a"`},
		{name: "duplicate deep inside raw JSON", in: `{"extra":[{"x":{"b":1,"b":1}}]}`, problem: `field "extra[0].x": duplicate field "b"`},
		{name: "duplicate map key", in: `{"labels":{"k":"a","k":"b"}}`, problem: `field "labels": duplicate field "k"`},
		{name: "map keys may differ only in case", in: `{"labels":{"k":"a","K":"b"}}`, want: event{Labels: map[string]string{"k": "a", "K": "b"}}},
		{name: "skipped field", in: `{"Secret":"s"}`, problem: `unknown field "Secret"`},
		{name: "skipped field by tag name", in: `{"-":"s"}`, problem: `unknown field "-"`},
		{name: "unexported field", in: `{"hidden":1}`, problem: `unknown field "hidden"`},
		{name: "array for an object", in: `{"playlists":[[]]}`, problem: `field "playlists[0]": must be an object, not an array`},
		{name: "long key is clipped", in: `{"` + strings.Repeat("k", 100) + `":1}`, problem: `unknown field "` + strings.Repeat("k", 64) + `..."`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got event
			err := Decode([]byte(c.in), &got)
			if c.problem == "" {
				if err != nil {
					t.Fatalf("Decode = %v, want no error", err)
				}
				if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(event{}), cmp.AllowUnexported(base{})); diff != "" {
					t.Fatalf("Decode (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decode = nil error, want %q", c.problem)
			}
			if got, want := err.Error(), c.problem; got != want {
				t.Fatalf("Decode error = %q, want %q", got, want)
			}
			for _, goName := range []string{"strictjson.", "int64", "float64", "bool", "[]"} {
				if strings.Contains(err.Error(), goName) {
					t.Fatalf("error %q names a Go type (%s)", err, goName)
				}
			}
		})
	}
}

func TestDecodeIntoMap(t *testing.T) {
	var m map[string]json.RawMessage
	if err := Decode([]byte(`{"a":1,"b":{"c":2}}`), &m); err != nil {
		t.Fatalf("Decode = %v", err)
	}
	if got, want := len(m), 2; got != want {
		t.Fatalf("len = %d, want %d", got, want)
	}
	if err := Decode([]byte(`{"a":1,"a":2}`), &m); err == nil || err.Error() != `duplicate field "a"` {
		t.Fatalf("Decode of a duplicate = %v, want duplicate field", err)
	}
}

// FuzzDecode checks that whatever Decode accepts, encoding/json reads the same way, and that the
// document has no key that encoding/json would have matched only by folding case.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"reason":"x","force":true}`, `{"reason":"x","force":true}]`, `{"reason":"x","FORCE":true}`,
		`{"reason":"x","force":false,"force":true}`, `{"cluster":"c","playlists":[{"url":"u","count":1}],"extra":{"a":1}}`,
		`{"labels":{"a":"b"},"at":"2026-01-01T00:00:00Z"}`, `[]`, `null`, `{"version":1e3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var strict event
		if err := Decode(data, &strict); err != nil {
			if strict.Cluster != "" || strict.Version != 0 || len(strict.Playlists) != 0 {
				t.Fatalf("Decode failed (%v) but filled the value", err)
			}
			return
		}
		var loose event
		if err := json.Unmarshal(data, &loose); err != nil {
			t.Fatalf("Decode accepted %q; encoding/json refuses it: %v", data, err)
		}
		if diff := cmp.Diff(loose, strict, cmp.AllowUnexported(event{}), cmp.AllowUnexported(base{})); diff != "" {
			t.Fatalf("Decode and encoding/json disagree on %q:\n%s", data, diff)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			t.Fatalf("Decode accepted %q, which is not one object: %v", data, err)
		}
		known := fieldsOf(reflectTypeOfEvent)
		for k := range top {
			if _, ok := known[k]; !ok {
				t.Fatalf("Decode accepted unknown key %q in %q", k, data)
			}
		}
	})
}

var reflectTypeOfEvent = reflect.TypeFor[event]()

func TestDecodeAllowUnknown(t *testing.T) {
	cases := []struct {
		name, in string
		want     event
		problem  string
	}{
		{name: "unknown keys at every level are skipped", in: `{"cluster":"c","added":{"x":[1]},"playlists":[{"url":"u","new":true}]}`,
			want: event{base: base{Cluster: "c"}, Playlists: []playlist{{URL: "u"}}}},
		{name: "key in another case", in: `{"cluster":"a","Cluster":"b"}`, problem: `unknown field "Cluster"`},
		{name: "key in another case inside an array entry", in: `{"playlists":[{"URL":"u"}]}`, problem: `field "playlists[0]": unknown field "URL"`},
		{name: "duplicate unknown key", in: `{"added":1,"added":2}`, problem: `duplicate field "added"`},
		{name: "duplicate inside an unknown value", in: `{"added":{"a":1,"a":2}}`, problem: `field "added": duplicate field "a"`},
		{name: "duplicate known key", in: `{"cluster":"a","cluster":"b"}`, problem: `duplicate field "cluster"`},
		{name: "trailing data", in: `{"cluster":"a"}}`, problem: "has data after the object; must be one JSON object"},
		{name: "not an object", in: `[{"cluster":"a"}]`, problem: "must be one JSON object"},
		{name: "wrong type of a known field", in: `{"version":"1"}`, problem: `field "version": must be an integer of at most 64 bits, not a string`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got event
			err := DecodeAllowUnknown([]byte(c.in), &got)
			if c.problem == "" {
				if err != nil {
					t.Fatalf("DecodeAllowUnknown = %v, want no error", err)
				}
				if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(event{}), cmp.AllowUnexported(base{})); diff != "" {
					t.Fatalf("DecodeAllowUnknown (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeAllowUnknown = nil error, decoded %+v; want %q", got, c.problem)
			}
			if got, want := err.Error(), c.problem; got != want {
				t.Fatalf("DecodeAllowUnknown error = %q, want %q", got, want)
			}
		})
	}
}

func TestValid(t *testing.T) {
	cases := []struct {
		name, in string
		problem  string // empty: valid
	}{
		{name: "object", in: `{"a":{"b":[1,{"c":null}]}}`},
		{name: "array", in: ` [1,"x",true] `},
		{name: "number", in: `12`},
		{name: "keys differing only in case", in: `{"a":1,"A":2}`},
		{name: "duplicate key", in: `{"a":1,"a":2}`, problem: `duplicate field "a"`},
		{name: "duplicate key deep inside", in: `[{"x":{"b":1,"b":2}}]`, problem: `field "[0].x": duplicate field "b"`},
		{name: "trailing brace", in: `{"a":1}}`, problem: "has data after the JSON value"},
		{name: "two values", in: `1 2`, problem: "has data after the JSON value"},
		{name: "empty", in: ``, problem: "ends before the JSON is complete"},
		{name: "syntax error", in: `{"a":}`, problem: "is not valid JSON at byte 5"},
		{name: "invalid UTF-8", in: "\"\xff\"", problem: "is not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Valid([]byte(c.in))
			if c.problem == "" {
				if err != nil {
					t.Fatalf("Valid(%q) = %v, want nil", c.in, err)
				}
				return
			}
			if err == nil || err.Error() != c.problem {
				t.Fatalf("Valid(%q) = %v, want %q", c.in, err, c.problem)
			}
		})
	}
}
