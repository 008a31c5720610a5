package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/edgesync"
	"github.com/clustered-video-streams/cvs/internal/encoderpair"
	"github.com/clustered-video-streams/cvs/internal/local/kvsfake"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/sweeper"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// invokeWorld is one function's local stack: its state table on DynamoDB Local, moto_server
// for every other service, and what its setup created there.
type invokeWorld struct {
	ctx   context.Context
	moto  string
	db    *testenv.DynamoDBLocal
	table string
	store *dynamo.Store
	stack *localStack
	vals  map[string]string // resources the setup created (queue URLs, ARNs)
	// origin answers the function's playlist requests, when it has one (the event's origin
	// host is pointed at it); an event's before may replace it.
	origin    http.HandlerFunc
	originURL string
	// env is added to the function's environment (endpoints of the test's stand-ins).
	env map[string]string
	// logs is the function's output; logMark is where the current invocation's begins.
	logs    *syncBuffer
	logMark int
	// kvs is the edge KeyValueStore (the edge sync's), when the function has one.
	kvs *kvsfake.Server
	// cfnResponses gets what a custom resource PUTs to its response URL.
	cfnResponses chan string
}

// localOverrides are the only edits made to sample events before they are invoked: what
// points a sample at this machine instead of AWS. (Origin hosts are pointed at the test's
// origin server for every event, see originHost.)
var localOverrides = map[string]func(w *invokeWorld, payload string) string{
	// CloudFormation's pre-signed response URL is the test's server; the table is the test's.
	"tablestream-create.json": func(w *invokeWorld, payload string) string {
		payload = strings.Replace(payload, "http://127.0.0.1:9/cloudformation-response", w.vals["response_url"], 1)
		return strings.Replace(payload, `"TableName": "cvs-state"`, `"TableName": "`+w.table+`"`, 1)
	},
	// Each function has its own encoder bucket on the shared moto_server.
	"merge-encoder-primary.json":  encoderBucket,
	"merge-encoder-failover.json": encoderBucket,
	// The sweeper's uploads and checks name the version moto gave the object (and its ETag and
	// Last-Modified: a check for another version is "replaced since").
	"sweeper-upload.json":  sweeperObject,
	"sweeper-check.json":   sweeperObject,
	"sweeper-recheck.json": sweeperObject,
}

// localEnvOverrides are the only changes made to the environment template.yaml gives a
// function (beyond endpoints): what keeps a run short enough for a test.
var localEnvOverrides = map[string]map[string]string{
	// One 62 s run per minute in Lambda; 3 s here is enough for a live origin's first publish.
	"DetectorFunction": {"RUN_FOR": "3s"},
}

func encoderBucket(w *invokeWorld, payload string) string {
	return strings.ReplaceAll(payload, "cvs-encoder-example", w.vals["encoder_bucket"])
}

func sweeperObject(w *invokeWorld, payload string) string {
	return strings.NewReplacer("cvs-encoder-example", w.vals["encoder_bucket"], "UIORUnfndfhnw89493jJFJ.BCdN9Kzv", w.vals["version_id"],
		"e2fc714c4727ee9395f324cd2e7f331f", w.vals["etag"], "2026-11-21T10:00:06Z", w.vals["last_modified"]).Replace(payload)
}

type invokeEvent struct {
	file   string
	before func(t *testing.T, w *invokeWorld)
	check  func(t *testing.T, w *invokeWorld, res runtimeResult)
}

type invokeCase struct {
	function, dir string // template.yaml's logical ID, functions/<dir>
	setup         func(t *testing.T, w *invokeWorld)
	events        []invokeEvent
}

const (
	invD1 = "d111111abcdef8.cloudfront.net"
	invD2 = "d222222abcdef8.cloudfront.net"
)

