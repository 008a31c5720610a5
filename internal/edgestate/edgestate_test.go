package edgestate

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/state"
)

func inst(domain, region string, open bool, h state.Health) state.Instance {
	return state.Instance{Cluster: "news", Domain: domain, Region: region, Open: open, Health: h, Version: 3}
}

func TestEncodeInstance(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		name string
		in   state.Instance
		want string
	}{
		{"closed with reason", state.Instance{Cluster: "news", Domain: "d1.cloudfront.net", Region: "us-east-1", Open: false, Health: state.HealthStale, Reason: "stale <9s> & more", OpenChangedAt: at, Version: 7},
			`{"open":false,"since":"2026-01-02T02:04:05Z","reason":"stale <9s> & more","health":"stale","cluster":"news","region":"us-east-1","version":7}`},
		{"new open instance", state.Instance{Cluster: "news", Domain: "d1", Open: true, Health: state.HealthUnknown, Version: 1},
			`{"open":true,"health":"unknown","cluster":"news","version":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeInstance(tc.in)
			if err != nil {
				t.Fatalf("EncodeInstance: %v", err)
			}
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			back, err := DecodeInstance(got)
			if err != nil {
				t.Fatalf("DecodeInstance: %v", err)
			}
			if diff := cmp.Diff(NewInstance(tc.in), back); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeInstanceFitsTheValueLimit(t *testing.T) {
	for _, tc := range []struct{ name, reason string }{
		{"ASCII", strings.Repeat("r", 4000)},
		{"multi-byte", strings.Repeat("é€", 1500)},
		{"needs escaping", strings.Repeat("\"\n", 2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := inst("d1.cloudfront.net", "us-east-1", false, state.HealthStale)
			in.Reason = tc.reason
			got, err := EncodeInstance(in)
			if err != nil {
				t.Fatalf("EncodeInstance: %v", err)
			}
			if len(got) > MaxValueBytes {
				t.Fatalf("value is %d bytes, over %d", len(got), MaxValueBytes)
			}
			v, err := DecodeInstance(got)
			if err != nil {
				t.Fatalf("DecodeInstance: %v", err)
			}
			if v.Reason == "" || !strings.HasPrefix(tc.reason, v.Reason) || !utf8.ValidString(v.Reason) {
				t.Fatalf("reason %q is not a valid non-empty prefix of the original", v.Reason)
			}
			if v.Open || v.Version != 3 {
				t.Fatalf("decoded %+v: the state itself must survive the cut", v)
			}
		})
	}
}

func TestNewSteering(t *testing.T) {
	for _, tc := range []struct {
		name      string
		instances []state.Instance
		ttl       int
		want      Steering
	}{
		{"healthy first, then unknown, then unwell; closed left out",
			[]state.Instance{
				inst("d1", "us-west-2", true, state.HealthStale),
				inst("d2", "us-east-1", false, state.HealthFresh),
				inst("d3", "eu-west-1", true, state.HealthUnknown),
				inst("d4", "ap-south-1", true, state.HealthFresh),
				inst("d5", "sa-east-1", true, state.HealthFresh),
			}, 6,
			Steering{Version: 1, TTL: 6, PathwayPriority: []string{"ap-south-1", "sa-east-1", "eu-west-1", "us-west-2"}}},
		{"all closed: all listed, so the manifest is never empty",
			[]state.Instance{inst("d1", "us-east-1", false, state.HealthStale), inst("d2", "eu-west-1", false, state.HealthFresh)}, 0,
			Steering{Version: 1, TTL: DefaultSteeringTTL, PathwayPriority: []string{"eu-west-1", "us-east-1"}}},
		{"one region listed once",
			[]state.Instance{inst("d1", "us-east-1", true, state.HealthFresh), inst("d2", "us-east-1", true, state.HealthStale)}, 10,
			Steering{Version: 1, TTL: 10, PathwayPriority: []string{"us-east-1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, NewSteering(tc.instances, tc.ttl)); diff != "" {
				t.Fatalf("steering (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEntries(t *testing.T) {
	instances := []state.Instance{inst("d1.cloudfront.net", "us-east-1", true, state.HealthFresh), inst("d2.cloudfront.net", "eu-west-1", false, state.HealthStale)}
	got, err := Entries("news", instances, 4)
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	want := map[string]string{
		"d1.cloudfront.net": `{"open":true,"health":"fresh","cluster":"news","region":"us-east-1","version":3}`,
		"d2.cloudfront.net": `{"open":false,"health":"stale","cluster":"news","region":"eu-west-1","version":3}`,
		"steering_news":     `{"VERSION":1,"TTL":4,"PATHWAY-PRIORITY":["us-east-1"]}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("entries (-want +got):\n%s", diff)
	}
	empty, err := Entries("news", nil, 4)
	if err != nil || len(empty) != 0 {
		t.Fatalf("Entries of no instances = %v, %v; want none", empty, err)
	}
	if got, want := SteeringPath("news"), "/steering/news.json"; got != want {
		t.Fatalf("SteeringPath = %q, want %q", got, want)
	}
}

func TestDecodeInstanceIsStrict(t *testing.T) {
	const valid = `{"open":false,"cluster":"news","version":3}`
	if v, err := DecodeInstance(valid); err != nil || v.Open || v.Version != 3 {
		t.Fatalf("DecodeInstance(%s) = %+v, %v", valid, v, err)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"open in capitals", `{"open":true,"OPEN":false,"cluster":"news","version":3}`, `unknown field "OPEN"`},
		{"open twice", `{"open":true,"open":false,"cluster":"news","version":3}`, `duplicate field "open"`},
		{"a trailing brace", valid + `}`, "has data after the object"},
		{"an unknown key", `{"open":false,"cluster":"news","version":3,"note":"x"}`, `unknown field "note"`},
		{"a string version", `{"open":false,"cluster":"news","version":"3"}`, `field "version": must be an integer of at most 64 bits, not a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeInstance(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeInstance(%s) = %v, want an error saying %q", tc.in, err, tc.want)
			}
		})
	}
}
