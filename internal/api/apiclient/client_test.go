package apiclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/api/apiclient"
	"github.com/clustered-video-streams/cvs/internal/local/apigw"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
)

const (
	cluster = "live-1"
	d1      = "d111111abcdef8.cloudfront.net"
	d2      = "d222222abcdef8.cloudfront.net"
	keyID   = "AKIDEXAMPLEOPERATOR1"
	secret  = "dummy-secret-for-tests-only"
	opARN   = "arn:aws:iam::123456789012:user/operator"
)

var ctx = context.Background()

// deployed is the API as deployed: the real handler behind the Lambda adapter behind a
// SigV4-checking stand-in for API Gateway, on a memory store with two fresh instances.
func deployed(t *testing.T) (*httptest.Server, *memory.Store) {
	t.Helper()
	store := memory.New(nil)
	seed(t, store)
	gw := &apigw.Gateway{
		Region:     "eu-west-1",
		Principals: []apigw.Principal{{AccessKeyID: keyID, SecretAccessKey: secret, ARN: opARN}},
		Lambda:     api.LambdaHandler(api.New(api.Options{Store: store, Logger: quiet()})),
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv, store
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func seed(t *testing.T, store *memory.Store) {
	t.Helper()
	for _, d := range []string{d1, d2} {
		r := state.Registration{Cluster: cluster, Domain: d, Region: "eu-west-1",
			DistributionPlaylistURL: "https://" + d + "/index.m3u8", OriginPlaylistURL: "https://o.example.com/" + d + ".m3u8"}
		if _, err := store.Register(ctx, r, state.Change{By: "seed"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, cluster, d, state.HealthFresh, state.Change{By: "seed"}); err != nil {
			t.Fatal(err)
		}
	}
}

func signedClient(t *testing.T, base, key, sec string, next http.RoundTripper) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(base, &http.Client{Transport: &apiclient.SigV4{
		Credentials: credentials.NewStaticCredentialsProvider(key, sec, ""),
		Region:      "eu-west-1",
		Next:        next,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignedCalls(t *testing.T) {
	srv, store := deployed(t)
	c := signedClient(t, srv.URL, keyID, secret, nil)

	list, err := c.Clusters(ctx)
	if err != nil {
		t.Fatalf("clusters: %v", err)
	}
	if diff := cmp.Diff(api.ClusterList{Clusters: []api.ClusterSummary{{Cluster: cluster, Instances: 2, Open: 2, Healthy: 2}}}, list); diff != "" {
		t.Fatalf("clusters (-want +got):\n%s", diff)
	}
	closed, err := c.Close(ctx, cluster, d1, api.CloseRequest{Reason: "maintenance", ExpectedVersion: 2})
	if err != nil {
		t.Fatalf("close: %v", err)
	}
	if closed.Open || closed.ChangedBy != opARN {
		t.Fatalf("closed = open %v by %q, want closed by %s", closed.Open, closed.ChangedBy, opARN)
	}
	stored, err := store.Instance(ctx, cluster, d1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, closed); diff != "" {
		t.Fatalf("answer differs from the store (-store +answer):\n%s", diff)
	}

	_, err = c.Close(ctx, cluster, d2, api.CloseRequest{Reason: "also this one"})
	var apiErr *apiclient.Error
	if !errors.As(err, &apiErr) || apiErr.Code != api.CodeGuardRefused || apiErr.Status != http.StatusConflict {
		t.Fatalf("closing the last healthy instance: err = %v, want guard_refused 409", err)
	}
	if _, err := c.Open(ctx, cluster, d1, api.OpenRequest{Reason: "back", ExpectedVersion: 2}); !apiclient.IsCode(err, api.CodeVersionConflict) {
		t.Fatalf("open at a stale version: err = %v, want version_conflict", err)
	}
	if _, err := c.Cluster(ctx, "live-9"); !apiclient.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown cluster: err = %v, want not_found", err)
	}
	// A domain serves one cluster: live-1's d1 is refused to live-2, a new domain is not.
	if _, err := c.Register(ctx, "live-2", d1, api.RegisterRequest{Region: "us-west-2",
		DistributionPlaylistURL: "https://" + d1 + "/x.m3u8", OriginPlaylistURL: "https://o.example.com/x.m3u8"}); !apiclient.IsCode(err, api.CodeDomainTaken) {
		t.Fatalf("register live-1's domain in live-2: err = %v, want domain_taken", err)
	}
	const d3 = "d333333abcdef8.cloudfront.net"
	reg, err := c.Register(ctx, "live-2", d3, api.RegisterRequest{Region: "us-west-2",
		DistributionPlaylistURL: "https://" + d3 + "/x.m3u8", OriginPlaylistURL: "https://o.example.com/x.m3u8"})
	if err != nil || reg.Version != 1 || reg.ChangedBy != opARN {
		t.Fatalf("register: %+v, %v", reg, err)
	}
	inst, err := c.Instance(ctx, "live-2", d3)
	if err != nil || inst.Region != "us-west-2" {
		t.Fatalf("instance: %+v, %v", inst, err)
	}

	// Page through the whole history two at a time.
	var got []state.AuditRecord
	cursor := ""
	for range 10 {
		page, err := c.History(ctx, cluster, "", 2, cursor)
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		got = append(got, page.Records...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	all, err := store.History(ctx, state.HistoryQuery{Cluster: cluster})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all.Records, got); diff != "" {
		t.Fatalf("paged history (-store +client):\n%s", diff)
	}
}

// tamper changes the body after signing, as a broken proxy would.
type tamper struct{}

func (tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	b = bytes.Replace(b, []byte("maintenance"), []byte("MAINTENANCE"), 1)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return http.DefaultTransport.RoundTrip(r)
}

func TestGatewayRefusals(t *testing.T) {
	srv, store := deployed(t)
	for _, tc := range []struct {
		name   string
		client *apiclient.Client
		want   string
	}{
		{"wrong secret", signedClient(t, srv.URL, keyID, "not-the-secret", nil), "signature we calculated does not match"},
		{"unknown key", signedClient(t, srv.URL, "AKIDUNKNOWN000000000", secret, nil), "security token included in the request is invalid"},
		{"body changed after signing", signedClient(t, srv.URL, keyID, secret, tamper{}), "signature we calculated does not match"},
		{"unsigned", mustNew(t, srv.URL, http.DefaultClient), "Missing Authentication Token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.Close(ctx, cluster, d1, api.CloseRequest{Reason: "maintenance"})
			var apiErr *apiclient.Error
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden || apiErr.Code != "http_403" {
				t.Fatalf("err = %v, want API Gateway's 403", err)
			}
			if !strings.Contains(apiErr.Message, tc.want) {
				t.Fatalf("message = %q, want %q", apiErr.Message, tc.want)
			}
			if inst, _ := store.Instance(ctx, cluster, d1); !inst.Open {
				t.Fatalf("a refused request closed the instance")
			}
		})
	}
}

func mustNew(t *testing.T, base string, hc *http.Client) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(base, hc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOperatorTransport(t *testing.T) {
	store := memory.New(nil)
	seed(t, store)
	srv := httptest.NewServer(api.New(api.Options{Store: store, Caller: api.LocalCaller("nobody"), Logger: quiet()}))
	defer srv.Close()
	c := mustNew(t, srv.URL, &http.Client{Transport: &apiclient.Operator{Name: "bob"}})
	got, err := c.Close(ctx, cluster, d1, api.CloseRequest{Reason: "local test"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ChangedBy != "local:bob" {
		t.Fatalf("changed_by = %q, want local:bob", got.ChangedBy)
	}
}

func TestSigV4UsesTheInjectedClock(t *testing.T) {
	srv, _ := deployed(t)
	at := time.Now().Add(-time.Hour)
	c := mustNew(t, srv.URL, &http.Client{Transport: &apiclient.SigV4{
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		Region:      "eu-west-1",
		Now:         func() time.Time { return at },
	}})
	if _, err := c.Clusters(ctx); !apiclient.IsCode(err, "http_403") || !strings.Contains(err.Error(), "Signature expired") {
		t.Fatalf("request signed an hour ago: err = %v, want 403 Signature expired", err)
	}
}

func TestSigV4CredentialErrors(t *testing.T) {
	c := mustNew(t, "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", &http.Client{Transport: &apiclient.SigV4{
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no credentials configured")
		}),
		Region: "eu-west-1",
		Next: roundTripFunc(func(*http.Request) (*http.Response, error) {
			t.Fatal("a request went out without credentials")
			return nil, nil
		}),
	}})
	if _, err := c.Clusters(ctx); err == nil || !strings.Contains(err.Error(), "no credentials configured") {
		t.Fatalf("err = %v, want the credential error", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		endpoint   string
		wantUnsign bool
		wantErr    bool
		wantRegion string
	}{
		{"https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", false, false, "eu-west-1"},
		{"https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/", false, false, "cn-north-1"},
		{"https://ops.example.com", false, false, ""},
		{"http://127.0.0.1:8080", true, false, ""},
		{"http://localhost:8080", true, false, ""},
		{"http://[::1]:8080", true, false, ""},
		{"http://10.0.0.5:8080", false, true, ""},
		{"http://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", false, true, "eu-west-1"},
		{"ftp://127.0.0.1", false, true, ""},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			u, err := url.Parse(tc.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			unsigned, err := apiclient.Unsigned(u)
			if (err != nil) != tc.wantErr || unsigned != tc.wantUnsign {
				t.Fatalf("Unsigned = %v, %v; want %v, error %v", unsigned, err, tc.wantUnsign, tc.wantErr)
			}
			if got := apiclient.RegionOf(u); got != tc.wantRegion {
				t.Fatalf("RegionOf = %q, want %q", got, tc.wantRegion)
			}
		})
	}
}

func TestParseEndpointNeverEchoesUserinfo(t *testing.T) {
	for _, tc := range []struct {
		name, endpoint, want string
	}{
		{"user and password", "https://alice:s3cr3t@a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", "must not carry user info"},
		{"token as the user", "http://s3cr3t@127.0.0.1:8080", "must not carry user info"},
		{"unparsable with a password", "http://alice:s3cr3t@[::1", "not a URL"},
		{"a query", "https://ops.example.com/?stage=prod", "without a query"},
		{"a fragment", "https://ops.example.com/#x", "without a query or fragment"},
		{"no host", "https://:443", "with a host"},
		{"relative", "ops.example.com", "with a host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apiclient.ParseEndpoint(tc.endpoint)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if _, nerr := apiclient.New(tc.endpoint, nil); nerr == nil {
				t.Fatal("New accepted the endpoint")
			}
			if msg := err.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "alice") {
				t.Fatalf("the error echoes the user info: %s", msg)
			}
		})
	}
}

func TestMissingRoute(t *testing.T) {
	store := memory.New(nil)
	seed(t, store)
	// No master service: the API has no master route, like one deployed before it existed.
	srv := httptest.NewServer(api.New(api.Options{Store: store, Caller: api.LocalCaller("nobody"), Logger: quiet()}))
	defer srv.Close()
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Not Found"}`))
	}))
	defer gateway.Close()
	for _, tc := range []struct {
		name, base, cluster, wantRoute string
		wantCode                       api.Code
	}{
		{"API without the route, known cluster", srv.URL, cluster, "POST /clusters/live-1/master", api.CodeNotFound},
		{"API without the route, unknown cluster", srv.URL, "live-9", "", api.CodeNotFound},
		{"gateway without the route", gateway.URL, cluster, "POST /clusters/live-1/master", "http_404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mustNew(t, tc.base, nil).RegenerateMaster(ctx, tc.cluster, api.MasterRequest{})
			var apiErr *apiclient.Error
			if !errors.As(err, &apiErr) || apiErr.Route != tc.wantRoute || apiErr.Code != tc.wantCode {
				t.Fatalf("err = %#v, want route %q, code %s", err, tc.wantRoute, tc.wantCode)
			}
		})
	}
	t.Run("an unknown cluster of a known route is not a missing route", func(t *testing.T) {
		_, err := mustNew(t, srv.URL, nil).Cluster(ctx, "live-9")
		var apiErr *apiclient.Error
		if !errors.As(err, &apiErr) || apiErr.Route != "" || apiErr.Code != api.CodeNotFound {
			t.Fatalf("err = %#v, want not_found without a route", err)
		}
	})
}
