package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awss3 "github.com/clustered-video-streams/cvs/internal/aws/s3"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/mastermerge"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// TestRegenerateMaster runs POST /clusters/{cluster}/master through the Lambda adapter on the
// real merge service: two regions' distributions on httptest, their master bucket on moto.
func TestRegenerateMaster(t *testing.T) {
	endpoint := testenv.Moto(t, "the master regeneration API test")
	ctx := context.Background()
	region, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "hls", "testdata", "master", "seed002-region.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var eastDown atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if eastDown.Load() && r.URL.Path == "/o1.m3u8" { // us-east-1's origin
			http.Error(w, "origin down", http.StatusServiceUnavailable)
			return
		}
		w.Write(region)
	}))
	defer srv.Close()

	store := memory.New(time.Now)
	for _, r := range []state.Registration{
		{Cluster: cluster, Domain: d1, Region: "us-east-1", DistributionPlaylistURL: srv.URL + "/us-east-1/index.m3u8", OriginPlaylistURL: srv.URL + "/o1.m3u8"},
		{Cluster: cluster, Domain: d2, Region: "eu-west-1", DistributionPlaylistURL: srv.URL + "/eu-west-1/index.m3u8", OriginPlaylistURL: srv.URL + "/o2.m3u8"},
	} {
		if _, err := store.Register(ctx, r, state.Change{By: seeder, Reason: "seed"}); err != nil {
			t.Fatal(err)
		}
	}
	c := motoclient.S3(endpoint)
	motoclient.Bucket(t, c, "cvs-master-123456789012-us-east-1", true)
	svc, err := mastermerge.New(mastermerge.Config{Store: store, Fetcher: &origin.Fetcher{},
		Targets: []mastermerge.Target{{Region: "us-east-1", Bucket: "cvs-master-123456789012-us-east-1", S3: awss3.New(c)}}})
	if err != nil {
		t.Fatal(err)
	}
	invoke := api.LambdaHandler(api.New(api.Options{Store: store, Master: svc, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}))
	master := func(t *testing.T, mutate func(*events.APIGatewayV2HTTPRequest)) events.APIGatewayV2HTTPResponse {
		t.Helper()
		ev := loadEvent(t, "master")
		if mutate != nil {
			mutate(&ev)
		}
		resp, err := invoke(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	written := func(t *testing.T) string {
		t.Helper()
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cvs-master-123456789012-us-east-1"), Key: aws.String("live-1/index.m3u8")})
		if err != nil {
			t.Fatalf("no master written: %v", err)
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		return string(b)
	}

	t.Run("regenerates the master (sample event)", func(t *testing.T) {
		resp := master(t, nil)
		var res regen.Result
		decodeInto(t, resp, &res)
		if resp.StatusCode != 200 || !res.Written || res.Variants != 6 || res.VariantGroups != 3 || len(res.Sources) != 2 {
			t.Fatalf("%d %s; want 200 with 6 variants in 3 groups written", resp.StatusCode, resp.Body)
		}
		if body := written(t); !strings.Contains(body, srv.URL+"/eu-west-1/index_1.m3u8") {
			t.Fatalf("written master lacks eu-west-1:\n%s", body)
		}
	})

	t.Run("with content steering", func(t *testing.T) {
		resp := master(t, func(ev *events.APIGatewayV2HTTPRequest) {
			withBody(ev, `{"steering_uri":"https://d111111abcdef8.cloudfront.net/steering/live-1.json"}`)
		})
		if resp.StatusCode != 200 || !strings.Contains(written(t), "#EXT-X-CONTENT-STEERING:") {
			t.Fatalf("%d %s; want the steering tag written", resp.StatusCode, resp.Body)
		}
	})

	t.Run("a failing region is named and the master stays", func(t *testing.T) {
		before := written(t)
		eastDown.Store(true)
		defer eastDown.Store(false)
		resp := master(t, nil)
		var e apiError
		decodeInto(t, resp, &e)
		if resp.StatusCode != 502 || e.Code != "upstream_failed" || !strings.Contains(e.Message, "us-east-1 (") || !strings.Contains(e.Message, "503") {
			t.Fatalf("%d %s; want 502 upstream_failed naming us-east-1 and its 503", resp.StatusCode, resp.Body)
		}
		if written(t) != before {
			t.Fatal("the master changed although a region failed")
		}
	})

	for _, tc := range []struct {
		name       string
		mutate     func(*events.APIGatewayV2HTTPRequest)
		wantStatus int
		wantCode   string
	}{
		{"unknown cluster", func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "POST", "/clusters/live-9/master") }, 404, "not_found"},
		{"no caller identity", func(ev *events.APIGatewayV2HTTPRequest) { ev.RequestContext.Authorizer = nil }, 401, "unauthenticated"},
		{"steering URI not http(s)", func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"steering_uri":"javascript:alert(1)"}`) }, 400, "invalid_request"},
		{"unknown field", func(ev *events.APIGatewayV2HTTPRequest) { withBody(ev, `{"steering":"x"}`) }, 400, "invalid_request"},
		{"GET is not allowed", func(ev *events.APIGatewayV2HTTPRequest) { retarget(ev, "GET", "/clusters/live-1/master") }, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := written(t)
			resp := master(t, tc.mutate)
			var e apiError
			decodeInto(t, resp, &e)
			if resp.StatusCode != tc.wantStatus || e.Code != tc.wantCode {
				t.Fatalf("%d %s; want %d %s", resp.StatusCode, resp.Body, tc.wantStatus, tc.wantCode)
			}
			if written(t) != before {
				t.Fatal("a refused request changed the master")
			}
		})
	}
}
