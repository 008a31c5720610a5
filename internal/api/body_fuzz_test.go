package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// bodyTypes are the request bodies the API decodes, by their route's name.
var bodyTypes = map[string]func() any{
	"close":    func() any { return new(CloseRequest) },
	"open":     func() any { return new(OpenRequest) },
	"register": func() any { return new(RegisterRequest) },
	"master":   func() any { return new(MasterRequest) },
}

// FuzzDecodeBody checks the API's body decoder: whatever it accepts is one JSON object whose keys
// are known JSON names of the body type, each exactly once, and decodes as encoding/json decodes
// it; whatever it refuses is a 4xx with a message; and the whole handler never answers a 5xx to
// a close with that body.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"reason":"x"}`,
		`{"reason":"x","force":true,"expected_version":3}`,
		`{"reason":"x","force":true}]`,
		`{"reason":"x","force":false,"FORCE":true}`,
		`{"reason":"x","reason":"y"}`,
		`{"region":"us-east-1","distribution_playlist_url":"https://d111111abcdef8.cloudfront.net/i.m3u8","origin_playlist_url":"https://o.example.com/i.m3u8"}`,
		`{"REGION":"us-east-1"}`,
		`{"steering_uri":"https://steer.example.com/s.json"}`,
		`{"expected_version":1e3}`,
		`{"force":"yes"}`,
		`[]`, `null`, `{}`, ``, `{"reason":"\ud800"}`, "{\"reason\":\"\xff\"}", `{"reason":null}`,
	} {
		f.Add([]byte(seed))
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, newBody := range bodyTypes {
			v := newBody()
			err := decodeBody(body, v)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || Status(e.Code) >= 500 || e.Message == "" {
					t.Fatalf("%s: refusal %v is not a 4xx with a message", name, err)
				}
				continue
			}
			keys, ok := topLevelKeys(body)
			if !ok {
				t.Fatalf("%s: accepted %q, which is not one JSON object", name, body)
			}
			known := jsonNames(reflect.TypeOf(v).Elem())
			seen := map[string]bool{}
			for _, k := range keys {
				if !known[k] || seen[k] {
					t.Fatalf("%s: accepted %q with key %q (unknown or repeated)", name, body, k)
				}
				seen[k] = true
			}
			std := newBody()
			if err := json.Unmarshal(body, std); err != nil {
				t.Fatalf("%s: accepted %q, which encoding/json refuses: %v", name, body, err)
			}
			if !reflect.DeepEqual(v, std) {
				t.Fatalf("%s: %q decoded as %+v, encoding/json says %+v", name, body, v, std)
			}
		}
		req := httptest.NewRequest("POST", "/clusters/live-1/instances/d111111abcdef8.cloudfront.net/close", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("close with %q: status %d %s", body, rec.Code, rec.Body)
		}
	})
}

// fuzzHandler is the API on a memory store holding two fresh instances of live-1.
func fuzzHandler(tb testing.TB) http.Handler {
	store := memory.New(nil)
	for _, d := range []string{"d111111abcdef8.cloudfront.net", "d222222abcdef8.cloudfront.net"} {
		r := state.Registration{Cluster: "live-1", Domain: d, Region: "us-east-1",
			DistributionPlaylistURL: "https://" + d + "/i.m3u8", OriginPlaylistURL: "https://o.example.com/i.m3u8"}
		if _, err := store.Register(context.Background(), r, state.Change{By: "local:seed"}); err != nil {
			tb.Fatal(err)
		}
		if _, err := store.RecordHealth(context.Background(), "live-1", d, state.HealthFresh, state.Change{By: "local:seed"}); err != nil {
			tb.Fatal(err)
		}
	}
	return New(Options{Store: store, Caller: LocalCaller("fuzz"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// topLevelKeys lists the keys of body's object in order, repeats included; ok is false unless
// body is exactly one JSON object.
func topLevelKeys(body []byte) (keys []string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return keys, true
}

// jsonNames are the JSON names of a flat struct's fields.
func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		names[name] = true
	}
	return names
}