// invokeCases is every invocation the README's "Local invoke" table lists.
var invokeCases = []invokeCase{
	{function: "CloseFunction", dir: "close",
		setup: func(t *testing.T, w *invokeWorld) {
			testenv.FreshInstances(t, w.store, "news-channel", "eu-west-1", invD1, invD2)
		},
		events: []invokeEvent{{file: "close-confirmed.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
			if out := decodeJSON[contract.CloseOutput](t, res); !out.Closed || !out.Changed {
				t.Errorf("output %s, want closed by this invocation", res.Body)
			}
			w.wantOpen(t, "news-channel", invD1, false, ":execution:cvs-failover:")
		}}},
	},
	{function: "ReopenFunction", dir: "reopen",
		setup: func(t *testing.T, w *invokeWorld) {
			testenv.FreshInstances(t, w.store, "news-channel", "eu-west-1", invD1, invD2)
			by := "arn:aws:states:eu-west-1:123456789012:execution:cvs-failover:" +
				contract.ExecutionName(contract.DetectorEvent{Cluster: "news-channel", Domain: invD1, Sequence: 42})
			if _, err := w.store.Close(w.ctx, "news-channel", invD1, state.Change{By: by, Reason: "event #42 confirmed"}); err != nil {
				t.Fatal(err)
			}
		},
		events: []invokeEvent{{file: "reopen-fresh.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
			if out := decodeJSON[contract.ReopenOutput](t, res); !out.Opened || !out.Changed {
				t.Errorf("output %s, want opened by this invocation", res.Body)
			}
			w.wantOpen(t, "news-channel", invD1, true, ":execution:cvs-failback:")
		}}},
	},
	{function: "TriggerFunction", dir: "trigger",
		setup: func(t *testing.T, w *invokeWorld) {
			c := sfn.NewFromConfig(motoclient.Config(w.moto))
			def := `{"StartAt":"Wait","States":{"Wait":{"Type":"Pass","End":true}}}`
			for _, m := range []string{"FailoverStateMachine", "FailbackStateMachine"} {
				sm, err := c.CreateStateMachine(w.ctx, &sfn.CreateStateMachineInput{Name: aws.String("invoke-" + m), Definition: aws.String(def),
					RoleArn: aws.String("arn:aws:iam::123456789012:role/cvs")})
				if err != nil {
					t.Fatal(err)
				}
				w.stack.refs[m] = aws.ToString(sm.StateMachineArn)
			}
			w.stack.refs["TriggerDeadLetterQueue"] = w.queue(t, "invoke-trigger-dead-letters")
		},
		events: []invokeEvent{
			{file: "trigger-stale.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				w.wantExecutions(t, "FailoverStateMachine", "news-channel_d111111abcdef8-cloudfront-net_42_")
			}},
			{file: "trigger-unreachable.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				w.wantExecutions(t, "FailoverStateMachine", "news-channel_d111111abcdef8-cloudfront-net_42_", "news-channel_d111111abcdef8-cloudfront-net_44_")
			}},
			{file: "trigger-fresh.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				// EnableFailback is false by default: a fresh event starts nothing.
				w.wantExecutions(t, "FailbackStateMachine")
				w.wantExecutions(t, "FailoverStateMachine", "news-channel_d111111abcdef8-cloudfront-net_42_", "news-channel_d111111abcdef8-cloudfront-net_44_")
			}},
			{file: "trigger-malformed.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				if n := w.messages(t, w.stack.refs["TriggerDeadLetterQueue"]); n != 1 {
					t.Errorf("%d messages in the dead-letter queue, want the malformed event", n)
				}
			}},
		},
	},
	{function: "ApiFunction", dir: "api",
		setup: func(t *testing.T, w *invokeWorld) {
			// POST /clusters/{cluster}/master invokes the merge function: Lambda's Invoke API is a
			// stand-in that hands the call to a merge process under its own Runtime API.
			w.stack.refs["MergeFunction"] = "cvs-merge"
			w.mergeResources(t, "invoke-api")
			env, timeout := w.stack.function(t, "MergeFunction")
			merge := startFunction(t, "merge", w.localEnv(env), timeout)
			w.env["AWS_ENDPOINT_URL_LAMBDA"] = w.lambdaInvoke(t, map[string]*lambdaProcess{"cvs-merge": merge})
		},
		events: []invokeEvent{
			{file: "api-register.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantHTTP(t, res, 200, `"domain":"`+invD1+`"`)
				if _, err := w.store.Instance(w.ctx, "live-1", invD1); err != nil {
					t.Errorf("instance not in the table: %v", err)
				}
			}},
			{file: "api-register-domain-taken.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantHTTP(t, res, 409, `"code":"domain_taken"`)
			}},
			{file: "api-get-cluster.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantHTTP(t, res, 200, invD1)
			}},
			{file: "api-list-clusters.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantHTTP(t, res, 200, `"cluster":"live-1"`)
			}},
			{file: "api-close-force.json",
				before: func(t *testing.T, w *invokeWorld) {
					// A second fresh instance, so the guard lets the first one close; d1 recorded fresh
					// is at version 2, the If-Match of api-close-force.json.
					w.freshAtOrigin(t, "live-1", "eu-west-1", invD2)
					if _, err := w.store.RecordHealth(w.ctx, "live-1", invD1, state.HealthFresh, state.Change{By: "local:detector"}); err != nil {
						t.Fatal(err)
					}
				},
				check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
					wantHTTP(t, res, 200, `"distro_open":false`)
					w.wantOpen(t, "live-1", invD1, false, "assumed-role/")
				}},
			{file: "api-open-force.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantHTTP(t, res, 200, `"distro_open":true`)
				w.wantOpen(t, "live-1", invD1, true, "assumed-role/")
			}},
			{file: "api-close.json",
				check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
					wantHTTP(t, res, 200, `"changed_by":"arn:aws:sts::123456789012:assumed-role/`)
					w.wantOpen(t, "live-1", invD1, false, "assumed-role/")
				}},
			{file: "api-open.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantHTTP(t, res, 200, `"distro_open":true`)
				w.wantOpen(t, "live-1", invD1, true, "assumed-role/")
			}},
			{file: "api-history.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantHTTP(t, res, 200, `"field":"distro_open"`)
			}},
			{file: "api-master.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantHTTP(t, res, 200, `"written":true`)
				// Both regions' variants, each at its distribution (the test's origin server).
				w.wantObject(t, w.vals["master_bucket"], "live-1/index.m3u8", `GROUP-ID="us-east-1/aac"`)
				w.wantObject(t, w.vals["master_bucket"], "live-1/index.m3u8", `GROUP-ID="eu-west-1/aac"`)
			}},
		},
	},
	{function: "ConfirmFunction", dir: "confirm",
		setup: func(t *testing.T, w *invokeWorld) {
			// Every playlist still at the events' live edge (seg18238.ts) long after it changed.
			w.origin = func(rw http.ResponseWriter, r *http.Request) {
				fmt.Fprint(rw, "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:18234\n#EXTINF:6,\nseg18237.ts\n#EXTINF:6,\nseg18238.ts\n")
			}
		},
		events: []invokeEvent{
			{file: "confirm-stale.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				w.wantConfirm(t, res, true, state.HealthStale, "no progress")
			}},
			{file: "confirm-unreachable.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				// It answers again, still at the live edge: still failing.
				w.wantConfirm(t, res, true, state.HealthStale, "no progress")
			}},
			{file: "confirm-stale-no-live-edge.json",
				before: func(t *testing.T, w *invokeWorld) {
					w.origin = func(rw http.ResponseWriter, r *http.Request) { http.NotFound(rw, r) }
				},
				check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
					w.wantConfirm(t, res, true, state.HealthStale, "HTTP status 404")
				}},
			{file: "confirm-fresh.json",
				before: func(t *testing.T, w *invokeWorld) {
					// Past the event's live edge (seg18284.ts): fresh, and the table has recorded
					// nothing stale since.
					testenv.FreshInstances(t, w.store, "news-channel", "eu-west-1", invD1, invD2)
					w.origin = func(rw http.ResponseWriter, r *http.Request) {
						fmt.Fprint(rw, "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:18283\n#EXTINF:6,\nseg18283.ts\n#EXTINF:6,\nseg18284.ts\n#EXTINF:6,\nseg18285.ts\n")
					}
				},
				check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
					w.wantConfirm(t, res, true, state.HealthFresh, "new segment at the live edge")
				}},
		},
	},
	{function: "MergeFunction", dir: "merge",
		setup: func(t *testing.T, w *invokeWorld) {
			w.mergeResources(t, "invoke-merge")
			c := motoclient.S3(w.moto)
			master := readFile(t, "internal/encoderpair/testdata/master.m3u8")
			motoclient.Put(t, c, w.vals["encoder_bucket"], "primary/index.m3u8", master)
			motoclient.Put(t, c, w.vals["encoder_bucket"], "failover/index.m3u8", master)
			if _, err := w.store.Register(w.ctx, state.Registration{Cluster: "live-1", Domain: invD1, Region: "us-east-1",
				DistributionPlaylistURL: w.originURL + "/live-1/index.m3u8", OriginPlaylistURL: w.originURL + "/origin.m3u8"}, state.Change{By: "local:test", Reason: "test"}); err != nil {
				t.Fatal(err)
			}
		},
		events: []invokeEvent{
			{file: "merge-encoder-primary.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				if o := decodeJSON[encoderpair.Outcome](t, res); !o.Written || o.Variants != 6 || o.VariantGroups != 3 {
					t.Errorf("outcome %s, want 6 variants in 3 redundant groups written", res.Body)
				}
				w.wantObject(t, w.vals["encoder_bucket"], "index.m3u8", "#EXT-X-STREAM-INF")
			}},
			{file: "merge-encoder-failover.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				// The same pair again: the merged master is already what it would write.
				if o := decodeJSON[encoderpair.Outcome](t, res); o.Written || o.Reason != "unchanged" {
					t.Errorf("outcome %s, want the unchanged master left alone", res.Body)
				}
			}},
			{file: "merge-cluster.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				if r := decodeJSON[regen.Result](t, res); !r.Written || r.ErrorKind != "" || r.Key != "live-1/index.m3u8" || r.InvalidationID == "" {
					t.Errorf("result %s, want the master written and invalidated", res.Body)
				}
				// The region's variants, at its distribution (the test's origin server).
				w.wantObject(t, w.vals["master_bucket"], "live-1/index.m3u8", `GROUP-ID="us-east-1/aac"`)
				w.wantObject(t, w.vals["master_bucket"], "live-1/index.m3u8", w.originURL+"/live-1/")
			}},
			{file: "merge-cluster-steering.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				if r := decodeJSON[regen.Result](t, res); !r.Written || r.ErrorKind != "" {
					t.Errorf("result %s, want the master written", res.Body)
				}
				w.wantObject(t, w.vals["master_bucket"], "live-1/index.m3u8", `#EXT-X-CONTENT-STEERING:SERVER-URI="https://d111111abcdef8.cloudfront.net/steering/live-1.json"`)
			}},
		},
	},
	{function: "SweeperFunction", dir: "sweeper",
		setup: func(t *testing.T, w *invokeWorld) {
			w.vals["encoder_bucket"] = "invoke-sweeper-encoder"
			motoclient.Bucket(t, motoclient.S3(w.moto), w.vals["encoder_bucket"], true)
			w.stack.refs["EncoderBucket"] = w.vals["encoder_bucket"]
			w.stack.refs["SweeperCheckQueue"] = w.queue(t, "invoke-sweeper-checks")
			w.vals["version_id"], w.vals["etag"], w.vals["last_modified"] = w.putPlaylist(t, "primary/index_1.m3u8", 1)
		},
		events: []invokeEvent{
			{file: "sweeper-upload.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				if ds := decodeJSON[[]sweeper.Decision](t, res); len(ds) != 1 || ds[0].Action != sweeper.Scheduled {
					t.Errorf("decisions %s, want the check scheduled", res.Body)
				}
				if n := w.messages(t, w.stack.refs["SweeperCheckQueue"]); n != 1 {
					t.Errorf("%d messages in the check queue, want the delayed check", n)
				}
			}},
			{file: "sweeper-sweep.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				// The backstop leaves what is younger than SWEEP_MIN_AGE to its check.
				if out := decodeJSON[map[string]any](t, res); out["examined"] != 0.0 {
					t.Errorf("output %s, want nothing examined", res.Body)
				}
				w.wantObject(t, w.vals["encoder_bucket"], "primary/index_1.m3u8", "s1.ts")
			}},
			{file: "sweeper-recheck.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				// Past its (sample) deadline, but no other prefix has a copy: the last live copy stays.
				wantNoBatchFailures(t, res)
				w.wantLog(t, `"msg":"sweeper: kept"`)
				w.wantObject(t, w.vals["encoder_bucket"], "primary/index_1.m3u8", "s1.ts")
			}},
			{file: "sweeper-check.json",
				before: func(t *testing.T, w *invokeWorld) {
					w.putPlaylist(t, "failover/index_1.m3u8", 5) // the other encoder, ahead
				},
				check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
					wantNoBatchFailures(t, res)
					w.wantLog(t, `"msg":"sweeper: deleted stale playlist"`)
					if _, err := motoclient.S3(w.moto).HeadObject(w.ctx, &s3.HeadObjectInput{Bucket: aws.String(w.vals["encoder_bucket"]), Key: aws.String("primary/index_1.m3u8")}); err == nil {
						t.Error("primary/index_1.m3u8 is still there")
					}
				}},
		},
	},
	{function: "DetectorFunction", dir: "detector",
		setup: func(t *testing.T, w *invokeWorld) {
			// A live origin (a segment every 2 s); the detector's topic, read through a queue.
			w.origin = detectortest.NewOrigin(2*time.Second, 6, detectortest.StandardVariants()...).ServeHTTP
			w.stack.refs["DetectorTopic"], w.vals["trigger_queue"] = w.topicWithQueue(t, "invoke-detector")
			if _, err := w.store.Register(w.ctx, state.Registration{Cluster: "news", Domain: invD1, Region: "us-east-1",
				DistributionPlaylistURL: "https://" + invD1 + "/master.m3u8", OriginPlaylistURL: w.originURL + "/master.m3u8"},
				state.Change{By: "local:test"}); err != nil {
				t.Fatal(err)
			}
		},
		events: []invokeEvent{
			{file: "detector-not-scheduled.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				if res.Kind != "error" || !strings.Contains(string(res.Body), `source \"aws.s3\"`) {
					t.Errorf("function posted %s %s, want an error naming aws.s3", res.Kind, res.Body)
				}
				if n := w.messages(t, w.vals["trigger_queue"]); n != 0 {
					t.Errorf("%d messages published, want none", n)
				}
				if data, _, err := w.store.LoadDetector(w.ctx, "news", invD1); err != nil || len(data) != 0 {
					t.Errorf("detector memory %s, %v: want nothing saved", data, err)
				}
			}},
			{file: "detector-scheduled.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				if sum := decodeJSON[detector.Summary](t, res); sum.Watched != 1 || sum.Published != 1 || sum.Errors != 0 || sum.Health["news/"+invD1] != state.HealthFresh {
					t.Errorf("summary %s, want news/%s watched, fresh, one event published", res.Body, invD1)
				}
				if n := w.messages(t, w.vals["trigger_queue"]); n != 1 {
					t.Errorf("%d messages published, want the fresh event", n)
				}
				in, err := w.store.Instance(w.ctx, "news", invD1)
				if err != nil || in.Health != state.HealthFresh || in.ChangedBy != "arn:aws:lambda:us-east-1:123456789012:function:cvs-detector" {
					t.Errorf("instance %+v, %v: want health fresh, recorded by the function", in, err)
				}
			}},
		},
	},
	{function: "EdgeSyncFunction", dir: "edgesync",
		setup: func(t *testing.T, w *invokeWorld) {
			w.kvs = kvsfake.New()
			t.Cleanup(w.kvs.Close)
			w.stack.refs["EdgeKeyValueStore.Arn"] = kvsfake.ARN
			// The SDK addresses <account>.<endpoint host>, which no resolver here knows: the
			// function's HTTP proxy is the KeyValueStore stand-in (loopback endpoints, DynamoDB
			// Local's, are never proxied).
			w.env["AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE"], w.env["HTTP_PROXY"] = "http://cloudfront-kvs.invalid", w.kvs.URL
			testenv.FreshInstances(t, w.store, "news", "us-east-1", invD1)
		},
		events: []invokeEvent{
			{file: "edgesync-audit.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantNoBatchFailures(t, res)
				w.wantKVSUntouched(t)
			}},
			{file: "edgesync-detector-save.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantNoBatchFailures(t, res)
				w.wantKVSUntouched(t)
			}},
			{file: "edgesync-insert.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				wantNoBatchFailures(t, res)
				w.wantKVSMirrors(t, "news")
			}},
			{file: "edgesync-modify-close.json",
				before: func(t *testing.T, w *invokeWorld) {
					testenv.FreshInstances(t, w.store, "news", "eu-west-1", invD2)
					if _, err := w.store.Close(w.ctx, "news", invD1, state.Change{By: "local:workflow", Reason: "confirmed stale"}); err != nil {
						t.Fatal(err)
					}
				},
				check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
					wantNoBatchFailures(t, res)
					w.wantKVSMirrors(t, "news") // d1 closed, d2 open
				}},
			{file: "edgesync-malformed.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
				// The record without a cluster fails alone.
				if out := decodeJSON[events.DynamoDBEventResponse](t, res); len(out.BatchItemFailures) != 1 || out.BatchItemFailures[0].ItemIdentifier != "100000000000000000009" {
					t.Errorf("output %s, want record 100000000000000000009 failed", res.Body)
				}
				w.wantKVSMirrors(t, "news")
			}},
			{file: "edgesync-reconcile.json",
				before: func(t *testing.T, w *invokeWorld) { w.kvs.Delete(invD1) }, // drift: a key deleted by hand
				check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
					if rep := decodeJSON[edgesync.Report](t, res); rep.Clusters != 1 || rep.KeysRepaired != 1 {
						t.Errorf("report %s, want 1 cluster and 1 key repaired", res.Body)
					}
					w.wantKVSMirrors(t, "news")
				}},
		},
	},
	{function: "TableStreamFunction", dir: "tablestream",
		setup: func(t *testing.T, w *invokeWorld) {
			w.vals["response_url"] = w.cloudFormation(t)
		},
		events: []invokeEvent{{file: "tablestream-create.json", check: func(t *testing.T, w *invokeWorld, res runtimeResult) {
			desc, err := w.db.Client("us-east-1").DescribeTable(w.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(w.table)})
			if err != nil {
				t.Fatal(err)
			}
			arn := aws.ToString(desc.Table.LatestStreamArn)
			var body string
			select {
			case body = <-w.cfnResponses:
			default:
				t.Fatalf("output %s %s, and nothing PUT to the response URL", res.Kind, res.Body)
			}
			var got cfn.Response
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("PUT to the response URL %q: %v", body, err)
			}
			if got.Status != cfn.StatusSuccess || got.PhysicalResourceID != arn || got.Data["StreamArn"] != arn ||
				got.LogicalResourceID != "LocalStateStream" || got.RequestID != "6e1c5f3a-2b9d-4c47-a0e8-1d2f3a4b5c6d" {
				t.Errorf("CloudFormation got %s, want SUCCESS with the stream %s", body, arn)
			}
		}}},
	},
}

