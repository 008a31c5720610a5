// Package statetest is the contract every state.Store passes: the memory store and the
// DynamoDB store run the same suite, so what one guarantees the other does too.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// NewStore returns an empty store for one test that reads time from now.
type NewStore func(t *testing.T, now func() time.Time) state.Store

// T0 is the time the suite's clocks start at: the wall clock when the tests start, plus
// nanoseconds, which stores must keep. Not a fixed date: DynamoDB's TTL (and DynamoDB Local's)
// deletes audit records whose expires_at is past by the real clock, so records stamped in the
// past by a fake clock would vanish mid-test.
var T0 = time.Now().UTC().Truncate(time.Second).Add(123456789 * time.Nanosecond)

// Run runs the contract suite against stores made by newStore, one per subtest.
func Run(t *testing.T, newStore NewStore) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s state.Store, clk *Clock)
	}{
		{"register creates an open instance with unknown health", testRegisterNew},
		{"register refuses bad input and writes nothing", testRegisterInvalid},
		{"registering the same again writes nothing", testRegisterSame},
		{"re-registering updates the URLs and keeps open state and health", testRegisterUpdate},
		{"unknown instances and clusters are not found", testNotFound},
		{"instances are ordered by domain and clusters listed once", testListing},
		{"record health sets health, stale flag and time", testRecordHealth},
		{"recording the same health writes nothing", testRecordSameHealth},
		{"invalid health is refused and writes nothing", testRecordInvalidHealth},
		{"the guard decides closes by the other instances", testGuard},
		{"a refused close writes nothing", testRefusedCloseWritesNothing},
		{"force closes the last instance and the audit says so", testForceClose},
		{"closing a closed instance writes nothing", testCloseClosed},
		{"open reopens and opening an open instance writes nothing", testOpen},
		{"expected version guards every write", testExpectedVersion},
		{"writes without a named author are refused", testChangeWithoutBy},
		{"history pages newest first and filters by instance", testHistoryPaging},
		{"history refuses bad queries", testHistoryInvalid},
		{"concurrent closes always leave a healthy instance open", testConcurrentCloses},
		{"concurrent health records each write once", testConcurrentHealth},
		{"a domain registered to one cluster is refused to another", testDomainTaken},
		{"concurrent registrations of one domain in several clusters: one wins", testConcurrentDomainClaims},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewClock(T0)
			tc.test(t, newStore(t, clk.Now), clk)
		})
	}
}

var ctx = context.Background()

func registration(cluster, domain string) state.Registration {
	return state.Registration{
		Cluster:                 cluster,
		Domain:                  domain,
		Region:                  "eu-west-1",
		DistributionPlaylistURL: "https://" + domain + "/live/index.m3u8",
		OriginPlaylistURL:       "https://origin." + domain + "/live/index.m3u8",
	}
}

var operator = state.Change{By: "arn:aws:iam::123456789012:user/operator", Reason: "test"}

func register(t *testing.T, s state.Store, cluster, domain string) state.Instance {
	t.Helper()
	in, err := s.Register(ctx, registration(cluster, domain), operator)
	if err != nil {
		t.Fatalf("Register(%s/%s): %v", cluster, domain, err)
	}
	return in
}

func health(t *testing.T, s state.Store, cluster, domain string, h state.Health) state.Instance {
	t.Helper()
	in, err := s.RecordHealth(ctx, cluster, domain, h, state.Change{By: "detector", Reason: "probe"})
	if err != nil {
		t.Fatalf("RecordHealth(%s/%s, %s): %v", cluster, domain, h, err)
	}
	return in
}

func get(t *testing.T, s state.Store, cluster, domain string) state.Instance {
	t.Helper()
	in, err := s.Instance(ctx, cluster, domain)
	if err != nil {
		t.Fatalf("Instance(%s/%s): %v", cluster, domain, err)
	}
	return in
}

// history returns a cluster's whole audit trail, newest first.
func history(t *testing.T, s state.Store, cluster, domain string) []state.AuditRecord {
	t.Helper()
	var all []state.AuditRecord
	q := state.HistoryQuery{Cluster: cluster, Domain: domain, Limit: state.MaxHistoryLimit}
	for {
		p, err := s.History(ctx, q)
		if err != nil {
			t.Fatalf("History(%+v): %v", q, err)
		}
		all = append(all, p.Records...)
		if p.Next == "" {
			return all
		}
		q.Cursor = p.Next
	}
}

