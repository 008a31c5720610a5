package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

const (
	cluster = "live-1"
	d1      = "d111111abcdef8.cloudfront.net" // us-east-1, the instance the sample events name
	d2      = "d222222abcdef8.cloudfront.net" // eu-west-1
	alice   = "arn:aws:sts::123456789012:assumed-role/StreamOperator/alice"
	seeder  = "local:seed"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
)

// fixture is the API under test: the real handler behind the real httpadapter, on a memory
// store, with its log captured.
type fixture struct {
	store *memory.Store
	clock *statetest.Clock
	log   *bytes.Buffer
	h     http.Handler
	// invoke runs an HTTP API event through the Lambda adapter, as Lambda would.
	invoke func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

func newFixture(t *testing.T, wrap func(api.Store) api.Store) *fixture {
	t.Helper()
	f := &fixture{clock: statetest.NewClock(t0), log: &bytes.Buffer{}}
	f.store = memory.New(f.clock.Now)
	var s api.Store = f.store
	if wrap != nil {
		s = wrap(s)
	}
	f.h = api.New(api.Options{Store: s, Logger: slog.New(slog.NewJSONHandler(f.log, nil)), Now: f.clock.Now})
	lambda := api.LambdaHandler(f.h)
	f.invoke = func(ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return lambda(ctx, ev)
	}
	return f
}

// seed registers d1 (us-east-1) and d2 (eu-west-1) in live-1, both fresh: version 2 each.
func (f *fixture) seed(t *testing.T) {
	t.Helper()
	for _, r := range []state.Registration{
		{Cluster: cluster, Domain: d1, Region: "us-east-1", DistributionPlaylistURL: "https://" + d1 + "/live-1/index.m3u8", OriginPlaylistURL: "https://origin-use1.example.com/live-1/index.m3u8"},
		{Cluster: cluster, Domain: d2, Region: "eu-west-1", DistributionPlaylistURL: "https://" + d2 + "/live-1/index.m3u8", OriginPlaylistURL: "https://origin-euw1.example.com/live-1/index.m3u8"},
	} {
		if _, err := f.store.Register(ctx, r, state.Change{By: seeder, Reason: "seed"}); err != nil {
			t.Fatalf("seed register %s: %v", r.Domain, err)
		}
		f.clock.Advance(time.Second)
		if _, err := f.store.RecordHealth(ctx, cluster, r.Domain, state.HealthFresh, state.Change{By: seeder, Reason: "seed"}); err != nil {
			t.Fatalf("seed health %s: %v", r.Domain, err)
		}
		f.clock.Advance(time.Second)
	}
}

// snapshot is everything the store holds about live-1, to prove a refused request wrote nothing.
func (f *fixture) snapshot(t *testing.T) any {
	t.Helper()
	insts, err := f.store.Instances(ctx, cluster)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("snapshot instances: %v", err)
	}
	page, err := f.store.History(ctx, state.HistoryQuery{Cluster: cluster, Limit: state.MaxHistoryLimit})
	if err != nil {
		t.Fatalf("snapshot history: %v", err)
	}
	return struct {
		I []state.Instance
		H []state.AuditRecord
	}{insts, page.Records}
}