// pendingEvents are sample events TestLocalInvoke does not invoke yet: none. A new sample goes
// into invokeCases (and the README's table), not here.
var pendingEvents []string

// TestLocalInvoke runs every function's bootstrap under the test's Runtime API with its sample
// events, side by side, one process per function (kept warm across its events, as Lambda does).
func TestLocalInvoke(t *testing.T) {
	testenv.Short(t, "sam local invoke of every function")
	d := testenv.DynamoDB(t)
	moto := testenv.Moto(t, "the local invoke test")
	tm := readTemplate(t)
	bootstraps(t)
	for _, fc := range invokeCases {
		t.Run(fc.function, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			table, store := d.StateStore(t)
			w := &invokeWorld{ctx: ctx, moto: moto, db: d, table: table, store: store, vals: map[string]string{}, env: map[string]string{}, stack: &localStack{tm: tm,
				params:     map[string]string{"ControlRegion": "us-east-1", "StateTableName": table},
				refs:       map[string]string{},
				conditions: map[string]bool{"CreateEdge": true, "CreateMasterDistribution": true}}}
			// The origin server calls whatever w.origin is when a request comes (an event's before
			// may change it).
			origin := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if w.origin == nil {
					http.Error(rw, "this function's case has no origin", http.StatusNotImplemented)
					return
				}
				w.origin(rw, r)
			}))
			t.Cleanup(origin.Close)
			w.originURL = origin.URL
			if fc.setup != nil {
				fc.setup(t, w)
			}
			env, timeout := w.stack.function(t, fc.function)
			for k, v := range localEnvOverrides[fc.function] {
				if _, ok := env[k]; !ok {
					t.Fatalf("template.yaml gives %s no %s to override", fc.function, k)
				}
				env[k] = v
			}
			p := startFunction(t, fc.dir, w.localEnv(env), timeout)
			w.logs = p.logs
			for _, ev := range fc.events {
				t.Run(ev.file, func(t *testing.T) {
					if ev.before != nil {
						ev.before(t, w)
					}
					payload := originHost.ReplaceAllString(string(testenv.SampleEvent(t, ev.file)), origin.URL)
					if edit := localOverrides[ev.file]; edit != nil {
						payload = edit(w, payload)
					}
					w.logMark = w.logs.size()
					res := p.invoke(t, []byte(payload))
					if res.Kind == "init-error" {
						t.Fatalf("%s could not start: %s", fc.function, res.Body)
					}
					ev.check(t, w, res)
				})
			}
		})
	}
}