func testRegisterNew(t *testing.T, s state.Store, clk *Clock) {
	r := registration("news", "d1.cloudfront.net")
	got, err := s.Register(ctx, r, operator)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	want := state.Instance{
		Cluster:                 "news",
		Domain:                  "d1.cloudfront.net",
		Region:                  "eu-west-1",
		DistributionPlaylistURL: r.DistributionPlaylistURL,
		OriginPlaylistURL:       r.OriginPlaylistURL,
		Open:                    true,
		Health:                  state.HealthUnknown,
		HealthChangedAt:         T0,
		OpenChangedAt:           T0,
		Reason:                  operator.Reason,
		ChangedBy:               operator.By,
		Version:                 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Register returned (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, get(t, s, "news", "d1.cloudfront.net")); diff != "" {
		t.Errorf("Instance after Register (-want +got):\n%s", diff)
	}
	wantAudit := []state.AuditRecord{{
		Cluster: "news",
		Domain:  "d1.cloudfront.net",
		At:      T0,
		Field:   state.FieldRegistration,
		Before:  "",
		After:   `{"region":"eu-west-1","distribution_playlist_url":"https://d1.cloudfront.net/live/index.m3u8","origin_playlist_url":"https://origin.d1.cloudfront.net/live/index.m3u8"}`,
		By:      operator.By,
		Reason:  operator.Reason,
		Version: 1,
	}}
	if diff := cmp.Diff(wantAudit, history(t, s, "news", "")); diff != "" {
		t.Errorf("History after Register (-want +got):\n%s", diff)
	}
}

func testRegisterInvalid(t *testing.T, s state.Store, clk *Clock) {
	good := registration("news", "d1.cloudfront.net")
	for _, tc := range []struct {
		name  string
		edit  func(r *state.Registration)
		field string
	}{
		{"empty cluster", func(r *state.Registration) { r.Cluster = "" }, "cluster"},
		{"cluster with a hash", func(r *state.Registration) { r.Cluster = "news#1" }, "cluster"},
		{"empty domain", func(r *state.Registration) { r.Domain = "" }, "domain"},
		{"domain shaped like an audit key", func(r *state.Registration) { r.Domain = "audit#00001#x" }, "domain"},
		{"domain with a path", func(r *state.Registration) { r.Domain = "d1.cloudfront.net/live" }, "domain"},
		{"empty region", func(r *state.Registration) { r.Region = "" }, "region"},
		{"relative distribution URL", func(r *state.Registration) { r.DistributionPlaylistURL = "/live/index.m3u8" }, "distribution_playlist_url"},
		{"ftp origin URL", func(r *state.Registration) { r.OriginPlaylistURL = "ftp://origin/live/index.m3u8" }, "origin_playlist_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.edit(&r)
			_, err := s.Register(ctx, r, operator)
			var inv *state.InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, state.ErrInvalid) {
				t.Fatalf("Register(%+v) error = %v, want *state.InvalidError", r, err)
			}
			if got, want := inv.Field, tc.field; got != want {
				t.Errorf("InvalidError.Field = %q, want %q", got, want)
			}
		})
	}
	clusters, err := s.Clusters(ctx)
	if err != nil {
		t.Fatalf("Clusters: %v", err)
	}
	if len(clusters) != 0 {
		t.Errorf("Clusters after refused registrations = %q, want none", clusters)
	}
}

func testRegisterSame(t *testing.T, s state.Store, clk *Clock) {
	first := register(t, s, "news", "d1.cloudfront.net")
	clk.Advance(time.Second)
	again, err := s.Register(ctx, registration("news", "d1.cloudfront.net"), state.Change{By: "someone-else", Reason: "again"})
	if err != nil {
		t.Fatalf("Register again: %v", err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("Register of the same registration changed the instance (-first +again):\n%s", diff)
	}
	if got, want := len(history(t, s, "news", "")), 1; got != want {
		t.Errorf("audit records = %d, want %d", got, want)
	}
}

func testRegisterUpdate(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.cloudfront.net")
	register(t, s, "news", "d2.cloudfront.net")
	health(t, s, "news", "d2.cloudfront.net", state.HealthFresh)
	health(t, s, "news", "d1.cloudfront.net", state.HealthStale)
	if _, err := s.Close(ctx, "news", "d1.cloudfront.net", operator); err != nil {
		t.Fatalf("Close: %v", err)
	}
	before := get(t, s, "news", "d1.cloudfront.net")
	at := clk.Advance(time.Minute)
	r := registration("news", "d1.cloudfront.net")
	r.Region = "us-east-1"
	r.OriginPlaylistURL = "https://new-origin.example/live/index.m3u8"
	got, err := s.Register(ctx, r, state.Change{By: "ops", Reason: "moved origin"})
	if err != nil {
		t.Fatalf("Register update: %v", err)
	}
	want := before
	want.Region, want.OriginPlaylistURL = r.Region, r.OriginPlaylistURL
	want.Reason, want.ChangedBy, want.Version = "moved origin", "ops", before.Version+1
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Register update (-want +got):\n%s", diff)
	}
	h := history(t, s, "news", "d1.cloudfront.net")
	wantAudit := state.AuditRecord{
		Cluster: "news", Domain: "d1.cloudfront.net", At: at, Field: state.FieldRegistration,
		Before: `{"region":"eu-west-1","distribution_playlist_url":"https://d1.cloudfront.net/live/index.m3u8","origin_playlist_url":"https://origin.d1.cloudfront.net/live/index.m3u8"}`,
		After:  `{"region":"us-east-1","distribution_playlist_url":"https://d1.cloudfront.net/live/index.m3u8","origin_playlist_url":"https://new-origin.example/live/index.m3u8"}`,
		By:     "ops", Reason: "moved origin", Version: want.Version,
	}
	if diff := cmp.Diff(wantAudit, h[0]); diff != "" {
		t.Errorf("newest audit record (-want +got):\n%s", diff)
	}
}

