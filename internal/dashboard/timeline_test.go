package dashboard_test

import (
	"encoding/json"
	"io/fs"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/dashboard"
	"github.com/clustered-video-streams/cvs/internal/state"
)

type segment struct {
	From  int64  `json:"from"`
	To    int64  `json:"to"`
	Value string `json:"value"`
}

type mark struct {
	At        int64  `json:"at"`
	Value     string `json:"value"`
	By        string `json:"by"`
	Reason    string `json:"reason"`
	Force     bool   `json:"force"`
	Fallback  bool   `json:"fallback"`
	Automated bool   `json:"automated"`
}

type timeline struct {
	Start  int64     `json:"start"`
	End    int64     `json:"end"`
	Health []segment `json:"health"`
	Open   []segment `json:"open"`
	Marks  []mark    `json:"marks"`
}

// shape runs the page's own timeline.js (as embedded) in goja.
func shape(t *testing.T, in state.Instance, records []state.AuditRecord, now time.Time, window time.Duration) timeline {
	t.Helper()
	src, err := fs.ReadFile(dashboard.Assets(), "timeline.js")
	if err != nil {
		t.Fatal(err)
	}
	vm := goja.New()
	if _, err := vm.RunScript("timeline.js", string(src)); err != nil {
		t.Fatalf("run timeline.js: %v", err)
	}
	inJSON, _ := json.Marshal(in)
	recJSON, _ := json.Marshal(records)
	vm.Set("inJSON", string(inJSON))
	vm.Set("recJSON", string(recJSON))
	vm.Set("now", now.UnixMilli())
	vm.Set("window", window.Milliseconds())
	out, err := vm.RunString(`JSON.stringify(CVSTimeline.shape(JSON.parse(inJSON), JSON.parse(recJSON), now, window))`)
	if err != nil {
		t.Fatalf("shape: %v", err)
	}
	var got timeline
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	return got
}

