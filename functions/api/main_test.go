package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

var db testenv.SharedDynamoDB

func TestMain(m *testing.M) {
	code := m.Run()
	db.Stop()
	os.Exit(code)
}

const (
	d1 = "d111111abcdef8.cloudfront.net"
	d2 = "d222222abcdef8.cloudfront.net"
)

func loadEvent(t testing.TB, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(testenv.SampleEvent(t, "api-"+name+".json"), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// forDomain points an instance event at another domain of the same cluster.
func forDomain(ev events.APIGatewayV2HTTPRequest, domain string) events.APIGatewayV2HTTPRequest {
	ev.RawPath = strings.Replace(ev.RawPath, d1, domain, 1)
	ev.RequestContext.HTTP.Path = ev.RawPath
	return ev
}

// wired builds the function as Lambda would, on a fresh table of DynamoDB Local, registers d1
// and d2 through the API and marks both fresh as a detector would.
func wired(t testing.TB, getenv map[string]string) handlerFunc {
	d := db.Get(t)
	testenv.OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": d.Endpoint})
	table, store := d.StateStore(t)
	getenv["TABLE_NAME"] = table
	h, err := build(context.Background(), func(k string) string { return getenv[k] }, io.Discard)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	for _, domain := range []string{d1, d2} {
		ev := forDomain(loadEvent(t, "register"), domain)
		if resp, err := h(context.Background(), ev); err != nil || resp.StatusCode != 200 {
			t.Fatalf("register %s: %d %s %v", domain, resp.StatusCode, resp.Body, err)
		}
		if _, err := store.RecordHealth(context.Background(), "live-1", domain, state.HealthFresh, state.Change{By: "local:detector"}); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestBuild(t *testing.T) {
	t.Run("no table name", func(t *testing.T) {
		testenv.OfflineAWS(t, nil)
		if _, err := build(context.Background(), func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
			t.Fatalf("err = %v, want TABLE_NAME is not set", err)
		}
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"control region is the function's region", map[string]string{}},
		{"control region elsewhere", map[string]string{"CONTROL_REGION": "eu-west-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := wired(t, tc.env)
			for _, step := range []struct {
				event, domain string
				wantStatus    int
				wantInBody    string
			}{
				{"close", d1, 200, `"changed_by":"arn:aws:sts::123456789012:assumed-role/StreamOperator/alice"`},
				{"close", d2, 409, `"code":"guard_refused"`},
				{"history", "", 200, `"field":"distro_open"`},
				{"list-clusters", "", 200, `"cluster":"live-1","instances":2,"open":1,"healthy":1`},
			} {
				ev := loadEvent(t, step.event)
				if step.domain != "" {
					ev = forDomain(ev, step.domain)
				}
				resp, err := h(context.Background(), ev)
				if err != nil {
					t.Fatalf("%s %s: %v", step.event, step.domain, err)
				}
				if resp.StatusCode != step.wantStatus || !strings.Contains(resp.Body, step.wantInBody) {
					t.Fatalf("%s %s: %d %s; want %d with %s", step.event, step.domain, resp.StatusCode, resp.Body, step.wantStatus, step.wantInBody)
				}
			}
		})
	}
}

// TestMasterRoute builds the function with and without MERGE_FUNCTION_NAME and sends it the
// sample master event. Every AWS endpoint is a loopback stand-in for Lambda's Invoke API (no
// local server runs Go Lambdas), which records the invocation and answers as the merge function
// would; any other request fails the test.
func TestMasterRoute(t *testing.T) {
	type invocation struct {
		Method, Path, InvocationType string
		Payload                      regen.Request
	}
	var got []invocation
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := invocation{Method: r.Method, Path: r.URL.Path, InvocationType: r.Header.Get("X-Amz-Invocation-Type")}
		if err := json.NewDecoder(r.Body).Decode(&in.Payload); err != nil {
			t.Errorf("payload: %v", err)
		}
		got = append(got, in)
		json.NewEncoder(w).Encode(regen.Result{Cluster: in.Payload.Cluster, Key: in.Payload.Cluster + "/index.m3u8", Written: true, Variants: 6})
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name            string
		env             map[string]string
		wantStatus      int
		wantInBody      string
		wantInvocations []invocation
	}{
		{"no merge function: no route", map[string]string{"TABLE_NAME": "cvs-state"}, 404, `"code":"not_found"`, nil},
		{"merge function set: invoked synchronously", map[string]string{"TABLE_NAME": "cvs-state", "MERGE_FUNCTION_NAME": "cvs-merge"}, 200, `"written":true`,
			[]invocation{{Method: "POST", Path: "/2015-03-31/functions/cvs-merge/invocations", InvocationType: "RequestResponse", Payload: regen.Request{Cluster: "live-1"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			testenv.OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL": srv.URL})
			h, err := build(context.Background(), func(k string) string { return tc.env[k] }, io.Discard)
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			resp, err := h(context.Background(), loadEvent(t, "master"))
			if err != nil || resp.StatusCode != tc.wantStatus || !strings.Contains(resp.Body, tc.wantInBody) {
				t.Fatalf("POST master: %d %s %v; want %d with %s", resp.StatusCode, resp.Body, err, tc.wantStatus, tc.wantInBody)
			}
			if diff := cmp.Diff(tc.wantInvocations, got); diff != "" {
				t.Errorf("Lambda requests (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkClose measures a close through the whole function (adapter, handler, DynamoDB store)
// against DynamoDB Local, and reports its latency percentiles. Each close is followed by an
// untimed open of the same instance.
func BenchmarkClose(b *testing.B) {
	h := wired(b, map[string]string{})
	closeEv, openEv := loadEvent(b, "close"), loadEvent(b, "open")
	ctx := context.Background()
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		resp, err := h(ctx, closeEv)
		took = append(took, time.Since(start))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("close: %d %s %v", resp.StatusCode, resp.Body, err)
		}
		b.StopTimer()
		if resp, err := h(ctx, openEv); err != nil || resp.StatusCode != 200 {
			b.Fatalf("open: %d %s %v", resp.StatusCode, resp.Body, err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(took)
	pct := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