func testNotFound(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.cloudfront.net")
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"instance of an unknown cluster", func() error { _, err := s.Instance(ctx, "sport", "d1.cloudfront.net"); return err }},
		{"unknown instance", func() error { _, err := s.Instance(ctx, "news", "d9.cloudfront.net"); return err }},
		{"instances of an unknown cluster", func() error { _, err := s.Instances(ctx, "sport"); return err }},
		{"health of an unknown instance", func() error {
			_, err := s.RecordHealth(ctx, "news", "d9.cloudfront.net", state.HealthFresh, operator)
			return err
		}},
		{"close of an unknown instance", func() error { _, err := s.Close(ctx, "news", "d9.cloudfront.net", operator); return err }},
		{"forced close of an unknown instance", func() error {
			c := operator
			c.Force = true
			_, err := s.Close(ctx, "news", "d9.cloudfront.net", c)
			return err
		}},
		{"open of an unknown instance", func() error { _, err := s.Open(ctx, "news", "d9.cloudfront.net", operator); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, state.ErrNotFound) {
				t.Fatalf("error = %v, want state.ErrNotFound", err)
			}
		})
	}
	if got, want := len(history(t, s, "news", "")), 1; got != want {
		t.Errorf("audit records = %d, want %d (only the registration)", got, want)
	}
}

func testListing(t *testing.T, s state.Store, clk *Clock) {
	for _, k := range [][2]string{{"sport", "b.sport.example"}, {"news", "c.example"}, {"news", "a.example"}, {"sport", "a.sport.example"}, {"news", "b.example"}} {
		register(t, s, k[0], k[1])
		clk.Advance(time.Second)
	}
	clusters, err := s.Clusters(ctx)
	if err != nil {
		t.Fatalf("Clusters: %v", err)
	}
	if diff := cmp.Diff([]string{"news", "sport"}, clusters); diff != "" {
		t.Errorf("Clusters (-want +got):\n%s", diff)
	}
	ins, err := s.Instances(ctx, "news")
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}
	var domains []string
	for _, in := range ins {
		if in.Cluster != "news" {
			t.Errorf("Instances(news) holds %s/%s", in.Cluster, in.Domain)
		}
		domains = append(domains, in.Domain)
	}
	if diff := cmp.Diff([]string{"a.example", "b.example", "c.example"}, domains); diff != "" {
		t.Errorf("Instances(news) domains (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(get(t, s, "news", "b.example"), ins[1]); diff != "" {
		t.Errorf("Instances(news)[1] differs from Instance(news, b.example) (-instance +listed):\n%s", diff)
	}
}

func testRecordHealth(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.example")
	for _, tc := range []struct {
		health state.Health
		stale  bool
	}{
		{state.HealthFresh, false},
		{state.HealthStale, true},
		{state.HealthUnreachable, true},
		{state.HealthEnded, false},
		{state.HealthUnknown, false},
		{state.HealthFresh, false},
	} {
		t.Run(string(tc.health), func(t *testing.T) {
			before := get(t, s, "news", "d1.example")
			at := clk.Advance(time.Second)
			c := state.Change{By: "arn:aws:states:eu-west-1:123456789012:execution:failover:x", Reason: "detector said " + string(tc.health)}
			got, err := s.RecordHealth(ctx, "news", "d1.example", tc.health, c)
			if err != nil {
				t.Fatalf("RecordHealth: %v", err)
			}
			want := before
			want.Health, want.Stale, want.HealthChangedAt = tc.health, tc.stale, at
			want.DetectorAt = state.HeartbeatTime(at) // the detector vouched for it
			want.Reason, want.ChangedBy, want.Version = c.Reason, c.By, before.Version+1
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("RecordHealth (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, get(t, s, "news", "d1.example")); diff != "" {
				t.Errorf("Instance after RecordHealth (-want +got):\n%s", diff)
			}
			wantAudit := state.AuditRecord{
				Cluster: "news", Domain: "d1.example", At: at, Field: state.FieldHealth,
				Before: string(before.Health), After: string(tc.health), By: c.By, Reason: c.Reason, Version: want.Version,
			}
			if diff := cmp.Diff(wantAudit, history(t, s, "news", "d1.example")[0]); diff != "" {
				t.Errorf("newest audit record (-want +got):\n%s", diff)
			}
		})
	}
}

