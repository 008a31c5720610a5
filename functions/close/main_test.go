package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

func TestBuildRefusesBadConfig(t *testing.T) {
	testenv.OfflineAWS(t, nil)
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
			if _, err := build(context.Background(), func(k string) string { return tt.env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("build = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestSampleEventClosesOnTheTable invokes the built function, through aws-lambda-go's JSON
// adapter, with events/close-confirmed.json on a DynamoDB Local state table.
func TestSampleEventClosesOnTheTable(t *testing.T) {
	d := testenv.DynamoDB(t)
	testenv.OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": d.Endpoint})
	ctx := context.Background()
	table, store := d.StateStore(t)
	env := map[string]string{"TABLE_NAME": table, "HOLD_DOWN_SECONDS": "300"}
	c, err := build(ctx, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	testenv.FreshInstances(t, store, "news-channel", "eu-west-1", "d111111abcdef8.cloudfront.net", "d222222abcdef8.cloudfront.net")
	out, err := lambda.NewHandler(c.Close).Invoke(ctx, testenv.SampleEvent(t, "close-confirmed.json"))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var got contract.CloseOutput
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
