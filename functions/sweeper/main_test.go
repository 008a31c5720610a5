package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/clustered-video-streams/cvs/internal/sweeper"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// TestBuild wires the function as Lambda would, on moto's S3 and SQS, and runs each sample event.
func TestBuild(t *testing.T) {
	endpoint := testenv.Moto(t, "the sweeper function test")
	testenv.OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL": endpoint})
	ctx := context.Background()
	c := motoclient.S3(endpoint)
	motoclient.Bucket(t, c, "cvs-encoder-example", true)
	q := sqs.NewFromConfig(motoclient.Config(endpoint))
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cvs-sweeper-checks")})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BUCKET": "cvs-encoder-example", "PREFIXES": "primary/,failover/", "CHECK_QUEUE_URL": aws.ToString(queue.QueueUrl),
		"STALE_MULTIPLIER": "1.5", "SWEEP_MIN_AGE": "30s", "S3_FORCE_PATH_STYLE": "true"}
	h, err := build(ctx, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	vid := motoclient.Put(t, c, "cvs-encoder-example", "primary/index_1.m3u8",
		[]byte("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:6.0,\ns1.ts\n"))

	out, err := h(ctx, bytes.ReplaceAll(testenv.SampleEvent(t, "sweeper-upload.json"), []byte("UIORUnfndfhnw89493jJFJ.BCdN9Kzv"), []byte(vid)))
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if ds := out.([]sweeper.Decision); len(ds) != 1 || ds[0].Action != sweeper.Scheduled {
		t.Fatalf("upload decisions %+v, want one scheduled", ds)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed)]; got != "1" {
		t.Fatalf("delayed messages = %s, want the check waiting in SQS", got)
	}
	if _, err := h(ctx, testenv.SampleEvent(t, "sweeper-sweep.json")); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if _, err := h(ctx, testenv.SampleEvent(t, "sweeper-check.json")); err != nil {
		t.Fatalf("check: %v", err)
	}

	for name, over := range map[string]map[string]string{
		"no prefixes": {"PREFIXES": ""}, "bad multiplier": {"STALE_MULTIPLIER": "x"}, "multiplier below 1": {"STALE_MULTIPLIER": "0.5"},
		"bad min age": {"SWEEP_MIN_AGE": "30"}, "no queue": {"CHECK_QUEUE_URL": ""},
	} {
		get := func(k string) string {
			if v, ok := over[k]; ok {
				return v
			}
			return env[k]
		}
		if _, err := build(ctx, get, io.Discard); err == nil {
			t.Errorf("%s: build accepted it", name)
		}
	}
}