func testRecordSameHealth(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.example")
	first := health(t, s, "news", "d1.example", state.HealthStale)
	clk.Advance(time.Second)
	again := health(t, s, "news", "d1.example", state.HealthStale)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("recording the same health changed the instance (-first +again):\n%s", diff)
	}
	if got, want := len(history(t, s, "news", "")), 2; got != want {
		t.Errorf("audit records = %d, want %d", got, want)
	}
}

func testRecordInvalidHealth(t *testing.T, s state.Store, clk *Clock) {
	before := register(t, s, "news", "d1.example")
	_, err := s.RecordHealth(ctx, "news", "d1.example", state.Health("dead"), operator)
	if !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("RecordHealth(dead) error = %v, want state.ErrInvalid", err)
	}
	if diff := cmp.Diff(before, get(t, s, "news", "d1.example")); diff != "" {
		t.Errorf("a refused health record changed the instance (-before +after):\n%s", diff)
	}
}

// peer describes another instance of the cluster for the guard cases. silent is how long before
// the close its detector last vouched for it (its health record).
type peer struct {
	health state.Health
	open   bool
	silent time.Duration
}

// maxAge is the stores' default heartbeat max age, which the suite's stores use.
const maxAge = state.DefaultHeartbeatMaxAge

func testGuard(t *testing.T, s state.Store, clk *Clock) {
	for i, tc := range []struct {
		name        string
		targetFresh bool
		peers       []peer
		allowed     bool
	}{
		{"no other instance", true, nil, false},
		{"the other instance is open and fresh", true, []peer{{state.HealthFresh, true, 0}}, true},
		{"a stale target with an open fresh peer", false, []peer{{state.HealthFresh, true, 0}}, true},
		{"the fresh peer is closed", true, []peer{{state.HealthFresh, false, 0}}, false},
		{"the open peer is stale", true, []peer{{state.HealthStale, true, 0}}, false},
		{"the open peer is unreachable", true, []peer{{state.HealthUnreachable, true, 0}}, false},
		{"the open peer's health is unknown", true, []peer{{state.HealthUnknown, true, 0}}, false},
		{"the open peer has ended", true, []peer{{state.HealthEnded, true, 0}}, false},
		{"one healthy peer among unhealthy ones", false, []peer{{state.HealthStale, true, 0}, {state.HealthFresh, false, 0}, {state.HealthFresh, true, 0}}, true},
		{"the open fresh peer's detector went silent longer than the max age", false, []peer{{state.HealthFresh, true, maxAge + time.Millisecond}}, false},
		{"the open fresh peer's detector vouched for it just within the max age", false, []peer{{state.HealthFresh, true, maxAge}}, true},
		{"a silent fresh peer and a vouched fresh peer", false, []peer{{state.HealthFresh, true, time.Hour}, {state.HealthFresh, true, time.Second}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cluster := fmt.Sprintf("guard-%d", i)
			target := cluster + ".target.example" // a domain belongs to one cluster only
			register(t, s, cluster, target)
			var silences []time.Duration // distinct, longest first
			for j, p := range tc.peers {
				register(t, s, cluster, fmt.Sprintf("peer%d.%s.example", j, cluster))
				if !slices.Contains(silences, p.silent) {
					silences = append(silences, p.silent)
				}
			}
			slices.Sort(silences)
			slices.Reverse(silences)
			// Health records from the longest silent peer to the most recent, the clock moving
			// on in between, so that at the close each peer's detector vouched for it p.silent
			// ago.
			for k, silent := range silences {
				for j, p := range tc.peers {
					if p.silent == silent && p.health != state.HealthUnknown {
						health(t, s, cluster, fmt.Sprintf("peer%d.%s.example", j, cluster), p.health)
					}
				}
				next := time.Duration(0)
				if k+1 < len(silences) {
					next = silences[k+1]
				}
				clk.Advance(silent - next)
			}
			if tc.targetFresh {
				health(t, s, cluster, target, state.HealthFresh)
			} else {
				health(t, s, cluster, target, state.HealthStale)
			}
			for j, p := range tc.peers {
				if !p.open {
					force := operator
					force.Force = true
					if _, err := s.Close(ctx, cluster, fmt.Sprintf("peer%d.%s.example", j, cluster), force); err != nil {
						t.Fatalf("forced Close(peer%d): %v", j, err)
					}
				}
			}
			// A healthy instance in another cluster never counts.
			register(t, s, cluster+"-other", cluster+".elsewhere.example")
			health(t, s, cluster+"-other", cluster+".elsewhere.example", state.HealthFresh)

			got, err := s.Close(ctx, cluster, target, state.Change{By: "workflow", Reason: "stale"})
			if tc.allowed {
				if err != nil {
					t.Fatalf("Close: %v, want it allowed", err)
				}
				if got.Open {
					t.Errorf("Close returned an open instance")
				}
				return
			}
			var guard *state.GuardError
			if !errors.As(err, &guard) {
				t.Fatalf("Close error = %v, want *state.GuardError", err)
			}
			if got, want := *guard, (state.GuardError{Cluster: cluster, Domain: target}); got != want {
				t.Errorf("GuardError = %+v, want %+v", got, want)
			}
			if !get(t, s, cluster, target).Open {
				t.Errorf("refused Close closed the instance")
			}
		})
	}
}