func loadEvent(t testing.TB, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", "api-"+name+".json"))
	if err != nil {
		t.Fatalf("read sample event: %v", err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("decode events/api-%s.json: %v", name, err)
	}
	return ev
}

// retarget points an event at another method and path (query after '?').
func retarget(ev *events.APIGatewayV2HTTPRequest, method, path string) {
	query := ""
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	ev.RawPath, ev.RawQueryString, ev.QueryStringParameters = path, query, nil
	ev.RequestContext.HTTP.Path, ev.RequestContext.HTTP.Method = path, method
}

func withBody(ev *events.APIGatewayV2HTTPRequest, body string) {
	ev.Body = body
	delete(ev.Headers, "content-length")
	if ev.Headers["content-type"] == "" {
		ev.Headers["content-type"] = "application/json"
	}
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func decodeInto(t *testing.T, resp events.APIGatewayV2HTTPResponse, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(resp.Body), v); err != nil {
		t.Fatalf("response body %q: %v", resp.Body, err)
	}
}

func header(resp events.APIGatewayV2HTTPResponse, name string) string {
	if v := resp.Headers[name]; v != "" {
		return v
	}
	if vs := resp.MultiValueHeaders[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func TestSampleEvents(t *testing.T) {
	t.Run("list clusters summarizes each cluster", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		resp := mustInvoke(t, f, loadEvent(t, "list-clusters"), http.StatusOK)
		var got api.ClusterList
		decodeInto(t, resp, &got)
		want := api.ClusterList{Clusters: []api.ClusterSummary{{Cluster: cluster, Instances: 2, Open: 2, Healthy: 2}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("clusters (-want +got):\n%s", diff)
		}
	})

	t.Run("list clusters counts as healthy only instances their detector vouched for recently", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		f.clock.Advance(state.DefaultHeartbeatMaxAge)
		if _, err := f.store.Vouch(ctx, cluster, d2); err != nil { // d1's detector went silent
			t.Fatal(err)
		}
		f.clock.Advance(time.Minute)
		resp := mustInvoke(t, f, loadEvent(t, "list-clusters"), http.StatusOK)
		var got api.ClusterList
		decodeInto(t, resp, &got)
		want := api.ClusterList{Clusters: []api.ClusterSummary{{Cluster: cluster, Instances: 2, Open: 2, Healthy: 1}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("clusters (-want +got):\n%s", diff)
		}
		inst := mustInvoke(t, f, loadEvent(t, "get-cluster"), http.StatusOK)
		var detail api.Cluster
		decodeInto(t, inst, &detail)
		if diff := cmp.Diff([]string{d2}, detail.Healthy); diff != "" {
			t.Fatalf("healthy instances of the cluster (-want +got):\n%s", diff)
		}
		if want := `"detector_at":"` + t0.Add(4*time.Second+state.DefaultHeartbeatMaxAge).Format(time.RFC3339Nano) + `"`; !strings.Contains(inst.Body, want) {
			t.Fatalf("cluster body %s lacks %s", inst.Body, want)
		}
	})

	t.Run("list clusters of an empty table is an empty list", func(t *testing.T) {
		f := newFixture(t, nil)
		resp := mustInvoke(t, f, loadEvent(t, "list-clusters"), http.StatusOK)
		if got, want := strings.TrimSpace(resp.Body), `{"clusters":[]}`; got != want {
			t.Fatalf("body = %s, want %s", got, want)
		}
	})

	t.Run("get cluster lists its instances by region", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		resp := mustInvoke(t, f, loadEvent(t, "get-cluster"), http.StatusOK)
		var got api.Cluster
		decodeInto(t, resp, &got)
		var order []string
		for _, i := range got.Instances {
			order = append(order, i.Region+" "+i.Domain)
			if !i.Open || i.Health != state.HealthFresh || i.Version != 2 {
				t.Errorf("instance %s = open %v health %s version %d, want open fresh version 2", i.Domain, i.Open, i.Health, i.Version)
			}
		}
		if diff := cmp.Diff([]string{"eu-west-1 " + d2, "us-east-1 " + d1}, order); diff != "" {
			t.Fatalf("instances (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{d2, d1}, got.Healthy); diff != "" {
			t.Fatalf("healthy (-want +got):\n%s", diff)
		}
	})

	t.Run("register creates an open instance changed by the IAM caller", func(t *testing.T) {
		f := newFixture(t, nil)
		resp := mustInvoke(t, f, loadEvent(t, "register"), http.StatusOK)
		var got state.Instance
		decodeInto(t, resp, &got)
		want := state.Instance{
			Cluster: cluster, Domain: d1, Region: "us-east-1",
			DistributionPlaylistURL: "https://d111111abcdef8.cloudfront.net/live-1/index.m3u8",
			OriginPlaylistURL:       "https://origin-use1.example.com/live-1/index.m3u8",
			Open:                    true, Health: state.HealthUnknown, HealthChangedAt: t0, OpenChangedAt: t0,
			Reason: "new region for live-1", ChangedBy: alice, Version: 1,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("registered instance (-want +got):\n%s", diff)
		}
		if got, want := header(resp, "Etag"), `"1"`; got != want {
			t.Fatalf("ETag = %s, want %s", got, want)
		}
	})

	t.Run("registering another cluster's domain is refused with domain_taken", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		before := f.snapshot(t)
		resp := mustInvoke(t, f, loadEvent(t, "register-domain-taken"), http.StatusConflict)
		var got apiError
		decodeInto(t, resp, &got)
		if got.Code != "domain_taken" || !strings.Contains(got.Message, "registered to cluster "+cluster) {
			t.Fatalf("error = %+v, want code domain_taken naming the owner %s", got, cluster)
		}
		if diff := cmp.Diff(before, f.snapshot(t)); diff != "" {
			t.Errorf("the refused registration changed live-1 (-before +after):\n%s", diff)
		}
		if _, err := f.store.Instances(ctx, "live-2"); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("Instances(live-2) error = %v, want state.ErrNotFound", err)
		}
	})

	t.Run("close records the caller and the reason", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		resp := mustInvoke(t, f, loadEvent(t, "close"), http.StatusOK)
		var got state.Instance
		decodeInto(t, resp, &got)
		if got.Open || got.ChangedBy != alice || got.Reason != "encoder in us-east-1 restarting for maintenance" || got.Version != 3 {
			t.Fatalf("closed instance = open %v by %q reason %q version %d", got.Open, got.ChangedBy, got.Reason, got.Version)
		}
		if got, want := header(resp, "Etag"), `"3"`; got != want {
			t.Fatalf("ETag = %s, want %s", got, want)
		}
		page, err := f.store.History(ctx, state.HistoryQuery{Cluster: cluster, Domain: d1, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		rec := page.Records[0]
		if rec.Field != state.FieldOpen || rec.Before != "true" || rec.After != "false" || rec.By != alice || rec.Force {
			t.Fatalf("audit record = %+v, want distro_open true->false by alice, not forced", rec)
		}
	})

	t.Run("forced close with If-Match closes the last open instance", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		if _, err := f.store.Close(ctx, cluster, d2, state.Change{By: seeder, Reason: "setup"}); err != nil {
			t.Fatal(err)
		}
		resp := mustInvoke(t, f, loadEvent(t, "close-force"), http.StatusOK)
		var got state.Instance
		decodeInto(t, resp, &got)
		if got.Open {
			t.Fatalf("instance still open after a forced close")
		}
		page, err := f.store.History(ctx, state.HistoryQuery{Cluster: cluster, Domain: d1, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if rec := page.Records[0]; !rec.Force || rec.By != alice {
			t.Fatalf("audit record = %+v, want forced by alice", rec)
		}
	})

	t.Run("open reopens a closed instance", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		if _, err := f.store.Close(ctx, cluster, d1, state.Change{By: seeder, Reason: "setup"}); err != nil {
			t.Fatal(err)
		}
		resp := mustInvoke(t, f, loadEvent(t, "open"), http.StatusOK)
		var got state.Instance
		decodeInto(t, resp, &got)
		if !got.Open || got.ChangedBy != alice || got.Reason != "encoder back, playlists fresh again" {
			t.Fatalf("opened instance = open %v by %q reason %q", got.Open, got.ChangedBy, got.Reason)
		}
	})

	t.Run("forced open is audited as forced", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		if _, err := f.store.Close(ctx, cluster, d1, state.Change{By: seeder, Reason: "setup"}); err != nil {
			t.Fatal(err)
		}
		var got state.Instance
		decodeInto(t, mustInvoke(t, f, loadEvent(t, "open-force"), http.StatusOK), &got)
		page, err := f.store.History(ctx, state.HistoryQuery{Cluster: cluster, Domain: d1, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if rec := page.Records[0]; !got.Open || rec.After != "true" || !rec.Force || rec.By != alice {
			t.Fatalf("open %v, audit record = %+v, want an open forced by alice", got.Open, rec)
		}
	})

	t.Run("history is newest first for the one instance", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		mustInvoke(t, f, loadEvent(t, "close"), http.StatusOK)
		f.clock.Advance(time.Second)
		mustInvoke(t, f, loadEvent(t, "open"), http.StatusOK)
		resp := mustInvoke(t, f, loadEvent(t, "history"), http.StatusOK)
		var got state.HistoryPage
		decodeInto(t, resp, &got)
		var lines []string
		for _, r := range got.Records {
			if r.Domain != d1 {
				t.Errorf("record of %s in a history filtered to %s", r.Domain, d1)
			}
			lines = append(lines, string(r.Field)+" "+r.Before+"->"+r.After+" by "+r.By)
		}
		want := []string{
			"distro_open false->true by " + alice,
			"distro_open true->false by " + alice,
			"health unknown->fresh by " + seeder,
			"registration ->" + got.Records[3].After + " by " + seeder,
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Fatalf("history (-want +got):\n%s", diff)
		}
		if got.Next != "" {
			t.Fatalf("next = %q on the only page", got.Next)
		}
	})
}

func mustInvoke(t *testing.T, f *fixture, ev events.APIGatewayV2HTTPRequest, wantStatus int) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := f.invoke(ev)
	if err != nil {
		t.Fatalf("invoke %s %s: %v", ev.RequestContext.HTTP.Method, ev.RawPath, err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body %s", ev.RequestContext.HTTP.Method, ev.RawPath, resp.StatusCode, wantStatus, resp.Body)
	}
	return resp
}

func TestHistoryPages(t *testing.T) {
	f := newFixture(t, nil)
	f.seed(t)
	for i := 0; i < 3; i++ { // six more records
		mustInvoke(t, f, loadEvent(t, "close"), http.StatusOK)
		f.clock.Advance(time.Second)
		mustInvoke(t, f, loadEvent(t, "open"), http.StatusOK)
		f.clock.Advance(time.Second)
	}
	all, err := f.store.History(ctx, state.HistoryQuery{Cluster: cluster, Limit: state.MaxHistoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	var got []state.AuditRecord
	cursor, pages := "", 0
	for {
		ev := loadEvent(t, "history")
		path := "/clusters/live-1/history?limit=4"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		retarget(&ev, "GET", path)
		var page state.HistoryPage
		decodeInto(t, mustInvoke(t, f, ev, http.StatusOK), &page)
		pages++
		if len(page.Records) > 4 {
			t.Fatalf("page of %d records, limit 4", len(page.Records))
		}
		got = append(got, page.Records...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
		if pages > 10 {
			t.Fatal("history never ends")
		}
	}
	if len(all.Records) != 10 {
		t.Fatalf("store holds %d records, want 10 (2 registrations, 2 health, 6 open/close)", len(all.Records))
	}
	if diff := cmp.Diff(all.Records, got); diff != "" {
		t.Fatalf("paged history differs from the store's (-store +paged):\n%s", diff)
	}
	if pages != 3 {
		t.Fatalf("%d pages, want 3 (4+4+2)", pages)
	}
}

// faulty is a store whose chosen methods fail as a broken or unreachable store would.
type faulty struct {
	api.Store
	close    func() error
	clusters func() error
}

func (s faulty) Close(ctx context.Context, c, d string, ch state.Change) (state.Instance, error) {
	if s.close != nil {
		return state.Instance{}, s.close()
	}
	return s.Store.Close(ctx, c, d, ch)
}

func (s faulty) Clusters(ctx context.Context) ([]string, error) {
	if s.clusters != nil {
		return nil, s.clusters()
	}
	return s.Store.Clusters(ctx)
}

func TestErrors(t *testing.T) {
	inst := "/clusters/live-1/instances/" + d1
	type mutate func(ev *events.APIGatewayV2HTTPRequest)
	for _, tc := range []struct {
		name   string
		event  string
		mutate mutate
		wrap   func(api.Store) api.Store
		// closeD2 closes d2 first, so that d1 is the last open instance.
		closeD2    bool
		wantStatus int
		wantCode   string
		wantInMsg  string
		notInMsg   string // a Go type name the message must not show
	}{
		{name: "cluster name with a bad character", event: "get-cluster",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live$1") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "cluster"},
		{name: "cluster name too long", event: "get-cluster",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/"+strings.Repeat("a", 65)) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "cluster"},
		{name: "domain that is not a CloudFront domain", event: "close",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "POST", "/clusters/live-1/instances/live.example.com/close")
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "CloudFront distribution domain"},
		{name: "domain in upper case", event: "close",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "POST", "/clusters/live-1/instances/D111111ABCDEF8.cloudfront.net/close")
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "lowercase"},
		{name: "loopback domain outside the local runtime", event: "close",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "POST", "/clusters/live-1/instances/127.0.0.1:8081/close")
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "domain"},
		{name: "unknown route", event: "get-cluster",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/streams") },
			wantStatus: 404, wantCode: "not_found", wantInMsg: "/streams"},
		{name: "merged-master regeneration is not there yet", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "POST", "/clusters/live-1/master") },
			wantStatus: 404, wantCode: "not_found"},
		{name: "method not allowed", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "DELETE", inst) },
			wantStatus: 405, wantCode: "method_not_allowed", wantInMsg: "DELETE"},
		{name: "unknown cluster", event: "get-cluster",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live-9") },
			wantStatus: 404, wantCode: "not_found", wantInMsg: "live-9"},
		{name: "unknown instance", event: "get-cluster",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "GET", "/clusters/live-1/instances/d333333abcdef8.cloudfront.net")
			},
			wantStatus: 404, wantCode: "not_found", wantInMsg: "d333333abcdef8.cloudfront.net"},
		{name: "close of an unknown instance", event: "close",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "POST", "/clusters/live-1/instances/d333333abcdef8.cloudfront.net/close")
			},
			wantStatus: 404, wantCode: "not_found", wantInMsg: "d333333abcdef8.cloudfront.net"},
		{name: "open of an instance in an unknown cluster", event: "open",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "POST", "/clusters/live-9/instances/"+d1+"/open")
			},
			wantStatus: 404, wantCode: "not_found"},
		{name: "body that is not JSON by content type", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { ev.Headers["content-type"] = "text/plain" },
			wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "body without content type", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { delete(ev.Headers, "content-type") },
			wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "empty body", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, "") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "body is required"},
		{name: "malformed JSON", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "x",`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "body ends before the JSON is complete"},
		{name: "JSON syntax error", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason" "x"}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "body is not valid JSON at byte"},
		{name: "unknown field", event: "open",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "x", "forced": true}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `unknown field "forced"`},
		{name: "field of the wrong type is named in JSON's terms", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "x", "force": "yes"}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `field "force" must be true or false`, notInMsg: "bool"},
		{name: "a number that does not fit is named in JSON's terms", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "x", "expected_version": 1.5}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `field "expected_version" must be an integer`, notInMsg: "int64"},
		{name: "two JSON values", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "x"} {"reason": "y"}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "body has data after the object"},
		{name: "an array is not a body", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `[{"reason": "x"}]`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "body must be one JSON object", notInMsg: "api."},
		{name: "trailing data after a forced close is refused, not ignored", event: "close", closeD2: true,
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason":"x","force":true}]`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "body has data after the object; must be one JSON object"},
		{name: "a key in another case is unknown, not a match", event: "close", closeD2: true,
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason":"x","force":false,"FORCE":true}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `unknown field "FORCE"`},
		{name: "a duplicate key is refused, not the last one taken", event: "close", closeD2: true,
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason":"x","force":false,"force":true}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `duplicate field "force"`},
		{name: "register refuses a key in another case", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "PUT", "/clusters/live-1/instances/d333333abcdef8.cloudfront.net")
				withBody(ev, `{"REGION": "us-east-1", "distribution_playlist_url": "https://d333333abcdef8.cloudfront.net/i.m3u8", "origin_playlist_url": "https://o.example.com/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `unknown field "REGION"`},
		{name: "a body that is not UTF-8 is refused, not repaired", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, "{\"reason\": \"maintenance \xff\"}") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "UTF-8"},
		{name: "oversized body", event: "close",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"reason": "`+strings.Repeat("x", api.DefaultMaxBody)+`"}`)
			},
			wantStatus: 413, wantCode: "body_too_large", wantInMsg: "16384"},
		{name: "close without a reason", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "  "}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "reason is required"},
		{name: "open without a reason", event: "open", closeD2: true,
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "reason is required"},
		{name: "reason too long", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "`+strings.Repeat("x", 501)+`"}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "longer than 500"},
		{name: "reason with a control character", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "a\u0007b"}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "control characters"},
		{name: "guard refuses closing the last open healthy instance", event: "close", closeD2: true,
			wantStatus: 409, wantCode: "guard_refused", wantInMsg: "no other instance of the cluster is open and healthy"},
		{name: "If-Match at a stale version", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { ev.Headers["if-match"] = `"1"` },
			wantStatus: 409, wantCode: "version_conflict"},
		{name: "expected_version at a stale version", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "x", "expected_version": 7}`) },
			wantStatus: 409, wantCode: "version_conflict"},
		{name: "If-Match that is not a version", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { ev.Headers["if-match"] = `"abc"` },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "If-Match"},
		{name: "If-Match and expected_version disagree", event: "close",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				ev.Headers["if-match"] = `"2"`
				withBody(ev, `{"reason": "x", "expected_version": 3}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "disagree"},
		{name: "negative expected_version", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "x", "expected_version": -1}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "positive"},
		{name: "write without an IAM identity", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { ev.RequestContext.Authorizer = nil },
			wantStatus: 401, wantCode: "unauthenticated"},
		{name: "register with a bad region", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "Virginia", "distribution_playlist_url": "https://`+d1+`/i.m3u8", "origin_playlist_url": "https://o.example.com/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "region"},
		{name: "register with a plain http origin", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "https://`+d1+`/i.m3u8", "origin_playlist_url": "http://o.example.com/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "origin_playlist_url"},
		{name: "register with a relative URL", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "/i.m3u8", "origin_playlist_url": "https://o.example.com/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "distribution_playlist_url"},
		{name: "register with credentials in a URL", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "https://`+d1+`/i.m3u8", "origin_playlist_url": "https://user:pw@o.example.com/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "credentials"},
		{name: "register without an origin", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "https://`+d1+`/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "origin_playlist_url is required"},
		{name: "register a new instance at an expected version", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "PUT", "/clusters/live-1/instances/d333333abcdef8.cloudfront.net")
				ev.Headers["if-match"] = `"4"`
			},
			wantStatus: 409, wantCode: "version_conflict"},
		{name: "history with a limit out of range", event: "history",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live-1/history?limit=0") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "limit"},
		{name: "history with a limit that is not a number", event: "history",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live-1/history?limit=ten") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "limit"},
		{name: "history with an unknown parameter", event: "history",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live-1/history?since=1") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "since"},
		{name: "history with a bad domain filter", event: "history",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "GET", "/clusters/live-1/history?domain=example.com")
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "domain"},
		{name: "history with a forged cursor", event: "history",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "GET", "/clusters/live-1/history?cursor=%25%25not-base64")
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "cursor"},
		{name: "a path with .. is refused, not redirected to another resource", event: "close",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "POST", inst+"/open/../close")
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "canonical"},
		{name: "a path with // is refused, not redirected", event: "get-cluster",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters//live-1") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "canonical"},
		{name: "a missing dashboard file is a JSON 404", event: "list-clusters",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/dashboard/nonexistent.js") },
			wantStatus: 404, wantCode: "not_found", wantInMsg: "/dashboard/nonexistent.js"},
		{name: "a body marked base64 that is not base64", event: "close",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				ev.IsBase64Encoded = true
				ev.Body = "{not base64}"
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "base64"},
		{name: "a path with an invalid percent escape", event: "get-cluster",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live%zz") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "path"},
		{name: "a query with an invalid percent escape", event: "history",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live-1/history?limit=%zz") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "query"},
		{name: "history with a repeated parameter", event: "history",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "GET", "/clusters/live-1/history?limit=1&limit=2")
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `query parameter "limit" is given 2 times`},
		{name: "history with an empty domain filter", event: "history",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live-1/history?domain=") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `query parameter "domain" is empty`},
		{name: "cluster list with an unknown parameter", event: "list-clusters",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters?verbose=1") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `unknown query parameter "verbose"`},
		{name: "a write with a query parameter", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "POST", inst+"/close?force=true") },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: `unknown query parameter "force"`},
		{name: "history of an unknown cluster", event: "history",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live-9/history") },
			wantStatus: 404, wantCode: "not_found", wantInMsg: "live-9"},
		{name: "history of an unknown instance", event: "history",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				retarget(ev, "GET", "/clusters/live-1/history?domain=d333333abcdef8.cloudfront.net")
			},
			wantStatus: 404, wantCode: "not_found", wantInMsg: "d333333abcdef8.cloudfront.net"},
		{name: "If-Match with a list of versions", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { ev.Headers["if-match"] = `"2", "7"` },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "one version"},
		{name: "reason with an unpaired surrogate escape", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "maintenance \ud800"}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "UTF-8"},
		{name: "reason of only a bidi override", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "\u202e"}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "visible"},
		{name: "reason of only zero-width and format characters", event: "close",
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": " \u200b\u2060\ufeff "}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "visible"},
		{name: "reason of only a combining mark", event: "open", closeD2: true,
			mutate:     func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"reason": "\u0301"}`) },
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "visible"},
		{name: "register with a quote in the origin URL", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "https://`+d1+`/i.m3u8", "origin_playlist_url": "https://o.example.com/a\"b.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "origin_playlist_url"},
		{name: "register with a blank in the distribution URL", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "https://`+d1+`/live 1/i.m3u8", "origin_playlist_url": "https://o.example.com/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "distribution_playlist_url"},
		{name: "register with a control character in a URL", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "https://`+d1+`/i.m3u8\t", "origin_playlist_url": "https://o.example.com/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "distribution_playlist_url"},
		{name: "register with a non-ASCII blank in a URL", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "https://`+d1+`/i.m3u8", "origin_playlist_url": "https://o.example.com/\u00a0i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "origin_playlist_url"},
		{name: "register with a URL without a host name", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "https://:443/i.m3u8", "origin_playlist_url": "https://o.example.com/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "host"},
		{name: "register with a port out of range", event: "register",
			mutate: func(ev *events.APIGatewayV2HTTPRequest) {
				withBody(ev, `{"region": "us-east-1", "distribution_playlist_url": "https://`+d1+`/i.m3u8", "origin_playlist_url": "https://o.example.com:99999/i.m3u8"}`)
			},
			wantStatus: 400, wantCode: "invalid_request", wantInMsg: "port"},
		{name: "control region unavailable", event: "close",
			wrap: func(s api.Store) api.Store {
				return faulty{Store: s, close: func() error {
					return &state.ControlRegionUnavailableError{Cluster: cluster, Domain: d1, ControlRegion: "us-east-1", Err: errors.New("dial tcp: i/o timeout")}
				}}
			},
			wantStatus: 503, wantCode: "unavailable", wantInMsg: "retry"},
		{name: "store deadline exceeded", event: "list-clusters",
			wrap: func(s api.Store) api.Store {
				return faulty{Store: s, clusters: func() error { return context.DeadlineExceeded }}
			},
			wantStatus: 503, wantCode: "unavailable"},
		{name: "internal error is not echoed", event: "list-clusters",
			wrap: func(s api.Store) api.Store {
				return faulty{Store: s, clusters: func() error { return errors.New("secret table arn:aws:dynamodb:x") }}
			},
			wantStatus: 500, wantCode: "internal", wantInMsg: "internal error"},
		{name: "a panic becomes a 500", event: "close",
			wrap: func(s api.Store) api.Store {
				return faulty{Store: s, close: func() error { panic("secret panic detail") }}
			},
			wantStatus: 500, wantCode: "internal", wantInMsg: "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.wrap)
			f.seed(t)
			if tc.closeD2 {
				if _, err := f.store.Close(ctx, cluster, d2, state.Change{By: seeder, Reason: "setup"}); err != nil {
					t.Fatal(err)
				}
			}
			before := f.snapshot(t)
			ev := loadEvent(t, tc.event)
			if tc.mutate != nil {
				tc.mutate(&ev)
			}
			resp := mustInvoke(t, f, ev, tc.wantStatus)
			if got := header(resp, "Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			var got apiError
			decodeInto(t, resp, &got)
			if got.Code != tc.wantCode {
				t.Errorf("code = %q, want %q (message %q)", got.Code, tc.wantCode, got.Message)
			}
			if got.Message == "" || !strings.Contains(got.Message, tc.wantInMsg) {
				t.Errorf("message = %q, want it to mention %q", got.Message, tc.wantInMsg)
			}
			if tc.notInMsg != "" && strings.Contains(got.Message, tc.notInMsg) {
				t.Errorf("message = %q, want it in JSON's terms, without %q", got.Message, tc.notInMsg)
			}
			if strings.Contains(resp.Body, "secret") {
				t.Errorf("response echoes an internal detail: %s", resp.Body)
			}
			if diff := cmp.Diff(before, f.snapshot(t)); diff != "" {
				t.Errorf("a refused request changed the store (-before +after):\n%s", diff)
			}
			// Every refusal is logged with its code; internal causes only in the log.
			logged := f.log.String()
			if !strings.Contains(logged, `"code":"`+tc.wantCode+`"`) {
				t.Errorf("log has no line with code %s:\n%s", tc.wantCode, logged)
			}
			if want := `"request_id":"` + ev.RequestContext.RequestID + `"`; !strings.Contains(logged, want) {
				t.Errorf("log has no line with %s:\n%s", want, logged)
			}
			if tc.wantStatus == 500 && !strings.Contains(logged, "secret") {
				t.Errorf("log lacks the internal cause:\n%s", logged)
			}
		})
	}
}

func TestCaller(t *testing.T) {
	t.Run("caller id stands in when the ARN is missing", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		ev := loadEvent(t, "close")
		ev.RequestContext.Authorizer.IAM.UserARN = ""
		var got state.Instance
		decodeInto(t, mustInvoke(t, f, ev, http.StatusOK), &got)
		if want := "iam:AROAEXAMPLEID0000001:alice"; got.ChangedBy != want {
			t.Fatalf("changed_by = %q, want %q", got.ChangedBy, want)
		}
	})
	t.Run("reads need no identity", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		ev := loadEvent(t, "get-cluster")
		ev.RequestContext.Authorizer = nil
		mustInvoke(t, f, ev, http.StatusOK)
	})
	t.Run("identity headers are not trusted", func(t *testing.T) {
		f := newFixture(t, nil)
		f.seed(t)
		ev := loadEvent(t, "close")
		ev.RequestContext.Authorizer = nil
		ev.Headers[strings.ToLower(api.OperatorHeader)] = "mallory"
		mustInvoke(t, f, ev, http.StatusUnauthorized)
	})
}

func TestLocalRuntime(t *testing.T) {
	store := memory.New(statetest.NewClock(t0).Now)
	h := api.New(api.Options{Store: store, Caller: api.LocalCaller("operator"), LocalDomains: true,
		Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	put := func(t *testing.T, domain, operator string) *http.Response {
		t.Helper()
		scheme := "http"
		if strings.HasSuffix(domain, ".cloudfront.net") {
			scheme = "https"
		}
		body := `{"region": "eu-west-1", "distribution_playlist_url": "` + scheme + `://` + domain + `/live-1/index.m3u8", "origin_playlist_url": "http://127.0.0.1:9000/live-1/index.m3u8"}`
		req, err := http.NewRequest("PUT", "http://127.0.0.1/clusters/live-1/instances/"+domain, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if operator != "" {
			req.Header.Set(api.OperatorHeader, operator)
		}
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, req)
		return &http.Response{StatusCode: rec.status, Body: nil, Header: rec.header}
	}
	for _, tc := range []struct {
		name, domain, operator string
		wantStatus             int
		wantBy                 string
	}{
		{"loopback domain and named operator", "127.0.0.1:8081", "bob", 200, "local:bob"},
		{"localhost domain and default operator", "localhost:8082", "", 200, "local:operator"},
		{"odd operator names fall back", "127.0.0.1:8083", "bob smith<script>", 200, "local:operator"},
		{"a CloudFront domain still works", d1, "bob", 200, "local:bob"},
		{"a public host is refused even locally", "example.com:80", "bob", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := put(t, tc.domain, tc.operator)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus != 200 {
				return
			}
			got, err := store.Instance(ctx, "live-1", tc.domain)
			if err != nil {
				t.Fatal(err)
			}
			if got.ChangedBy != tc.wantBy {
				t.Fatalf("changed_by = %q, want %q", got.ChangedBy, tc.wantBy)
			}
		})
	}
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) { r.status = s }

func TestDashboardIsServed(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name, path         string
		wantStatus         int
		wantType, wantBody string
	}{
		{"root redirects to the page", "/", 302, "", ""},
		{"the page", "/dashboard/", 200, "text/html; charset=utf-8", "<title>Clustered Video Streams</title>"},
		{"its script", "/dashboard/app.js", 200, "text/javascript; charset=utf-8", "setInterval(refresh, REFRESH_MS)"},
		{"its style", "/dashboard/style.css", 200, "text/css; charset=utf-8", ".badge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := loadEvent(t, "list-clusters")
			retarget(&ev, "GET", tc.path)
			resp := mustInvoke(t, f, ev, tc.wantStatus)
			if tc.wantStatus == 302 {
				if got := header(resp, "Location"); got != "/dashboard/" {
					t.Fatalf("Location = %q, want /dashboard/", got)
				}
				return
			}
			if got := header(resp, "Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tc.wantType)
			}
			if !strings.Contains(resp.Body, tc.wantBody) {
				t.Errorf("body lacks %q", tc.wantBody)
			}
		})
	}
}

// BenchmarkCloseMemory measures one close through the Lambda adapter and the handler on the
// memory store: the API's own cost, without DynamoDB (functions/api's BenchmarkClose has that).
func BenchmarkCloseMemory(b *testing.B) {
	store := memory.New(nil)
	h := api.LambdaHandler(api.New(api.Options{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	for _, d := range []string{d1, d2} {
		r := state.Registration{Cluster: cluster, Domain: d, Region: "us-east-1",
			DistributionPlaylistURL: "https://" + d + "/i.m3u8", OriginPlaylistURL: "https://o.example.com/i.m3u8"}
		if _, err := store.Register(ctx, r, state.Change{By: seeder}); err != nil {
			b.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, cluster, d, state.HealthFresh, state.Change{By: seeder}); err != nil {
			b.Fatal(err)
		}
	}
	closeEv, openEv := loadEvent(b, "close"), loadEvent(b, "open")
	b.ReportAllocs()
	for b.Loop() {
		if resp, err := h(ctx, closeEv); err != nil || resp.StatusCode != 200 {
			b.Fatalf("close: %d %v", resp.StatusCode, err)
		}
		b.StopTimer()
		if resp, err := h(ctx, openEv); err != nil || resp.StatusCode != 200 {
			b.Fatalf("open: %d %v", resp.StatusCode, err)
		}
		b.StartTimer()
	}
}

func TestLambdaEntry(t *testing.T) {
	t.Run("a handler that writes nothing gets a JSON 500, not an invocation error", func(t *testing.T) {
		lambda := api.LambdaHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		resp, err := lambda(ctx, loadEvent(t, "list-clusters"))
		if err != nil {
			t.Fatalf("invoke: %v", err)
		}
		var got apiError
		decodeInto(t, resp, &got)
		if resp.StatusCode != 500 || got.Code != "internal" || header(resp, "Content-Type") != "application/json" {
			t.Fatalf("answer = %d %s %+v, want a JSON 500 with code internal", resp.StatusCode, header(resp, "Content-Type"), got)
		}
	})
	t.Run("the dashboard path without its slash still redirects to the page", func(t *testing.T) {
		f := newFixture(t, nil)
		ev := loadEvent(t, "list-clusters")
		retarget(&ev, "GET", "/dashboard")
		resp := mustInvoke(t, f, ev, http.StatusTemporaryRedirect)
		if got := header(resp, "Location"); got != "/dashboard/" {
			t.Fatalf("Location = %q, want /dashboard/", got)
		}
	})
}