// wantOpen checks an instance's open flag and who changed it last.
func (w *invokeWorld) wantOpen(t *testing.T, cluster, domain string, open bool, by string) {
	t.Helper()
	in, err := w.store.Instance(w.ctx, cluster, domain)
	if err != nil {
		t.Fatal(err)
	}
	if in.Open != open || !strings.Contains(in.ChangedBy, by) {
		t.Errorf("%s/%s open=%v changed_by=%s, want open=%v by %s", cluster, domain, in.Open, in.ChangedBy, open, by)
	}
}

// wantExecutions checks the names (by prefix, in any order) of the executions of a machine.
func (w *invokeWorld) wantExecutions(t *testing.T, machine string, prefixes ...string) {
	t.Helper()
	list, err := sfn.NewFromConfig(motoclient.Config(w.moto)).ListExecutions(w.ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(w.stack.refs[machine])})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list.Executions {
		names = append(names, aws.ToString(e.Name))
	}
	matched := 0
	for _, p := range prefixes {
		for _, n := range names {
			if strings.HasPrefix(n, p) {
				matched++
				break
			}
		}
	}
	if len(names) != len(prefixes) || matched != len(prefixes) {
		t.Errorf("%s executions %v, want one for each of %v", machine, names, prefixes)
	}
}

// queue creates an SQS queue on moto and returns its URL.
func (w *invokeWorld) queue(t *testing.T, name string) string {
	t.Helper()
	q, err := sqs.NewFromConfig(motoclient.Config(w.moto)).CreateQueue(w.ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl)
}