func testRefusedCloseWritesNothing(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.example")
	health(t, s, "news", "d1.example", state.HealthFresh)
	register(t, s, "news", "d2.example")
	health(t, s, "news", "d2.example", state.HealthStale)
	before := get(t, s, "news", "d1.example")
	hBefore := history(t, s, "news", "")
	clk.Advance(time.Second)
	if _, err := s.Close(ctx, "news", "d1.example", state.Change{By: "workflow", Reason: "stale"}); err == nil {
		t.Fatalf("Close of the only healthy instance succeeded")
	}
	if diff := cmp.Diff(before, get(t, s, "news", "d1.example")); diff != "" {
		t.Errorf("refused Close changed the instance (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(hBefore, history(t, s, "news", "")); diff != "" {
		t.Errorf("refused Close changed the history (-before +after):\n%s", diff)
	}
}

func testForceClose(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.example")
	before := health(t, s, "news", "d1.example", state.HealthFresh)
	at := clk.Advance(time.Second)
	c := state.Change{By: "arn:aws:iam::123456789012:user/operator", Reason: "maintenance", Force: true}
	got, err := s.Close(ctx, "news", "d1.example", c)
	if err != nil {
		t.Fatalf("forced Close: %v", err)
	}
	want := before
	want.Open, want.OpenChangedAt = false, at
	want.Reason, want.ChangedBy, want.Version = c.Reason, c.By, before.Version+1
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("forced Close (-want +got):\n%s", diff)
	}
	wantAudit := state.AuditRecord{
		Cluster: "news", Domain: "d1.example", At: at, Field: state.FieldOpen,
		Before: "true", After: "false", By: c.By, Reason: c.Reason, Force: true, Version: want.Version,
	}
	if diff := cmp.Diff(wantAudit, history(t, s, "news", "")[0]); diff != "" {
		t.Errorf("newest audit record (-want +got):\n%s", diff)
	}
}

func testCloseClosed(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.example")
	force := operator
	force.Force = true
	closed, err := s.Close(ctx, "news", "d1.example", force)
	if err != nil {
		t.Fatalf("forced Close: %v", err)
	}
	n := len(history(t, s, "news", ""))
	for _, c := range []state.Change{{By: "workflow", Reason: "again"}, force} {
		clk.Advance(time.Second)
		got, err := s.Close(ctx, "news", "d1.example", c)
		if err != nil {
			t.Fatalf("Close of a closed instance (force=%v): %v", c.Force, err)
		}
		if diff := cmp.Diff(closed, got); diff != "" {
			t.Errorf("Close of a closed instance (force=%v) changed it (-before +after):\n%s", c.Force, diff)
		}
	}
	if got := len(history(t, s, "news", "")); got != n {
		t.Errorf("audit records = %d, want %d", got, n)
	}
}

