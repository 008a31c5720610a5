package mastermerge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/lambdaevent"

	"github.com/clustered-video-streams/cvs/internal/blob"
	locals3 "github.com/clustered-video-streams/cvs/internal/local/s3"

	awscloudfront "github.com/clustered-video-streams/cvs/internal/aws/cloudfront"
	awss3 "github.com/clustered-video-streams/cvs/internal/aws/s3"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/local/edge"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/mastermerge"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

const cluster = "live-1"

// fixture is a cluster of two regions, each an origin (httptest) behind a regional distribution
// that runs the real copilot (internal/local/edge, goja) on the state store, the two regions' master
// buckets and a master distribution on moto, and the Service on them.
type fixture struct {
	svc     *mastermerge.Service
	s3      map[string]*s3.Client // region -> client
	cf      *cloudfront.Client
	distID  string
	masters map[string]*atomic.Value // region -> master body its origin serves ("" answers 404)
	moved   map[string]*atomic.Bool  // region -> its origin redirects the master to v2/index.m3u8
	origins map[string]string        // region -> origin base URL
	dists   map[string]string        // region -> distribution base URL
	domains map[string]string        // region -> distribution domain (the state table key)
	store   *memory.Store
}

var buckets = map[string]string{"us-east-1": "cvs-master-123456789012-us-east-1", "eu-west-1": "cvs-master-123456789012-eu-west-1"}

