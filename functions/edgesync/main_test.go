package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/edge/edgestate"
	"github.com/clustered-video-streams/cvs/internal/edgesync/kvsfake"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// offlineAWS points the SDK's default chain at dummy credentials and DynamoDB Local, so that
// nothing reads the machine's real AWS configuration or reaches AWS.
func offlineAWS(t *testing.T, dynamoEndpoint string) {
	dir := t.TempDir()
	cfg, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfg, []byte("[default]\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKIDLOCALDUMMY\naws_secret_access_key = dummy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_PROFILE": "default",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "",
		"AWS_ENDPOINT_URL_DYNAMODB": dynamoEndpoint,
	} {
		t.Setenv(k, v)
	}
}

func TestBuildRefusesBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"no store", map[string]string{"TABLE_NAME": "t"}, "KVS_ARN and TABLE_NAME"},
		{"no table", map[string]string{"KVS_ARN": kvsfake.ARN}, "KVS_ARN and TABLE_NAME"},
		{"bad TTL", map[string]string{"KVS_ARN": kvsfake.ARN, "TABLE_NAME": "t", "STEERING_TTL_SECONDS": "ten"}, "STEERING_TTL_SECONDS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(context.Background(), func(k string) string { return tc.env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one mentioning %s", err, tc.wantErr)
			}
		})
	}
}

// TestBuiltHandlerMirrorsTheTable wires the function as Lambda would, reading a state table in
// DynamoDB Local and writing the fake KeyValueStore through the real SDK client, and feeds it
// the sample close event.
func TestBuiltHandlerMirrorsTheTable(t *testing.T) {
	d := testenv.DynamoDB(t)
	offlineAWS(t, d.Endpoint)
	table := d.StateTable(t)
	kvs := kvsfake.New()
	defer kvs.Close()
	env := map[string]string{"KVS_ARN": kvsfake.ARN, "TABLE_NAME": table, "STEERING_TTL_SECONDS": "4"}
	h, err := build(context.Background(), func(k string) string { return env[k] }, func(o *cloudfrontkeyvaluestore.Options) {
		o.BaseEndpoint = aws.String(kvs.URL)
		o.HTTPClient = kvs.HTTPClient()
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}

	// The table as of the sample event: d1 closed by the failover workflow, d2 open and fresh.
	ctx := context.Background()
	store, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "us-east-1", Control: d.Client("us-east-1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []struct{ domain, region string }{{"d111111abcdef8.cloudfront.net", "us-east-1"}, {"d222222abcdef8.cloudfront.net", "eu-west-1"}} {
		r := state.Registration{Cluster: "news", Domain: in.domain, Region: in.region,
			DistributionPlaylistURL: "https://" + in.domain + "/live/news/index.m3u8", OriginPlaylistURL: "https://origin-" + in.region + ".example.com/live/news/index.m3u8"}
		if _, err := store.Register(ctx, r, state.Change{By: "local:test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, "news", in.domain, state.HealthFresh, state.Change{By: "local:detector"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Close(ctx, "news", "d111111abcdef8.cloudfront.net", state.Change{By: "local:workflow", Reason: "confirmed stale"}); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", "edgesync-modify-close.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle: %+v, %v; want no failures", resp, err)
	}
	instances, err := store.Instances(ctx, "news")
	if err != nil {
		t.Fatal(err)
	}
	want, err := edgestate.Entries("news", instances, 4)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, kvs.Items()); diff != "" {
		t.Fatalf("key value store (-want +got):\n%s", diff)
	}
	if v := kvs.Violations(); len(v) > 0 {
		t.Fatalf("requests the service would refuse: %v", v)
	}
}