func testOpen(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.example")
	force := operator
	force.Force = true
	closed, err := s.Close(ctx, "news", "d1.example", force)
	if err != nil {
		t.Fatalf("forced Close: %v", err)
	}
	at := clk.Advance(time.Second)
	c := state.Change{By: "ops", Reason: "region recovered"}
	got, err := s.Open(ctx, "news", "d1.example", c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := closed
	want.Open, want.OpenChangedAt = true, at
	want.Reason, want.ChangedBy, want.Version = c.Reason, c.By, closed.Version+1
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Open (-want +got):\n%s", diff)
	}
	wantAudit := state.AuditRecord{
		Cluster: "news", Domain: "d1.example", At: at, Field: state.FieldOpen,
		Before: "false", After: "true", By: c.By, Reason: c.Reason, Version: want.Version,
	}
	if diff := cmp.Diff(wantAudit, history(t, s, "news", "")[0]); diff != "" {
		t.Errorf("newest audit record (-want +got):\n%s", diff)
	}
	clk.Advance(time.Second)
	again, err := s.Open(ctx, "news", "d1.example", state.Change{By: "ops", Reason: "again"})
	if err != nil {
		t.Fatalf("Open of an open instance: %v", err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("Open of an open instance changed it (-before +after):\n%s", diff)
	}
	if got, want := len(history(t, s, "news", "")), 3; got != want {
		t.Errorf("audit records = %d, want %d", got, want)
	}
}

func testExpectedVersion(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.example")
	register(t, s, "news", "d2.example")
	health(t, s, "news", "d2.example", state.HealthFresh)
	cur := get(t, s, "news", "d1.example") // version 1
	writes := []struct {
		name  string
		write func(c state.Change) (state.Instance, error)
	}{
		{"register", func(c state.Change) (state.Instance, error) {
			r := registration("news", "d1.example")
			r.Region = fmt.Sprintf("region-%d", cur.Version)
			return s.Register(ctx, r, c)
		}},
		{"record health", func(c state.Change) (state.Instance, error) {
			h := state.HealthFresh
			if cur.Health == state.HealthFresh {
				h = state.HealthStale
			}
			return s.RecordHealth(ctx, "news", "d1.example", h, c)
		}},
		{"close", func(c state.Change) (state.Instance, error) { return s.Close(ctx, "news", "d1.example", c) }},
		{"open", func(c state.Change) (state.Instance, error) { return s.Open(ctx, "news", "d1.example", c) }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			clk.Advance(time.Second)
			n := len(history(t, s, "news", ""))
			stale := state.Change{By: "ops", Reason: "stale view", ExpectedVersion: cur.Version + 7}
			if _, err := w.write(stale); !errors.Is(err, state.ErrVersionConflict) {
				t.Fatalf("write at the wrong version: error = %v, want state.ErrVersionConflict", err)
			}
			if diff := cmp.Diff(cur, get(t, s, "news", "d1.example")); diff != "" {
				t.Errorf("a conflicting write changed the instance (-before +after):\n%s", diff)
			}
			if got := len(history(t, s, "news", "")); got != n {
				t.Errorf("a conflicting write added %d audit records", got-n)
			}
			got, err := w.write(state.Change{By: "ops", Reason: "current view", ExpectedVersion: cur.Version})
			if err != nil {
				t.Fatalf("write at the current version: %v", err)
			}
			if got.Version != cur.Version+1 {
				t.Errorf("version after the write = %d, want %d", got.Version, cur.Version+1)
			}
			cur = got
		})
	}
	t.Run("register a new instance with an expected version", func(t *testing.T) {
		_, err := s.Register(ctx, registration("news", "d3.example"), state.Change{By: "ops", ExpectedVersion: 3})
		if !errors.Is(err, state.ErrVersionConflict) {
			t.Fatalf("error = %v, want state.ErrVersionConflict", err)
		}
		if _, err := s.Instance(ctx, "news", "d3.example"); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("Instance(d3) error = %v, want state.ErrNotFound", err)
		}
	})
}

func testChangeWithoutBy(t *testing.T, s state.Store, clk *Clock) {
	before := register(t, s, "news", "d1.example")
	anon := state.Change{Reason: "who knows", Force: true}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"register", func() error { _, err := s.Register(ctx, registration("news", "d2.example"), anon); return err }},
		{"record health", func() error {
			_, err := s.RecordHealth(ctx, "news", "d1.example", state.HealthFresh, anon)
			return err
		}},
		{"close", func() error { _, err := s.Close(ctx, "news", "d1.example", anon); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, state.ErrInvalid) {
				t.Fatalf("error = %v, want state.ErrInvalid", err)
			}
		})
	}
	if diff := cmp.Diff(before, get(t, s, "news", "d1.example")); diff != "" {
		t.Errorf("refused writes changed the instance (-before +after):\n%s", diff)
	}
	if _, err := s.Instance(ctx, "news", "d2.example"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Instance(d2) error = %v, want state.ErrNotFound", err)
	}
}