// messages counts the messages in a queue, delayed ones included.
func (w *invokeWorld) messages(t *testing.T, url string) int {
	t.Helper()
	a, err := sqs.NewFromConfig(motoclient.Config(w.moto)).GetQueueAttributes(w.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, v := range a.Attributes {
		var k int
		fmt.Sscan(v, &k)
		n += k
	}
	return n
}

// wantHTTP checks an API Gateway (payload 2.0) response's status and body.
func wantHTTP(t *testing.T, res runtimeResult, status int, inBody string) {
	t.Helper()
	r := decodeJSON[struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}](t, res)
	if r.StatusCode != status || !strings.Contains(r.Body, inBody) {
		t.Errorf("HTTP %d %s, want %d with %s", r.StatusCode, r.Body, status, inBody)
	}
}

// wantConfirm checks the Confirm task's output.
func (w *invokeWorld) wantConfirm(t *testing.T, res runtimeResult, confirmed bool, health state.Health, inReason string) {
	t.Helper()
	out := decodeJSON[contract.ConfirmOutput](t, res)
	if out.Confirmed != confirmed || out.Health != health || !strings.Contains(out.Reason, inReason) {
		t.Errorf("output %s, want confirmed=%v health=%s with %q", res.Body, confirmed, health, inReason)
	}
}