func regionMaster(t testing.TB) string {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "hls", "testdata", "master", "seed002-region.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// masterPath is where a region's master sits, on its origin and on its distribution alike.
func masterPath(region string) string { return "/out/v1/" + region + "/index.m3u8" }

func newFixture(t *testing.T, endpoint string) *fixture {
	t.Helper()
	ctx := context.Background()
	motoclient.Reset(t, endpoint)
	f := &fixture{s3: map[string]*s3.Client{}, masters: map[string]*atomic.Value{}, moved: map[string]*atomic.Bool{}, origins: map[string]string{},
		dists: map[string]string{}, domains: map[string]string{}, store: memory.New(time.Now)}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	copilot, err := edge.LoadCopilot(filepath.Join(testenv.RepoRoot(t), filepath.FromSlash(edge.CopilotPath)), edge.StoreKVS{Store: f.store}, edge.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cfg := motoclient.Config(endpoint)
	var targets []mastermerge.Target
	for i, region := range []string{"us-east-1", "eu-west-1"} {
		c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true; o.Region = region })
		in := &s3.CreateBucketInput{Bucket: aws.String(buckets[region])}
		if region != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
		}
		if _, err := c.CreateBucket(ctx, in); err != nil {
			t.Fatalf("create bucket in %s: %v", region, err)
		}
		f.s3[region] = c
		targets = append(targets, mastermerge.Target{Region: region, Bucket: buckets[region], S3: awss3.New(c)})

		body := &atomic.Value{}
		body.Store(regionMaster(t))
		f.masters[region] = body
		moved := &atomic.Bool{}
		f.moved[region] = moved
		movedPath := "/out/v1/" + region + "/v2/index.m3u8"
		orig := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch b := body.Load().(string); {
			case r.URL.Path == masterPath(region) && moved.Load():
				http.Redirect(w, r, movedPath, http.StatusFound)
			case r.URL.Path == masterPath(region) && b != "", r.URL.Path == movedPath && moved.Load():
				io.WriteString(w, b)
			case r.URL.Path != masterPath(region) && strings.HasSuffix(r.URL.Path, ".m3u8"):
				io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\ns1.ts\n") // a variant
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(orig.Close)
		u, _ := url.Parse(orig.URL)
		domain := fmt.Sprintf("d%d1111abcdef8.cloudfront.net", i+1)
		dist := httptest.NewServer(edge.NewEdge(domain, u, copilot, edge.EdgeOptions{Log: quiet}))
		t.Cleanup(dist.Close)
		f.origins[region], f.dists[region], f.domains[region] = orig.URL, dist.URL, domain
		if _, err := f.store.Register(ctx, state.Registration{Cluster: cluster, Domain: domain, Region: region,
			DistributionPlaylistURL: dist.URL + masterPath(region), OriginPlaylistURL: orig.URL + masterPath(region)},
			state.Change{By: "local:test", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.RecordHealth(ctx, cluster, domain, state.HealthFresh, state.Change{By: "local:detector", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	f.cf = cloudfront.NewFromConfig(cfg)
	dist, err := f.cf.CreateDistribution(ctx, &cloudfront.CreateDistributionInput{DistributionConfig: &cftypes.DistributionConfig{
		CallerReference: aws.String("test"), Comment: aws.String("master"), Enabled: aws.Bool(true),
		Origins: &cftypes.Origins{Quantity: aws.Int32(1), Items: []cftypes.Origin{{Id: aws.String("us-east-1"),
			DomainName: aws.String(buckets["us-east-1"] + ".s3.us-east-1.amazonaws.com"), S3OriginConfig: &cftypes.S3OriginConfig{OriginAccessIdentity: aws.String("")}}}},
		DefaultCacheBehavior: &cftypes.DefaultCacheBehavior{TargetOriginId: aws.String("us-east-1"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyRedirectToHttps},
	}})
	if err != nil {
		t.Fatalf("create master distribution: %v", err)
	}
	f.distID = aws.ToString(dist.Distribution.Id)
	f.svc, err = mastermerge.New(mastermerge.Config{Store: f.store, Fetcher: &origin.Fetcher{Timeout: 5 * time.Second},
		Targets: targets, CloudFront: awscloudfront.New(f.cf), DistributionID: f.distID, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// status GETs a URL as a player would and returns the status code.
func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// object returns a bucket's master, "" when it has none.
func (f *fixture) object(t *testing.T, region string) (string, *s3.GetObjectOutput) {
	t.Helper()
	out, err := f.s3[region].GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(buckets[region]), Key: aws.String(cluster + "/index.m3u8")})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") {
			return "", nil
		}
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b), out
}

func (f *fixture) invalidations(t *testing.T) []cftypes.InvalidationSummary {
	t.Helper()
	out, err := f.cf.ListInvalidations(context.Background(), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(f.distID)})
	if err != nil {
		t.Fatal(err)
	}
	return out.InvalidationList.Items
}

// regenerators are the two ways to regenerate: the Service in process, and the Invoker through
// the Lambda Invoke wire protocol.
func regenerators(t *testing.T, f *fixture) map[string]func(context.Context, regen.Request) (*regen.Result, error) {
	inv := lambdaStandIn(t, f.svc)
	return map[string]func(context.Context, regen.Request) (*regen.Result, error){
		"service": f.svc.Regenerate,
		"invoker": inv.Regenerate,
	}
}

func TestRegenerate(t *testing.T) {
	endpoint := testenv.Moto(t, "the master merge wire test")
	ctx := context.Background()
	for _, via := range []string{"service", "invoker"} {
		t.Run(via, func(t *testing.T) {
			t.Run("merges every region into every bucket and invalidates", func(t *testing.T) {
				f := newFixture(t, endpoint)
				res, err := regenerators(t, f)[via](ctx, regen.Request{Cluster: cluster})
				if err != nil {
					t.Fatalf("Regenerate: %v", err)
				}
				if !res.Written || res.Variants != 6 || res.VariantGroups != 3 || res.IFrames != 2 || res.InvalidationID == "" {
					t.Fatalf("result %+v, want 6 variants in 3 groups, 2 I-frames, written and invalidated", res)
				}
				east, obj := f.object(t, "us-east-1")
				west, _ := f.object(t, "eu-west-1")
				if east == "" || east != west {
					t.Fatalf("buckets differ or are empty:\n%s\n---\n%s", east, west)
				}
				if _, err := hls.ParseMaster([]byte(east)); err != nil {
					t.Fatalf("written master does not parse: %v", err)
				}
				if aws.ToString(obj.ContentType) != "application/vnd.apple.mpegurl" || aws.ToString(obj.CacheControl) != "max-age=10" {
					t.Errorf("Content-Type %q, Cache-Control %q", aws.ToString(obj.ContentType), aws.ToString(obj.CacheControl))
				}
				for region := range buckets {
					if strings.Count(east, f.dists[region]+"/out/v1/"+region+"/index_1.m3u8") != 1 || strings.Contains(east, f.origins[region]) {
						t.Errorf("master does not list %s's variants on its distribution, or names its origin:\n%s", region, east)
					}
				}
				inv := f.invalidations(t)
				if len(inv) != 1 || aws.ToString(inv[0].Id) != res.InvalidationID {
					t.Fatalf("invalidations %+v, want the one reported", inv)
				}
			})

			t.Run("the same master again writes and invalidates nothing", func(t *testing.T) {
				f := newFixture(t, endpoint)
				run := regenerators(t, f)[via]
				if _, err := run(ctx, regen.Request{Cluster: cluster}); err != nil {
					t.Fatal(err)
				}
				res, err := run(ctx, regen.Request{Cluster: cluster})
				if err != nil || res.Written || res.InvalidationID != "" || !res.Targets[0].Unchanged || !res.Targets[1].Unchanged {
					t.Fatalf("second run %+v, %v; want unchanged everywhere", res, err)
				}
				if n := len(f.invalidations(t)); n != 1 {
					t.Fatalf("%d invalidations, want 1", n)
				}
			})

			t.Run("a region that fails leaves the previous master and is named", func(t *testing.T) {
				f := newFixture(t, endpoint)
				run := regenerators(t, f)[via]
				if _, err := run(ctx, regen.Request{Cluster: cluster}); err != nil {
					t.Fatal(err)
				}
				before, _ := f.object(t, "eu-west-1")
				f.masters["eu-west-1"].Store("")
				f.masters["us-east-1"].Store(strings.Replace(regionMaster(t), "index_3.m3u8", "index_3b.m3u8", 1))
				res, err := run(ctx, regen.Request{Cluster: cluster})
				var me *regen.Error
				if !errors.As(err, &me) || me.Kind != regen.KindSource || !strings.Contains(err.Error(), "eu-west-1 (origin "+f.origins["eu-west-1"]) || !strings.Contains(err.Error(), "404") {
					t.Fatalf("err = %v, want a source error naming eu-west-1, its origin and its 404", err)
				}
				if res == nil || res.Sources[0].Name != "eu-west-1" || res.Sources[0].Error == "" || res.Sources[1].Error != "" {
					t.Fatalf("sources %+v, want eu-west-1 failed and us-east-1 fine", res)
				}
				for _, region := range []string{"us-east-1", "eu-west-1"} {
					if after, _ := f.object(t, region); after != before {
						t.Errorf("%s: master changed after a failed fetch", region)
					}
				}
				if n := len(f.invalidations(t)); n != 1 {
					t.Errorf("%d invalidations, want only the first", n)
				}
			})

			t.Run("a closed region stays in the master, behind its distribution", func(t *testing.T) {
				f := newFixture(t, endpoint)
				west := f.domains["eu-west-1"]
				if _, err := f.store.Close(ctx, cluster, west, state.Change{By: "local:test", Reason: "origin stale"}); err != nil {
					t.Fatal(err)
				}
				if got := status(t, f.dists["eu-west-1"]+masterPath("eu-west-1")); got != http.StatusNotFound {
					t.Fatalf("closed distribution answered %d for the master, want the copilot's 404", got)
				}
				res, err := regenerators(t, f)[via](ctx, regen.Request{Cluster: cluster})
				if err != nil {
					t.Fatalf("Regenerate with eu-west-1 closed: %v", err)
				}
				if !res.Written || res.Variants != 6 || res.VariantGroups != 3 {
					t.Fatalf("result %+v, want both regions' 6 variants in 3 groups written", res)
				}
				if got := []bool{res.Sources[0].Closed, res.Sources[1].Closed}; !got[0] || got[1] {
					t.Errorf("sources %+v: want eu-west-1 reported closed, us-east-1 open", res.Sources)
				}
				body, _ := f.object(t, "us-east-1")
				variant := f.dists["eu-west-1"] + "/out/v1/eu-west-1/index_1.m3u8"
				if !strings.Contains(body, variant+"\n") || strings.Contains(body, f.origins["eu-west-1"]) {
					t.Fatalf("master lacks the closed region's variants on its distribution, or names its origin:\n%s", body)
				}
				// A player on the merged master: 404 from the copilot while closed (it switches to
				// us-east-1), the same URI plays again once the region reopens.
				if got := status(t, variant); got != http.StatusNotFound {
					t.Fatalf("closed region's variant answered %d, want 404", got)
				}
				if _, err := f.store.Open(ctx, cluster, west, state.Change{By: "local:test", Reason: "recovered"}); err != nil {
					t.Fatal(err)
				}
				if got := status(t, variant); got != http.StatusOK {
					t.Fatalf("reopened region's variant answered %d, want 200", got)
				}
			})

			t.Run("absolute URIs on the origin are rewritten to the distribution", func(t *testing.T) {
				f := newFixture(t, endpoint)
				abs := f.origins["us-east-1"] + "/out/v1/us-east-1/"
				m := strings.ReplaceAll(regionMaster(t), "\nindex_", "\n"+abs+"index_")
				m = strings.Replace(m, `URI="index_4.m3u8"`, `URI="`+abs+`index_4.m3u8"`, 1)
				f.masters["us-east-1"].Store(m)
				res, err := regenerators(t, f)[via](ctx, regen.Request{Cluster: cluster})
				if err != nil {
					t.Fatal(err)
				}
				body, _ := f.object(t, "eu-west-1")
				dist := f.dists["us-east-1"] + "/out/v1/us-east-1/"
				if strings.Contains(body, f.origins["us-east-1"]) || strings.Count(body, dist+"index_") != 4 || !strings.Contains(body, `URI="`+dist+`index_4.m3u8"`) {
					t.Fatalf("origin URIs not rewritten to the distribution:\n%s", body)
				}
				if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "us-east-1 line 5: 4 absolute URIs point at the origin") {
					t.Fatalf("warnings %q, want one saying us-east-1's 4 origin URIs were rewritten", res.Warnings)
				}
			})

			t.Run("an origin redirect is followed on the distribution's path", func(t *testing.T) {
				f := newFixture(t, endpoint)
				f.moved["us-east-1"].Store(true)
				res, err := regenerators(t, f)[via](ctx, regen.Request{Cluster: cluster})
				if err != nil {
					t.Fatal(err)
				}
				body, _ := f.object(t, "us-east-1")
				variant := f.dists["us-east-1"] + "/out/v1/us-east-1/v2/index_1.m3u8"
				if !strings.Contains(body, variant+"\n") || len(res.Warnings) != 0 {
					t.Fatalf("variants not resolved against the redirected master on the distribution (warnings %q):\n%s", res.Warnings, body)
				}
				if got := status(t, variant); got != http.StatusOK {
					t.Fatalf("%s answered %d, want 200", variant, got)
				}
			})

			t.Run("a region serving no master is named", func(t *testing.T) {
				f := newFixture(t, endpoint)
				f.masters["us-east-1"].Store("<html>maintenance</html>")
				_, err := regenerators(t, f)[via](ctx, regen.Request{Cluster: cluster})
				var me *regen.Error
				if !errors.As(err, &me) || me.Kind != regen.KindSource || !strings.Contains(err.Error(), "source us-east-1") {
					t.Fatalf("err = %v, want a source error naming us-east-1", err)
				}
				if east, _ := f.object(t, "us-east-1"); east != "" {
					t.Fatal("a master was written")
				}
			})

			t.Run("content steering", func(t *testing.T) {
				f := newFixture(t, endpoint)
				steer := "https://d111111abcdef8.cloudfront.net/steering/live-1.json"
				if _, err := regenerators(t, f)[via](ctx, regen.Request{Cluster: cluster, SteeringURI: steer}); err != nil {
					t.Fatal(err)
				}
				body, _ := f.object(t, "eu-west-1")
				if !strings.Contains(body, `#EXT-X-CONTENT-STEERING:SERVER-URI="`+steer+`",PATHWAY-ID="eu-west-1"`) ||
					strings.Count(body, `PATHWAY-ID="us-east-1"`) != 4 {
					t.Fatalf("no steering or pathways:\n%s", body)
				}
			})

			t.Run("refusals", func(t *testing.T) {
				f := newFixture(t, endpoint)
				run := regenerators(t, f)[via]
				for _, tc := range []struct {
					req  regen.Request
					kind regen.ErrorKind
				}{
					{regen.Request{Cluster: "no-such-cluster"}, regen.KindNotFound},
					{regen.Request{Cluster: "../etc"}, regen.KindInvalid},
					{regen.Request{Cluster: cluster, SteeringURI: "ftp://x/steer.json"}, regen.KindInvalid},
				} {
					_, err := run(ctx, tc.req)
					var me *regen.Error
					if !errors.As(err, &me) || me.Kind != tc.kind {
						t.Errorf("%+v: err = %v, want kind %s", tc.req, err, tc.kind)
					}
					if tc.kind == regen.KindNotFound && !errors.Is(err, state.ErrNotFound) {
						t.Errorf("%+v: err does not match state.ErrNotFound", tc.req)
					}
				}
				if east, _ := f.object(t, "us-east-1"); east != "" {
					t.Fatal("a refused request wrote a master")
				}
			})
		})
	}
}

func TestSampleRequestsAreDirectInvocations(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		want bool
	}{
		{"API request", "merge-cluster.json", true},
		{"API request with steering", "merge-cluster-steering.json", true},
		{"encoder upload", "merge-encoder-primary.json", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			env, err := lambdaevent.Classify(b)
			if got := err == nil && env.Kind == lambdaevent.Direct; got != tc.want {
				t.Fatalf("Classify = %+v, %v; direct invocation %v, want %v", env, err, got, tc.want)
			}
		})
	}
}

func TestParseTargets(t *testing.T) {
	var regions []string
	client := func(region string) blob.Store {
		regions = append(regions, region)
		return locals3.New(locals3.Config{Region: region})
	}
	got, err := mastermerge.ParseTargets("cvs-master-1-us-east-1.s3.us-east-1.amazonaws.com, ,cvs-master-1-eu-west-1.s3.eu-west-1.amazonaws.com,", client)
	if err != nil || len(got) != 2 || got[1].Bucket != "cvs-master-1-eu-west-1" || got[1].Region != "eu-west-1" || strings.Join(regions, ",") != "us-east-1,eu-west-1" {
		t.Fatalf("ParseTargets = %+v, %v (clients for %v)", got, err, regions)
	}
	for _, bad := range []string{"", ",", "cvs-master.s3.amazonaws.com", "https://x.s3.eu-west-1.amazonaws.com/", "bucket"} {
		if _, err := mastermerge.ParseTargets(bad, client); err == nil {
			t.Errorf("ParseTargets(%q) accepted it", bad)
		}
	}
}