func testHistoryPaging(t *testing.T, s state.Store, clk *Clock) {
	// 3 instances x (register + 4 health changes) = 15 records, one second apart, plus two
	// records at the same instant (the order among equal times is the store's, but stable).
	healths := []state.Health{state.HealthFresh, state.HealthStale, state.HealthFresh, state.HealthUnreachable}
	for _, d := range []string{"a.example", "b.example", "c.example"} {
		register(t, s, "news", d)
		clk.Advance(time.Second)
	}
	register(t, s, "sport", "a.sport.example") // another cluster's record never shows
	for _, h := range healths {
		for _, d := range []string{"a.example", "b.example", "c.example"} {
			health(t, s, "news", d, h)
			clk.Advance(time.Second)
		}
	}
	health(t, s, "news", "a.example", state.HealthEnded)
	health(t, s, "news", "b.example", state.HealthEnded)

	all := history(t, s, "news", "")
	if got, want := len(all), 17; got != want {
		t.Fatalf("records = %d, want %d", got, want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.After(all[i-1].At) {
			t.Errorf("record %d (%v) is newer than record %d (%v)", i, all[i].At, i-1, all[i-1].At)
		}
	}
	for _, r := range all {
		if r.Cluster != "news" {
			t.Errorf("history of news holds a record of %s", r.Cluster)
		}
	}

	for _, limit := range []int{1, 2, 4, 16, 17, 18} {
		t.Run(fmt.Sprintf("pages of %d", limit), func(t *testing.T) {
			var got []state.AuditRecord
			q := state.HistoryQuery{Cluster: "news", Limit: limit}
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("more than 20 pages")
				}
				p, err := s.History(ctx, q)
				if err != nil {
					t.Fatalf("History: %v", err)
				}
				if len(p.Records) > limit {
					t.Fatalf("page of %d records, limit %d", len(p.Records), limit)
				}
				if p.Next != "" && len(p.Records) != limit {
					t.Fatalf("a page of %d (limit %d) has a next page", len(p.Records), limit)
				}
				got = append(got, p.Records...)
				if p.Next == "" {
					break
				}
				q.Cursor = p.Next
			}
			if diff := cmp.Diff(all, got); diff != "" {
				t.Errorf("pages joined differ from the whole history (-whole +pages):\n%s", diff)
			}
		})
	}

	t.Run("one instance", func(t *testing.T) {
		var want []state.AuditRecord
		for _, r := range all {
			if r.Domain == "b.example" {
				want = append(want, r)
			}
		}
		var got []state.AuditRecord
		q := state.HistoryQuery{Cluster: "news", Domain: "b.example", Limit: 2}
		for {
			p, err := s.History(ctx, q)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			got = append(got, p.Records...)
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("history of b.example (-want +got):\n%s", diff)
		}
	})

	t.Run("default limit", func(t *testing.T) {
		p, err := s.History(ctx, state.HistoryQuery{Cluster: "news"})
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if got, want := len(p.Records), 17; got != want || p.Next != "" {
			t.Errorf("records = %d next=%q, want %d and no next page", got, p.Next, want)
		}
	})

	t.Run("unknown cluster has an empty history", func(t *testing.T) {
		p, err := s.History(ctx, state.HistoryQuery{Cluster: "weather"})
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if len(p.Records) != 0 || p.Next != "" {
			t.Errorf("History(weather) = %+v, want empty", p)
		}
	})
}

func testHistoryInvalid(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "a.example")
	for _, tc := range []struct {
		name string
		q    state.HistoryQuery
	}{
		{"empty cluster", state.HistoryQuery{}},
		{"bad domain", state.HistoryQuery{Cluster: "news", Domain: "a b"}},
		{"negative limit", state.HistoryQuery{Cluster: "news", Limit: -1}},
		{"garbage cursor", state.HistoryQuery{Cluster: "news", Cursor: "!!not a cursor!!"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.History(ctx, tc.q); !errors.Is(err, state.ErrInvalid) {
				t.Fatalf("History(%+v) error = %v, want state.ErrInvalid", tc.q, err)
			}
		})
	}
}

func testConcurrentCloses(t *testing.T, s state.Store, clk *Clock) {
	const n = 5
	domains := make([]string, n)
	for i := range domains {
		domains[i] = fmt.Sprintf("d%d.example", i)
		register(t, s, "news", domains[i])
		health(t, s, "news", domains[i], state.HealthFresh)
	}
	clk.Advance(time.Second)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, d := range domains {
		wg.Go(func() {
			_, errs[i] = s.Close(ctx, "news", d, state.Change{By: "workflow", Reason: "concurrent"})
		})
	}
	wg.Wait()
	succeeded := 0
	for i, err := range errs {
		var guard *state.GuardError
		switch {
		case err == nil:
			succeeded++
		case errors.As(err, &guard), errors.Is(err, state.ErrVersionConflict):
		default:
			t.Errorf("Close(%s): unexpected error %v", domains[i], err)
		}
	}
	ins, err := s.Instances(ctx, "news")
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}
	healthy, closed := 0, 0
	for _, in := range ins {
		if in.HealthyAt(clk.Now(), maxAge) {
			healthy++
		}
		if !in.Open {
			closed++
		}
	}
	if healthy == 0 {
		t.Errorf("no instance is open and healthy after concurrent closes: %+v", ins)
	}
	if closed != succeeded {
		t.Errorf("%d instances closed, but %d closes succeeded", closed, succeeded)
	}
	closeRecords := 0
	for _, r := range history(t, s, "news", "") {
		if r.Field == state.FieldOpen {
			closeRecords++
		}
	}
	if closeRecords != succeeded {
		t.Errorf("%d close audit records, but %d closes succeeded", closeRecords, succeeded)
	}
}

