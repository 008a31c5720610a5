package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/api/apiclient"
	"github.com/clustered-video-streams/cvs/internal/dashboard"
	"github.com/clustered-video-streams/cvs/internal/local/apigw"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
)

const (
	d1    = "d111111abcdef8.cloudfront.net"
	d2    = "d222222abcdef8.cloudfront.net"
	opARN = "arn:aws:iam::123456789012:user/operator"
)

var ctx = context.Background()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// proxyToDeployedAPI starts the API behind the IAM-checking gateway stand-in, and the
// dashboard proxy signing with dummy credentials in front of it.
func proxyToDeployedAPI(t *testing.T) (proxy *httptest.Server, store *memory.Store) {
	t.Helper()
	store = memory.New(nil)
	for _, d := range []string{d1, d2} {
		r := state.Registration{Cluster: "live-1", Domain: d, Region: "eu-west-1",
			DistributionPlaylistURL: "https://" + d + "/i.m3u8", OriginPlaylistURL: "https://o.example.com/" + d + ".m3u8"}
		if _, err := store.Register(ctx, r, state.Change{By: "seed"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, "live-1", d, state.HealthFresh, state.Change{By: "seed"}); err != nil {
			t.Fatal(err)
		}
	}
	apiSrv := httptest.NewServer(&apigw.Gateway{
		Region:     "eu-west-1",
		Principals: []apigw.Principal{{AccessKeyID: "AKIDEXAMPLEOPERATOR1", SecretAccessKey: "dummy", ARN: opARN}},
		Lambda:     api.LambdaHandler(api.New(api.Options{Store: store, Logger: quiet()})),
	})
	t.Cleanup(apiSrv.Close)
	base, _ := url.Parse(apiSrv.URL)
	proxy = httptest.NewServer(dashboard.NewProxy(dashboard.ProxyOptions{
		API: base,
		Client: &http.Client{Transport: &apiclient.SigV4{
			Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLEOPERATOR1", "dummy", ""),
			Region:      "eu-west-1",
		}},
		Logger: quiet(),
	}))
	t.Cleanup(proxy.Close)
	return proxy, store
}

func TestProxy(t *testing.T) {
	proxy, store := proxyToDeployedAPI(t)
	close1 := proxy.URL + "/clusters/live-1/instances/" + d1 + "/close"
	for _, tc := range []struct {
		name       string
		method     string
		url        string
		body       string
		headers    map[string]string
		wantStatus int
		wantInBody string
	}{
		{name: "root redirects to the page", method: "GET", url: proxy.URL + "/", wantStatus: 302},
		{name: "the page", method: "GET", url: proxy.URL + "/dashboard/", wantStatus: 200, wantInBody: "<title>Clustered Video Streams</title>"},
		{name: "cluster list is forwarded signed", method: "GET", url: proxy.URL + "/clusters", wantStatus: 200, wantInBody: `"healthy":2`},
		{name: "history query is forwarded", method: "GET", url: proxy.URL + "/clusters/live-1/history?limit=1", wantStatus: 200, wantInBody: `"next":`},
		{name: "API errors come back as they are", method: "GET", url: proxy.URL + "/clusters/live-9", wantStatus: 404, wantInBody: `"code":"not_found"`},
		{name: "host that is not loopback", method: "GET", url: proxy.URL + "/clusters", headers: map[string]string{"Host": "evil.example.com"},
			wantStatus: 403, wantInBody: "loopback"},
		{name: "cross-origin write", method: "POST", url: close1, body: `{"reason":"x"}`,
			headers: map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example.com"}, wantStatus: 403, wantInBody: "cross-origin"},
		{name: "method not forwarded", method: "DELETE", url: proxy.URL + "/clusters/live-1", wantStatus: 405, wantInBody: "method_not_allowed"},
		{name: "oversized body", method: "POST", url: close1, body: `{"reason":"` + strings.Repeat("x", dashboard.MaxBody) + `"}`,
			headers: map[string]string{"Content-Type": "application/json"}, wantStatus: 413, wantInBody: "body_too_large"},
		{name: "a close through the proxy", method: "POST", url: close1, body: `{"reason":"from the dashboard"}`,
			headers: map[string]string{"Content-Type": "application/json", "Origin": proxy.URL}, wantStatus: 200, wantInBody: `"distro_open":false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.headers {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantStatus, body)
			}
			if !strings.Contains(string(body), tc.wantInBody) {
				t.Fatalf("body %s lacks %q", body, tc.wantInBody)
			}
		})
	}
	got, err := store.Instance(ctx, "live-1", d1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Open || got.ChangedBy != opARN || got.Reason != "from the dashboard" {
		t.Fatalf("after the proxied close: open %v by %q reason %q; want closed by %s", got.Open, got.ChangedBy, got.Reason, opARN)
	}
}

func TestProxyAPIUnreachable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	base, _ := url.Parse(dead.URL)
	dead.Close()
	proxy := httptest.NewServer(dashboard.NewProxy(dashboard.ProxyOptions{API: base, Client: http.DefaultClient, Logger: quiet()}))
	defer proxy.Close()
	resp, err := http.Get(proxy.URL + "/clusters")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Code, Message string }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadGateway || got.Code != "api_unreachable" {
		t.Fatalf("status %d code %q, want 502 api_unreachable", resp.StatusCode, got.Code)
	}
}