// cloudFormation serves a custom resource's pre-signed response URL: what is PUT there goes to
// w.cfnResponses.
func (w *invokeWorld) cloudFormation(t *testing.T) string {
	t.Helper()
	w.cfnResponses = make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if r.Method != http.MethodPut || err != nil {
			http.Error(rw, "want a PUT", http.StatusMethodNotAllowed)
			return
		}
		select {
		case w.cfnResponses <- string(body):
		default:
			t.Errorf("more PUTs to the response URL than expected: %s", body)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/cloudformation-response?X-Amz-Signature=local"
}

// wantNoBatchFailures checks an SQS batch response that retries nothing.
func wantNoBatchFailures(t *testing.T, res runtimeResult) {
	t.Helper()
	if out := decodeJSON[map[string][]any](t, res); len(out["batchItemFailures"]) != 0 {
		t.Errorf("output %s, want no batch item failures", res.Body)
	}
}

// wantLog waits (up to 5 s: the process's output reaches the test through a pipe) for text in
// what the function logged since the current invocation began.
func (w *invokeWorld) wantLog(t *testing.T, text string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		logs := w.logs.since(w.logMark)
		if strings.Contains(logs, text) {
			return
		}
		if time.Now().After(end) {
			t.Errorf("the function did not log %s; it logged:\n%s", text, logs)
			return
		}
	}
}

