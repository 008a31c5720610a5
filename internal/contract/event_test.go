package contract

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/state"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutate decodes a testdata event into a generic map, applies f, and re-encodes it, so each
// case breaks exactly one thing of a valid event.
func mutate(t *testing.T, name string, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readTestdata(t, name), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func playlist0(m map[string]any) map[string]any {
	return m["playlists"].([]any)[0].(map[string]any)
}

func TestParseDetectorEventAcceptsTheSamples(t *testing.T) {
	e, err := ParseDetectorEvent(readTestdata(t, "stale-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := DetectorEvent{
		Version:           1,
		Event:             state.HealthStale,
		Cluster:           "news-channel",
		Domain:            "d111111abcdef8.cloudfront.net",
		Region:            "eu-west-1",
		OriginPlaylistURL: "https://origin-eu.example.com/news/index.m3u8",
		Playlists: []PlaylistDetail{
			{URL: "https://origin-eu.example.com/news/720p.m3u8", State: state.HealthStale, MediaSequence: 18234, TargetDuration: 6, LastChange: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
				LiveEdge: &LiveEdge{Sequence: 18238, SegmentURI: "seg18238.ts"}, Class: health.Video},
			{URL: "https://origin-eu.example.com/news/360p.m3u8", State: state.HealthStale, MediaSequence: 18234, TargetDuration: 6, LastChange: time.Date(2025, 3, 1, 12, 0, 0, 5e8, time.UTC),
				LiveEdge: &LiveEdge{Sequence: 18239, SegmentURI: "360p/seg18239.ts", PartURI: "360p/part18240.1.mp4", DiscontinuitySequence: 3}, Class: health.Video},
		},
		DetectedAt: time.Date(2025, 3, 1, 12, 0, 9, 2e8, time.UTC),
		StaleForMS: 9200,
		Sequence:   42,
	}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Fatalf("decoded event (-want +got):\n%s", diff)
	}
	for _, name := range []string{"unreachable-event.json", "fresh-event.json"} {
		if _, err := ParseDetectorEvent(readTestdata(t, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseDetectorEventWithoutLiveEdge(t *testing.T) {
	// fresh-event.json is an event as sent before live_edge existed: still version 1, still
	// valid, and encoded again without the field.
	e, err := ParseDetectorEvent(readTestdata(t, "fresh-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Playlists[0].LiveEdge != nil {
		t.Fatalf("live_edge = %+v, want nil", e.Playlists[0].LiveEdge)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "live_edge") {
		t.Errorf("encoded %s: an absent live_edge should be left out", b)
	}
}

func TestParseDetectorEventRefusesKeysItDoesNotKnow(t *testing.T) {
	// Every consumer acts on exactly what it validated: a key it does not know, a key in another
	// case (which encoding/json would match) and a key given twice are refused, at every level.
	stale := readTestdata(t, "stale-event.json")
	rename := func(from, to string) []byte {
		t.Helper()
		if !strings.Contains(string(stale), `"`+from+`":`) {
			t.Fatalf("stale-event.json has no key %q", from)
		}
		return []byte(strings.Replace(string(stale), `"`+from+`":`, `"`+to+`":`, 1))
	}
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"a new top-level field", mutate(t, "stale-event.json", func(m map[string]any) { m["encoder"] = map[string]any{"id": "enc-1"} }), `unknown field "encoder"`},
		{"a new playlist field", mutate(t, "stale-event.json", func(m map[string]any) { playlist0(m)["bandwidth"] = 2500000 }), `field "playlists[0]": unknown field "bandwidth"`},
		{"a new live edge field", mutate(t, "stale-event.json", func(m map[string]any) { playlist0(m)["live_edge"].(map[string]any)["gaps"] = 2 }), `field "playlists[0].live_edge": unknown field "gaps"`},
		{"cluster in capitals", rename("cluster", "CLUSTER"), `unknown field "CLUSTER"`},
		{"cluster twice in two cases", []byte(strings.Replace(string(stale), `"cluster":`, `"Cluster":"b","cluster":`, 1)), `unknown field "Cluster"`},
		{"cluster twice", []byte(strings.Replace(string(stale), `"cluster":`, `"cluster":"b","cluster":`, 1)), `duplicate field "cluster"`},
		{"trailing brace", append(append([]byte(nil), stale...), '}'), "has data after the object"},
		{"an array of the event", append(append([]byte("["), stale...), ']'), "must be one JSON object"},
		{"a string for the sequence", mutate(t, "stale-event.json", func(m map[string]any) { m["sequence"] = "42" }), `field "sequence": must be an integer of at most 64 bits, not a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseDetectorEvent(tt.body)
			if err == nil {
				t.Fatalf("ParseDetectorEvent accepted it: %+v", e)
			}
			var ie *InvalidInputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v, want *InvalidInputError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if regexp.MustCompile(`int64|workflow\.|DetectorEvent`).MatchString(err.Error()) {
				t.Errorf("error %q names a Go type", err)
			}
		})
	}
	t.Run("a new version is refused first", func(t *testing.T) {
		_, err := ParseDetectorEvent(mutate(t, "stale-event.json", func(m map[string]any) { m["version"] = 2; m["encoder"] = "enc-1" }))
		if err == nil || !strings.HasPrefix(err.Error(), "invalid detector event: version: is 2, want 1") {
			t.Errorf("ParseDetectorEvent = %v, want the version refused first", err)
		}
	})
}

func TestParseDetectorEventAtRefusesSequencesFromTheFuture(t *testing.T) {
	e, err := ParseDetectorEvent(readTestdata(t, "stale-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	genuine := time.UnixMilli(e.Sequence) // the detector's clock when it claimed the event
	tests := []struct {
		name     string
		sequence int64
		now      time.Time
		want     string // "" when accepted
	}{
		{"sequence of now", e.Sequence, genuine, ""},
		{"reader's clock a little behind", e.Sequence, genuine.Add(-MaxSequenceAhead), ""},
		{"reader's clock far behind", e.Sequence, genuine.Add(-MaxSequenceAhead - time.Millisecond), "more than 5m0s ahead of now"},
		{"largest sequence", math.MaxInt64, genuine, "sequence: is 9223372036854775807, more than 5m0s ahead of now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := mutate(t, "stale-event.json", func(m map[string]any) { m["sequence"] = tt.sequence })
			got, err := ParseDetectorEventAt(body, tt.now)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ParseDetectorEventAt = %v", err)
				}
				if got.Sequence != tt.sequence {
					t.Fatalf("sequence = %d, want %d", got.Sequence, tt.sequence)
				}
				return
			}
			var ie *InvalidInputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseDetectorEventAt = %v, want an *InvalidInputError saying %q", err, tt.want)
			}
			if got.Sequence != 0 {
				t.Fatalf("returned a partial event: %+v", got)
			}
		})
	}
}

func TestDetectorEventRoundTrip(t *testing.T) {
	// What the detector encodes, the workflow decodes unchanged; a never-seen last_change is
	// left out rather than sent as year 1.
	e, err := ParseDetectorEvent(readTestdata(t, "unreachable-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "last_change") {
		t.Errorf("encoded %s: zero last_change should be omitted", b)
	}
	back, err := ParseDetectorEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, back); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

func TestParseDetectorEventRejects(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want []string // substrings of the error, one per expected problem
	}{
		{"version 2", mutate(t, "stale-event.json", func(m map[string]any) { m["version"] = 2 }),
			[]string{"version: is 2, want 1"}},
		{"version 2 that does not decode as version 1", mutate(t, "stale-event.json", func(m map[string]any) { m["version"], m["sequence"] = 2, "42" }),
			[]string{"version: is 2, want 1", "sequence"}},
		{"missing version", mutate(t, "stale-event.json", func(m map[string]any) { delete(m, "version") }),
			[]string{"version: is 0, want 1"}},
		{"unknown event kind", mutate(t, "stale-event.json", func(m map[string]any) { m["event"] = "late" }),
			[]string{`event: is "late"`}},
		{"an unknown health is no event", mutate(t, "stale-event.json", func(m map[string]any) { m["event"] = "unknown" }),
			[]string{`event: is "unknown"`}},
		{"wrong type", mutate(t, "stale-event.json", func(m map[string]any) { m["sequence"] = "42" }),
			[]string{"sequence"}},
		{"missing cluster and domain", mutate(t, "stale-event.json", func(m map[string]any) { delete(m, "cluster"); delete(m, "domain") }),
			[]string{"cluster: is required", "domain: is required"}},
		{"space in region", mutate(t, "stale-event.json", func(m map[string]any) { m["region"] = "eu west 1" }),
			[]string{"region: \"eu west 1\" contains spaces"}},
		{"overlong cluster", mutate(t, "stale-event.json", func(m map[string]any) { m["cluster"] = strings.Repeat("c", MaxNameLen+1) }),
			[]string{"cluster: is 257 bytes"}},
		{"relative origin URL", mutate(t, "stale-event.json", func(m map[string]any) { m["origin_playlist_url"] = "/news/index.m3u8" }),
			[]string{"origin_playlist_url: \"/news/index.m3u8\" is not an absolute http(s) URL"}},
		{"no playlists", mutate(t, "stale-event.json", func(m map[string]any) { m["playlists"] = []any{} }),
			[]string{"playlists: is empty"}},
		{"too many playlists", mutate(t, "stale-event.json", func(m map[string]any) {
			p := playlist0(m)
			all := make([]any, MaxPlaylists+1)
			for i := range all {
				all[i] = p
			}
			m["playlists"] = all
		}), []string{"playlists: has 65 entries"}},
		{"bad playlist state", mutate(t, "stale-event.json", func(m map[string]any) { playlist0(m)["state"] = "unknown" }),
			[]string{`playlists[0].state: is "unknown"`}},
		{"read playlist without target duration", mutate(t, "stale-event.json", func(m map[string]any) { playlist0(m)["target_duration"] = 0 }),
			[]string{"playlists[0].target_duration: is 0 for a playlist that was read"}},
		{"live edge of a playlist never read", mutate(t, "stale-event.json", func(m map[string]any) {
			playlist0(m)["target_duration"], playlist0(m)["state"] = 0, "unreachable"
		}), []string{"playlists[0].live_edge: is given for a playlist that was never read"}},
		{"live edge before the media sequence", mutate(t, "stale-event.json", func(m map[string]any) {
			playlist0(m)["live_edge"].(map[string]any)["sequence"] = 18233
		}), []string{"playlists[0].live_edge.sequence: is 18233, before media_sequence 18234"}},
		{"live edge sequence without a segment", mutate(t, "stale-event.json", func(m map[string]any) {
			delete(playlist0(m)["live_edge"].(map[string]any), "segment_uri")
		}), []string{"playlists[0].live_edge.sequence: is 18238 without a segment_uri"}},
		{"overlong live edge URIs", mutate(t, "stale-event.json", func(m map[string]any) {
			le := playlist0(m)["live_edge"].(map[string]any)
			le["segment_uri"], le["part_uri"] = strings.Repeat("s", MaxEdgeURILen+1), strings.Repeat("p", MaxEdgeURILen+1)
		}), []string{"live_edge.segment_uri: is 257 bytes", "live_edge.part_uri: is 257 bytes"}},
		{"control character in a live edge URI", mutate(t, "stale-event.json", func(m map[string]any) {
			playlist0(m)["live_edge"].(map[string]any)["part_uri"] = "p1.mp4\n#EXT-X-ENDLIST"
		}), []string{"live_edge.part_uri: contains spaces or control characters"}},
		{"playlist of an unknown class", mutate(t, "stale-event.json", func(m map[string]any) { playlist0(m)["class"] = "subtitles" }),
			[]string{`playlists[0].class: is "subtitles", want video or audio`}},
		{"ftp playlist URL", mutate(t, "stale-event.json", func(m map[string]any) { playlist0(m)["url"] = "ftp://origin/x.m3u8" }),
			[]string{"playlists[0].url"}},
		{"stale for no time", mutate(t, "stale-event.json", func(m map[string]any) { m["stale_for_ms"] = 0 }),
			[]string{"stale_for_ms: is 0 in a stale event"}},
		{"negative stale time", mutate(t, "fresh-event.json", func(m map[string]any) { m["stale_for_ms"] = -1 }),
			[]string{"stale_for_ms: is -1"}},
		{"missing detected_at", mutate(t, "stale-event.json", func(m map[string]any) { delete(m, "detected_at") }),
			[]string{"detected_at: is missing"}},
		{"negative omitted playlists", mutate(t, "stale-event.json", func(m map[string]any) { m["omitted_playlists"] = -1 }),
			[]string{"omitted_playlists: is -1, want >= 0"}},
		{"sequence zero", mutate(t, "stale-event.json", func(m map[string]any) { m["sequence"] = 0 }),
			[]string{"sequence: is 0, want >= 1"}},
		{"two values", append(readTestdata(t, "stale-event.json"), []byte(`{}`)...),
			[]string{"has data after the object; must be one JSON object"}},
		{"not JSON", []byte(`<xml/>`), []string{"is not valid JSON at byte 1"}},
		{"oversized body", []byte(`{"cluster":"` + strings.Repeat("x", MaxEventBodyLen) + `"}`),
			[]string{"more than 65536"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseDetectorEvent(tt.body)
			if err == nil {
				t.Fatalf("ParseDetectorEvent accepted it: %+v", e)
			}
			var ie *InvalidInputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v, want *InvalidInputError", err, err)
			}
			if got, want := len(ie.Problems), len(tt.want); got != want {
				t.Errorf("%d problems %q, want %d", got, ie.Problems, want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "invalid detector event: ") {
				t.Errorf("error %q does not start with what was invalid", err)
			}
			if diff := cmp.Diff(DetectorEvent{}, e); diff != "" {
				t.Errorf("returned a partial event: %s", diff)
			}
		})
	}
}

func TestExecutionName(t *testing.T) {
	base := DetectorEvent{Cluster: "news-channel", Domain: "d111111abcdef8.cloudfront.net", Sequence: 42}
	allowed := regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	with := func(f func(e *DetectorEvent)) DetectorEvent { e := base; f(&e); return e }

	t.Run("readable and deterministic", func(t *testing.T) {
		got := ExecutionName(base)
		if want := "news-channel_d111111abcdef8-cloudfront-net_42_"; !strings.HasPrefix(got, want) {
			t.Errorf("ExecutionName = %q, want prefix %q", got, want)
		}
		// A duplicate SNS delivery carries the same event, details and all.
		dup := with(func(e *DetectorEvent) { e.StaleForMS = 1234; e.Region = "x" })
		if again := ExecutionName(dup); again != got {
			t.Errorf("same cluster, domain and sequence gave %q and %q", got, again)
		}
	})

	names := map[string]DetectorEvent{}
	tests := []struct {
		name string
		e    DetectorEvent
	}{
		{"base", base},
		{"next sequence", with(func(e *DetectorEvent) { e.Sequence = 43 })},
		{"other domain", with(func(e *DetectorEvent) { e.Domain = "d222.cloudfront.net" })},
		{"other cluster", with(func(e *DetectorEvent) { e.Cluster = "sports" })},
		// Replaced characters must not merge different domains into one name.
		{"dots", with(func(e *DetectorEvent) { e.Domain = "a.b" })},
		{"dashes", with(func(e *DetectorEvent) { e.Domain = "a-b" })},
		// Nor may the cut: these differ only after the kept characters.
		{"long domain 1", with(func(e *DetectorEvent) { e.Domain = strings.Repeat("d", 40) + "1.example.com" })},
		{"long domain 2", with(func(e *DetectorEvent) { e.Domain = strings.Repeat("d", 40) + "2.example.com" })},
		// Nor may the separator: cluster "a_b" + domain "c" against cluster "a" + domain "b_c".
		{"separator left", with(func(e *DetectorEvent) { e.Cluster = "a_b"; e.Domain = "c" })},
		{"separator right", with(func(e *DetectorEvent) { e.Cluster = "a"; e.Domain = "b_c" })},
		{"forbidden characters", with(func(e *DetectorEvent) {
			e.Cluster = `ch<1>{x}[y]?*"#%\^|~` + "`$&,;:/"
			e.Domain = "héllo wörld\t\x00"
		})},
		{"empty names", with(func(e *DetectorEvent) { e.Cluster = ""; e.Domain = "" })},
		{"longest everything", with(func(e *DetectorEvent) {
			e.Cluster = strings.Repeat("c", MaxNameLen)
			e.Domain = strings.Repeat("d", MaxNameLen)
			e.Sequence = math.MaxInt64
		})},
		{"most negative sequence", with(func(e *DetectorEvent) { e.Sequence = math.MinInt64 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExecutionName(tt.e)
			if !allowed.MatchString(got) {
				t.Errorf("ExecutionName = %q (%d chars): want 1-%d of A-Z a-z 0-9 - _", got, len(got), MaxExecutionName)
			}
			if prev, dup := names[got]; dup {
				t.Errorf("ExecutionName = %q for both %+v and %+v", got, prev, tt.e)
			}
			names[got] = tt.e
		})
	}
}

func TestTaskInputsValidate(t *testing.T) {
	var stale, fresh DetectorEvent
	if err := json.Unmarshal(readTestdata(t, "stale-event.json"), &stale); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(readTestdata(t, "fresh-event.json"), &fresh); err != nil {
		t.Fatal(err)
	}
	broken := stale
	broken.Cluster = ""
	change := CloseInput{Cluster: "c", Domain: "d", Reason: "r", ChangedBy: "arn:aws:states:eu-west-1:1:execution:f:x", Sequence: 1}

	tests := []struct {
		name string
		in   interface{ Validate() error }
		want string // "" when valid
	}{
		{"confirm stale event in stale mode", ConfirmInput{Mode: ConfirmStale, Event: stale}, ""},
		{"confirm fresh event in fresh mode", ConfirmInput{Mode: ConfirmFresh, Event: fresh}, ""},
		{"confirm fresh event in stale mode", ConfirmInput{Mode: ConfirmStale, Event: fresh}, `event.event: is "fresh"; stale mode`},
		{"confirm stale event in fresh mode", ConfirmInput{Mode: ConfirmFresh, Event: stale}, `event.event: is "stale"; fresh mode`},
		{"confirm unknown mode", ConfirmInput{Mode: "maybe", Event: stale}, `mode: is "maybe"`},
		{"confirm broken event", ConfirmInput{Mode: ConfirmStale, Event: broken}, "invalid confirm input: event.cluster: is required"},
		{"close", change, ""},
		{"close without reason or caller", CloseInput{Cluster: "c", Domain: "d", Sequence: 1}, "invalid close input: reason: is required; changed_by: is required"},
		{"reopen", ReopenInput(change), ""},
		{"reopen without sequence", ReopenInput{Cluster: "c", Domain: "d", Reason: "r", ChangedBy: "x"}, "invalid reopen input: sequence: is 0"},
		{"failback", FailbackInput{DetectorEvent: fresh, HoldDownSeconds: 300}, ""},
		{"failback on a stale event", FailbackInput{DetectorEvent: stale, HoldDownSeconds: 300}, `detector_event.event: is "stale"`},
		{"failback hold-down over a day", FailbackInput{DetectorEvent: fresh, HoldDownSeconds: 86401}, "hold_down_seconds: is 86401, want 0 to 86400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ie *InvalidInputError
			if !errors.As(err, &ie) {
				t.Fatalf("Validate() = %T %v, want *InvalidInputError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestErrorsUnwrap(t *testing.T) {
	cause := errors.New("connection reset")
	for _, err := range []error{&OriginProbeError{URL: "https://o/x.m3u8", Err: cause}, &StateStoreError{Op: "close", Err: cause}} {
		if !errors.Is(err, cause) {
			t.Errorf("%T does not unwrap to its cause", err)
		}
		if !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("%T message %q lacks the cause", err, err)
		}
	}
}

func TestTaskInputsDecodeStrictly(t *testing.T) {
	// aws-lambda-go decodes a task's payload with encoding/json, which calls UnmarshalJSON and
	// returns its error as it is: the Lambda reports "InvalidInputError", which the state
	// machines' Catch matches.
	const close = `{"cluster":"c","domain":"d","reason":"r","changed_by":"arn:aws:states:eu-west-1:1:execution:f:x","sequence":1`
	tests := []struct {
		name string
		in   any
		body string
		want string // "" when accepted
	}{
		{"close", &CloseInput{}, close + `}`, ""},
		{"close with a key in capitals", &CloseInput{}, close + `,"CLUSTER":"other"}`, `invalid close input: unknown field "CLUSTER"`},
		{"close with a duplicate key", &CloseInput{}, close + `,"domain":"e"}`, `invalid close input: duplicate field "domain"`},
		{"close with a string sequence", &CloseInput{}, `{"sequence":"1"}`, `invalid close input: field "sequence": must be an integer of at most 64 bits, not a string`},
		{"reopen with an unknown key", &ReopenInput{}, close + `,"force":true}`, `invalid reopen input: unknown field "force"`},
		{"confirm with a key in another case inside the event", &ConfirmInput{}, `{"mode":"stale","event":{"Cluster":"c"}}`, `invalid confirm input: field "event": unknown field "Cluster"`},
		{"failback that is an array", &FailbackInput{}, `[]`, "invalid failback input: must be one JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tt.body), tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Unmarshal = %v", err)
				}
				return
			}
			ie, ok := err.(*InvalidInputError)
			if !ok {
				t.Fatalf("Unmarshal = %T %v, want *InvalidInputError as it is", err, err)
			}
			if got := ie.Error(); got != tt.want {
				t.Fatalf("Unmarshal = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChangeInputsRefuseSequencesFromTheFuture(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := CloseInput{Cluster: "c", Domain: "d", Reason: "r", ChangedBy: "x", Sequence: now.UnixMilli()}
	if err := in.ValidateAt(now); err != nil {
		t.Fatalf("ValidateAt of a sequence of now = %v", err)
	}
	in.Sequence = now.Add(MaxSequenceAhead).UnixMilli() + 1
	for _, v := range []interface{ ValidateAt(time.Time) error }{in, ReopenInput(in)} {
		if err := v.ValidateAt(now); err == nil || !strings.Contains(err.Error(), "sequence: is "+strconv.FormatInt(in.Sequence, 10)+", more than 5m0s ahead") {
			t.Errorf("%T.ValidateAt = %v, want the sequence refused", v, err)
		}
	}
}