func TestTimelineShape(t *testing.T) {
	const (
		d1   = "d111111abcdef8.cloudfront.net"
		d2   = "d222222abcdef8.cloudfront.net"
		exec = "arn:aws:states:us-east-1:123456789012:execution:cvs-failover:live-1-d111111abcdef8-42"
		op   = "arn:aws:sts::123456789012:assumed-role/StreamOperator/alice"
	)
	now := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	start := now.Add(-time.Hour)
	at := func(minutesAgo int) time.Time { return now.Add(-time.Duration(minutesAgo) * time.Minute) }
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	rec := func(domain string, minutesAgo int, f state.Field, before, after, by, reason string, version int64) state.AuditRecord {
		return state.AuditRecord{Cluster: "live-1", Domain: domain, At: at(minutesAgo), Field: f, Before: before, After: after, By: by, Reason: reason, Version: version}
	}
	fresh := state.Instance{Cluster: "live-1", Domain: d1, Open: true, Health: state.HealthFresh}
	for _, tc := range []struct {
		name    string
		in      state.Instance
		records []state.AuditRecord
		want    timeline
	}{
		{
			name: "no change within the hour: the current state spans the window",
			in:   fresh,
			records: []state.AuditRecord{
				rec(d1, 90, state.FieldHealth, "unknown", "fresh", "detector", "playlists advancing", 2),
			},
			want: timeline{
				Health: []segment{{ms(start), ms(now), "fresh"}},
				Open:   []segment{{ms(start), ms(now), "open"}},
			},
		},
		{
			name: "automated failover and an operator's reopen",
			in:   fresh,
			// Newest first, as the API serves them, with another instance's records mixed in.
			records: []state.AuditRecord{
				rec(d1, 20, state.FieldOpen, "false", "true", op, "encoder replaced", 7),
				rec(d1, 25, state.FieldHealth, "stale", "fresh", "detector", "playlists advancing", 6),
				rec(d2, 30, state.FieldHealth, "fresh", "stale", "detector", "other region", 9),
				rec(d1, 39, state.FieldOpen, "true", "false", exec, "origin stale for 6.2s, confirmed", 5),
				rec(d1, 40, state.FieldHealth, "fresh", "stale", "detector", "playlists stopped", 4),
			},
			want: timeline{
				Health: []segment{{ms(start), ms(at(40)), "fresh"}, {ms(at(40)), ms(at(25)), "stale"}, {ms(at(25)), ms(now), "fresh"}},
				Open:   []segment{{ms(start), ms(at(39)), "open"}, {ms(at(39)), ms(at(20)), "closed"}, {ms(at(20)), ms(now), "open"}},
				Marks: []mark{
					{At: ms(at(39)), Value: "closed", By: exec, Reason: "origin stale for 6.2s, confirmed", Automated: true},
					{At: ms(at(20)), Value: "open", By: op, Reason: "encoder replaced"},
				},
			},
		},
		{
			name: "records in any order, ties broken by version",
			in:   state.Instance{Domain: d1, Open: false, Health: state.HealthUnreachable},
			records: []state.AuditRecord{
				rec(d1, 10, state.FieldHealth, "fresh", "stale", "detector", "stopped", 3),
				rec(d1, 50, state.FieldHealth, "unknown", "fresh", "detector", "advancing", 2),
				{Domain: d1, At: at(10), Field: state.FieldOpen, Before: "true", After: "false", By: op, Reason: "forced", Force: true, Fallback: true, Version: 4},
				rec(d1, 10, state.FieldHealth, "stale", "unreachable", "detector", "no answer", 5),
			},
			want: timeline{
				Health: []segment{{ms(start), ms(at(50)), "unknown"}, {ms(at(50)), ms(at(10)), "fresh"}, {ms(at(10)), ms(now), "unreachable"}},
				Open:   []segment{{ms(start), ms(at(10)), "open"}, {ms(at(10)), ms(now), "closed"}},
				Marks:  []mark{{At: ms(at(10)), Value: "closed", By: op, Reason: "forced", Force: true, Fallback: true}},
			},
		},
		{
			name: "registered within the hour: nothing before the registration",
			in:   fresh,
			records: []state.AuditRecord{
				rec(d1, 5, state.FieldHealth, "unknown", "fresh", "detector", "advancing", 2),
				rec(d1, 15, state.FieldRegistration, "", `{"region":"us-east-1"}`, op, "new region", 1),
			},
			want: timeline{
				Health: []segment{{ms(at(15)), ms(at(5)), "unknown"}, {ms(at(5)), ms(now), "fresh"}},
				Open:   []segment{{ms(at(15)), ms(now), "open"}},
			},
		},
		{
			name: "an updated registration changes no strip",
			in:   fresh,
			records: []state.AuditRecord{
				rec(d1, 15, state.FieldRegistration, `{"region":"us-east-1"}`, `{"region":"us-east-2"}`, op, "moved", 3),
			},
			want: timeline{
				Health: []segment{{ms(start), ms(now), "fresh"}},
				Open:   []segment{{ms(start), ms(now), "open"}},
			},
		},
		{
			name: "times to the nanosecond, as Go writes them",
			in:   fresh,
			records: []state.AuditRecord{
				{Domain: d1, At: at(30).Add(123456789 * time.Nanosecond), Field: state.FieldHealth, Before: "unreachable", After: "fresh", By: "detector", Version: 2},
			},
			want: timeline{
				Health: []segment{{ms(start), ms(at(30)) + 123, "unreachable"}, {ms(at(30)) + 123, ms(now), "fresh"}},
				Open:   []segment{{ms(start), ms(now), "open"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := shape(t, tc.in, tc.records, now, time.Hour)
			want := tc.want
			want.Start, want.End = ms(start), ms(now)
			if diff := cmp.Diff(want, got, cmp.Transformer("nilIsEmpty", func(s []mark) []mark {
				if s == nil {
					return []mark{}
				}
				return s
			})); diff != "" {
				t.Fatalf("timeline (-want +got):\n%s", diff)
			}
		})
	}
}