func testConcurrentHealth(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.example")
	healths := []state.Health{state.HealthFresh, state.HealthStale, state.HealthUnreachable, state.HealthEnded}
	var wg sync.WaitGroup
	errs := make([]error, len(healths))
	for i, h := range healths {
		wg.Go(func() {
			_, errs[i] = s.RecordHealth(ctx, "news", "d1.example", h, state.Change{By: "detector", Reason: "race"})
		})
	}
	wg.Wait()
	written := 0
	for i, err := range errs {
		switch {
		case err == nil:
			written++
		case errors.Is(err, state.ErrVersionConflict):
		default:
			t.Errorf("RecordHealth(%s): unexpected error %v", healths[i], err)
		}
	}
	in := get(t, s, "news", "d1.example")
	if got, want := in.Version, int64(1+written); got != want {
		t.Errorf("version = %d after %d successful health records, want %d", got, written, want)
	}
	if got, want := len(history(t, s, "news", "")), 1+written; got != want {
		t.Errorf("audit records = %d, want %d", got, want)
	}
	if h := history(t, s, "news", "")[0]; h.After != string(in.Health) {
		t.Errorf("newest audit record says health %s, the instance has %s", h.After, in.Health)
	}
}

func testDomainTaken(t *testing.T, s state.Store, clk *Clock) {
	register(t, s, "news", "d1.example")
	before := get(t, s, "news", "d1.example")
	clk.Advance(time.Second)
	_, err := s.Register(ctx, registration("sport", "d1.example"), operator)
	var taken *state.DomainTakenError
	if !errors.As(err, &taken) {
		t.Fatalf("Register(sport/d1.example) error = %v, want *state.DomainTakenError", err)
	}
	if got, want := *taken, (state.DomainTakenError{Domain: "d1.example", Cluster: "sport", Owner: "news"}); got != want {
		t.Errorf("DomainTakenError = %+v, want %+v", got, want)
	}
	if _, err := s.Instances(ctx, "sport"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Instances(sport) error = %v, want state.ErrNotFound", err)
	}
	clusters, err := s.Clusters(ctx)
	if err != nil {
		t.Fatalf("Clusters: %v", err)
	}
	if diff := cmp.Diff([]string{"news"}, clusters); diff != "" {
		t.Errorf("Clusters after the refused registration (-want +got):\n%s", diff)
	}
	if h := history(t, s, "sport", ""); len(h) != 0 {
		t.Errorf("the refused registration left %d audit records in sport", len(h))
	}
	if diff := cmp.Diff(before, get(t, s, "news", "d1.example")); diff != "" {
		t.Errorf("the refused registration changed news/d1.example (-before +after):\n%s", diff)
	}

	t.Run("the owner may still update its registration", func(t *testing.T) {
		r := registration("news", "d1.example")
		r.Region = "us-east-1"
		got, err := s.Register(ctx, r, operator)
		if err != nil {
			t.Fatalf("Register update by the owner: %v", err)
		}
		if got.Region != "us-east-1" || got.Version != before.Version+1 {
			t.Errorf("updated instance region %s version %d, want us-east-1 and %d", got.Region, got.Version, before.Version+1)
		}
	})
	t.Run("other domains are free", func(t *testing.T) {
		register(t, s, "sport", "d2.example")
	})
	t.Run("the refusal stays after the other cluster exists", func(t *testing.T) {
		_, err := s.Register(ctx, registration("sport", "d1.example"), operator)
		if !errors.As(err, &taken) || taken.Owner != "news" {
			t.Fatalf("Register(sport/d1.example) error = %v, want *state.DomainTakenError owned by news", err)
		}
		_, err = s.Register(ctx, registration("news", "d2.example"), operator)
		if !errors.As(err, &taken) || taken.Owner != "sport" {
			t.Fatalf("Register(news/d2.example) error = %v, want *state.DomainTakenError owned by sport", err)
		}
	})
}

func testConcurrentDomainClaims(t *testing.T, s state.Store, clk *Clock) {
	const n = 5
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Register(ctx, registration(fmt.Sprintf("c%d", i), "shared.example"), operator)
		})
	}
	wg.Wait()
	var winners []string
	for i, err := range errs {
		var taken *state.DomainTakenError
		switch {
		case err == nil:
			winners = append(winners, fmt.Sprintf("c%d", i))
		case errors.As(err, &taken):
		default:
			t.Errorf("Register(c%d/shared.example): unexpected error %v", i, err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d registrations of shared.example succeeded (%q), want exactly 1", len(winners), winners)
	}
	for i, err := range errs {
		var taken *state.DomainTakenError
		if errors.As(err, &taken) && taken.Owner != winners[0] {
			t.Errorf("c%d was told the owner is %s, the winner is %s", i, taken.Owner, winners[0])
		}
	}
	clusters, err := s.Clusters(ctx)
	if err != nil {
		t.Fatalf("Clusters: %v", err)
	}
	if diff := cmp.Diff(winners, clusters); diff != "" {
		t.Errorf("Clusters (-want +got):\n%s", diff)
	}
}
