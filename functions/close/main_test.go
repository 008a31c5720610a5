package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/workflow"
)

// offlineAWS points the SDK's default chain at dummy credentials, so that nothing reads the
// machine's AWS configuration or reaches AWS.
func offlineAWS(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_ACCESS_KEY_ID": "AKIDLOCALDUMMY", "AWS_SECRET_ACCESS_KEY": "dummy", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
}

func TestBuildRefusesBadConfig(t *testing.T) {
	offlineAWS(t)
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no table", map[string]string{"HOLD_DOWN_SECONDS": "300"}, "TABLE_NAME"},
		{"no hold-down", map[string]string{"TABLE_NAME": "t"}, "HOLD_DOWN_SECONDS"},
		{"negative hold-down", map[string]string{"TABLE_NAME": "t", "HOLD_DOWN_SECONDS": "-1"}, "HOLD_DOWN_SECONDS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := build(context.Background(), func(k string) string { return tt.env[k] }); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("build = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestSampleEventClosesOnTheTable invokes the built function, through aws-lambda-go's JSON
// adapter, with events/close-confirmed.json on a DynamoDB Local state table.
func TestSampleEventClosesOnTheTable(t *testing.T) {
	d := testenv.DynamoDB(t)
	offlineAWS(t)
	ctx := context.Background()
	table := d.StateTable(t)
	env := map[string]string{"TABLE_NAME": table, "HOLD_DOWN_SECONDS": "300"}
	c, err := build(ctx, func(k string) string { return env[k] }, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(d.Endpoint) })
	if err != nil {
		t.Fatal(err)
	}
	store, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "us-east-1", Control: d.Client("us-east-1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, domain := range []string{"d111111abcdef8.cloudfront.net", "d222222abcdef8.cloudfront.net"} {
		if _, err := store.Register(ctx, state.Registration{Cluster: "news-channel", Domain: domain, Region: "eu-west-1",
			DistributionPlaylistURL: "https://" + domain + "/index.m3u8", OriginPlaylistURL: "https://origin.example.com/index.m3u8"},
			state.Change{By: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, "news-channel", domain, state.HealthFresh, state.Change{By: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	payload, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", "close-confirmed.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(c.Close).Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var got workflow.CloseOutput
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Closed || !got.Changed || got.Refused {
		t.Errorf("output %s, want closed by this call", out)
	}
	in, err := store.Instance(ctx, "news-channel", "d111111abcdef8.cloudfront.net")
	if err != nil {
		t.Fatal(err)
	}
	if in.Open || !strings.Contains(in.ChangedBy, ":execution:cvs-failover:") {
		t.Errorf("instance open=%v changed_by=%s, want closed by the sample's execution", in.Open, in.ChangedBy)
	}
}