// putPlaylist uploads a live media playlist of segments s<seq>.ts.. to the sweeper's bucket and
// returns its version ID, ETag and Last-Modified (RFC 3339) as moto gave them.
func (w *invokeWorld) putPlaylist(t *testing.T, key string, seq int) (version, etag, lastModified string) {
	t.Helper()
	body := fmt.Sprintf("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXTINF:6.0,\ns%d.ts\n", seq, seq)
	c := motoclient.S3(w.moto)
	motoclient.Put(t, c, w.vals["encoder_bucket"], key, []byte(body))
	h, err := c.HeadObject(w.ctx, &s3.HeadObjectInput{Bucket: aws.String(w.vals["encoder_bucket"]), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(h.VersionId), strings.Trim(aws.ToString(h.ETag), `"`), aws.ToTime(h.LastModified).UTC().Format(time.RFC3339)
}

// wantObject checks that an object is in a moto bucket and holds text.
func (w *invokeWorld) wantObject(t *testing.T, bucket, key, text string) {
	t.Helper()
	out, err := motoclient.S3(w.moto).GetObject(w.ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Errorf("s3://%s/%s: %v", bucket, key, err)
		return
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	if !strings.Contains(string(b), text) {
		t.Errorf("s3://%s/%s is\n%s\nwant %q in it", bucket, key, b, text)
	}
}

// distribution creates a CloudFront distribution on moto (the master distribution the merge
// function invalidates) and returns its ID.
func (w *invokeWorld) distribution(t *testing.T, bucket string) string {
	t.Helper()
	out, err := cloudfront.NewFromConfig(motoclient.Config(w.moto)).CreateDistribution(w.ctx, &cloudfront.CreateDistributionInput{DistributionConfig: &cftypes.DistributionConfig{
		CallerReference: aws.String(bucket), Comment: aws.String("master"), Enabled: aws.Bool(true),
		Origins: &cftypes.Origins{Quantity: aws.Int32(1), Items: []cftypes.Origin{{Id: aws.String("master"), DomainName: aws.String(bucket + ".s3.us-east-1.amazonaws.com"),
			S3OriginConfig: &cftypes.S3OriginConfig{OriginAccessIdentity: aws.String("")}}}},
		DefaultCacheBehavior: &cftypes.DefaultCacheBehavior{TargetOriginId: aws.String("master"), ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyRedirectToHttps},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Distribution.Id)
}

// readFile reads a file of the repository.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantKVSUntouched checks that nothing was written to the KeyValueStore.
func (w *invokeWorld) wantKVSUntouched(t *testing.T) {
	t.Helper()
	if n := len(w.kvs.Items()); n != 0 || w.kvs.Updates() != 0 || len(w.kvs.Violations()) != 0 {
		t.Errorf("%d keys after %d updates (refused: %v), want nothing written", n, w.kvs.Updates(), w.kvs.Violations())
	}
}

// wantKVSMirrors checks that the KeyValueStore holds exactly the cluster's entries as the state
// table has it, with the template's STEERING_TTL_SECONDS.
func (w *invokeWorld) wantKVSMirrors(t *testing.T, cluster string) {
	t.Helper()
	instances, err := w.store.Instances(w.ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	ttl, _ := w.stack.function(t, "EdgeSyncFunction")
	n, err := strconv.Atoi(ttl["STEERING_TTL_SECONDS"])
	if err != nil {
		t.Fatal(err)
	}
	want, err := edgestate.Entries(cluster, instances, n)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, w.kvs.Items()); diff != "" {
		t.Errorf("key value store (-want +got):\n%s", diff)
	}
	if v := w.kvs.Violations(); len(v) > 0 {
		t.Errorf("requests the service would refuse: %v", v)
	}
}

// localEnv adds to a function's environment what sam local invoke's --env-vars would to reach
// the local servers, and the case's own stand-ins (w.env).
func (w *invokeWorld) localEnv(env map[string]string) map[string]string {
	env["AWS_ENDPOINT_URL"], env["AWS_ENDPOINT_URL_DYNAMODB"], env["S3_FORCE_PATH_STYLE"] = w.moto, w.db.Endpoint, "true"
	for k, v := range w.env {
		env[k] = v
	}
	return env
}

// mergeResources creates what the merge function's environment names: the encoder and master
// buckets (<prefix>-encoder, <prefix>-master) and the master distribution on moto; its origin
// (each region's distribution) serves the sample master.
func (w *invokeWorld) mergeResources(t *testing.T, prefix string) {
	t.Helper()
	c := motoclient.S3(w.moto)
	w.vals["encoder_bucket"], w.vals["master_bucket"] = prefix+"-encoder", prefix+"-master"
	motoclient.Bucket(t, c, w.vals["encoder_bucket"], true)
	motoclient.Bucket(t, c, w.vals["master_bucket"], true)
	w.stack.refs["EncoderBucket"] = w.vals["encoder_bucket"]
	w.stack.refs["MasterPlaylistBucket.RegionalDomainName"] = w.vals["master_bucket"] + ".s3.us-east-1.amazonaws.com"
	w.stack.refs["MasterDistribution"] = w.distribution(t, w.vals["master_bucket"])
	master := readFile(t, "internal/encoderpair/testdata/master.m3u8")
	w.origin = func(rw http.ResponseWriter, r *http.Request) { rw.Write(master) }
}

// freshAtOrigin registers an instance whose distribution is the test's origin server and
// records it fresh (testenv.FreshInstances with a reachable playlist URL).
func (w *invokeWorld) freshAtOrigin(t *testing.T, cluster, region, domain string) {
	t.Helper()
	r := state.Registration{Cluster: cluster, Domain: domain, Region: region,
		DistributionPlaylistURL: w.originURL + "/" + region + "/" + cluster + "/index.m3u8", OriginPlaylistURL: w.originURL + "/origin/" + cluster + "/index.m3u8"}
	if _, err := w.store.Register(w.ctx, r, state.Change{By: "local:test", Reason: "test setup"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.RecordHealth(w.ctx, cluster, domain, state.HealthFresh, state.Change{By: "local:detector", Reason: "test setup"}); err != nil {
		t.Fatal(err)
	}
}

// lambdaInvoke serves Lambda's Invoke API (POST /2015-03-31/functions/{name}/invocations,
// RequestResponse) for the named processes and returns its URL.
func (w *invokeWorld) lambdaInvoke(t *testing.T, functions map[string]*lambdaProcess) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
		name, ok2 := strings.CutSuffix(name, "/invocations")
		p := functions[name]
		if !ok || !ok2 || r.Method != http.MethodPost || p == nil {
			rw.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
			http.Error(rw, `{"Type":"User","Message":"Function not found: `+r.URL.Path+`"}`, http.StatusNotFound)
			return
		}
		if it := r.Header.Get("X-Amz-Invocation-Type"); it != "" && it != "RequestResponse" {
			http.Error(rw, `{"Message":"only RequestResponse here"}`, http.StatusBadRequest)
			return
		}
		payload, _ := io.ReadAll(r.Body)
		res, err := p.tryInvoke(payload)
		if err != nil {
			http.Error(rw, `{"Message":"`+err.Error()+`"}`, http.StatusInternalServerError)
			return
		}
		if res.Kind != "response" {
			rw.Header().Set("X-Amz-Function-Error", "Unhandled")
		}
		rw.Header().Set("X-Amz-Executed-Version", "$LATEST")
		rw.Write(res.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// topicWithQueue creates an SNS topic on moto with an SQS queue subscribed to it (raw delivery
// off, as the trigger's queue) and returns the topic's ARN and the queue's URL.
func (w *invokeWorld) topicWithQueue(t *testing.T, name string) (topicARN, queueURL string) {
	t.Helper()
	cfg := motoclient.Config(w.moto)
	topic, err := sns.NewFromConfig(cfg).CreateTopic(w.ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	queueURL = w.queue(t, name)
	qa, err := sqs.NewFromConfig(cfg).GetQueueAttributes(w.ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sns.NewFromConfig(cfg).Subscribe(w.ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(qa.Attributes["QueueArn"])}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(topic.TopicArn), queueURL
}
