package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

func TestBuildRefusesBadConfig(t *testing.T) {
	testenv.OfflineAWS(t, nil)
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no table", map[string]string{}, "TABLE_NAME"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := build(context.Background(), func(k string) string { return tt.env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("build = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestSampleEventReopensOnTheTable invokes the built function, through aws-lambda-go's JSON
// adapter, with events/reopen-fresh.json on a DynamoDB Local state table where the failover
// workflow closed the instance.
func TestSampleEventReopensOnTheTable(t *testing.T) {
	d := testenv.DynamoDB(t)
	testenv.OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": d.Endpoint})
	ctx := context.Background()
	table, store := d.StateStore(t)
	env := map[string]string{"TABLE_NAME": table}
	c, err := build(ctx, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	testenv.FreshInstances(t, store, "news-channel", "eu-west-1", "d111111abcdef8.cloudfront.net", "d222222abcdef8.cloudfront.net")
	closedBy := "arn:aws:states:eu-west-1:123456789012:execution:cvs-failover:" +
		contract.ExecutionName(contract.DetectorEvent{Cluster: "news-channel", Domain: "d111111abcdef8.cloudfront.net", Sequence: 42})
	if _, err := store.Close(ctx, "news-channel", "d111111abcdef8.cloudfront.net", state.Change{By: closedBy, Reason: "event #42 confirmed"}); err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(c.Reopen).Invoke(ctx, testenv.SampleEvent(t, "reopen-fresh.json"))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var got contract.ReopenOutput
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Opened || !got.Changed || got.Refused {
		t.Errorf("output %s, want opened by this call", out)
	}
	in, err := store.Instance(ctx, "news-channel", "d111111abcdef8.cloudfront.net")
	if err != nil {
		t.Fatal(err)
	}
	if !in.Open || !strings.Contains(in.ChangedBy, ":execution:cvs-failback:") {
		t.Errorf("instance open=%v changed_by=%s, want opened by the sample's execution", in.Open, in.ChangedBy)
	}
}
