package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/edgesync"
	"github.com/clustered-video-streams/cvs/internal/local/kvsfake"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

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
			testenv.OfflineAWS(t, nil)
			_, err := build(context.Background(), func(k string) string { return tc.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one mentioning %s", err, tc.wantErr)
			}
		})
	}
}

// TestBuiltFunctionMirrorsTheTable wires the function as Lambda would, reading a state table
// in DynamoDB Local and writing the fake KeyValueStore through the real SDK client, and feeds it
// the sample close event; then the store drifts (a key deleted by hand, another overwritten)
// and the sample reconcile event repairs it.
func TestBuiltFunctionMirrorsTheTable(t *testing.T) {
	d := testenv.DynamoDB(t)
	testenv.OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": d.Endpoint})
	table, store := d.StateStore(t)
	kvs := kvsfake.New()
	defer kvs.Close()
	env := map[string]string{"KVS_ARN": kvsfake.ARN, "TABLE_NAME": table, "STEERING_TTL_SECONDS": "4"}
	var logs strings.Builder
	f, err := build(context.Background(), func(k string) string { return env[k] }, &logs, func(o *cloudfrontkeyvaluestore.Options) {
		o.BaseEndpoint = aws.String(kvs.URL)
		o.HTTPClient = kvs.HTTPClient()
	})
	if err != nil {
		t.Fatalf("build: %v", err)
	}

	// The table as of the sample event: d1 closed by the failover workflow, d2 open and fresh.
	ctx := context.Background()
	testenv.FreshInstances(t, store, "news", "us-east-1", "d111111abcdef8.cloudfront.net")
	testenv.FreshInstances(t, store, "news", "eu-west-1", "d222222abcdef8.cloudfront.net")
	if _, err := store.Close(ctx, "news", "d111111abcdef8.cloudfront.net", state.Change{By: "local:workflow", Reason: "confirmed stale"}); err != nil {
		t.Fatal(err)
	}
	instances, err := store.Instances(ctx, "news")
	if err != nil {
		t.Fatal(err)
	}
	want, err := edgestate.Entries("news", instances, 4)
	if err != nil {
		t.Fatal(err)
	}

	out, err := f.Invoke(ctx, testenv.SampleEvent(t, "edgesync-modify-close.json"))
	resp, ok := out.(events.DynamoDBEventResponse)
	if err != nil || !ok || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Invoke(stream batch) = %#v, %v; want a response with no failures", out, err)
	}
	if diff := cmp.Diff(want, kvs.Items()); diff != "" {
		t.Fatalf("key value store after the stream batch (-want +got):\n%s", diff)
	}

	kvs.Delete("d111111abcdef8.cloudfront.net")
	kvs.Put("steering_news", `{"VERSION":1,"TTL":4,"PATHWAY-PRIORITY":["us-east-1","eu-west-1"]}`)
	out, err = f.Invoke(ctx, testenv.SampleEvent(t, "edgesync-reconcile.json"))
	rep, ok := out.(edgesync.Report)
	if err != nil || !ok {
		t.Fatalf("Invoke(scheduled event) = %#v, %v; want a reconcile report", out, err)
	}
	if rep.Clusters != 1 || rep.KeysRepaired != 2 {
		t.Errorf("report %+v, want 1 cluster and 2 keys repaired", rep)
	}
	if diff := cmp.Diff(want, kvs.Items()); diff != "" {
		t.Fatalf("key value store after the reconcile (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), `"msg":"edgesync: reconcile done"`) {
		t.Errorf("no reconcile summary in the function's logs:\n%s", logs.String())
	}
	if v := kvs.Violations(); len(v) > 0 {
		t.Fatalf("requests the service would refuse: %v", v)
	}
}
