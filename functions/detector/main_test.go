package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

func TestBuildRefusesBadConfiguration(t *testing.T) {
	topic := "arn:aws:sns:us-east-1:123456789012:cvs-detector"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"no table", map[string]string{"TOPIC_ARN": topic, "AWS_REGION": "us-east-1"}, "TABLE_NAME"},
		{"no topic", map[string]string{"TABLE_NAME": "t", "AWS_REGION": "us-east-1"}, "topic ARN"},
		{"no region", map[string]string{"TABLE_NAME": "t", "TOPIC_ARN": topic}, "region"},
		{"poll interval too short", map[string]string{"TABLE_NAME": "t", "TOPIC_ARN": topic, "AWS_REGION": "us-east-1", "POLL_INTERVAL": "100ms"}, "below 500ms"},
		{"malformed tolerance", map[string]string{"TABLE_NAME": "t", "TOPIC_ARN": topic, "AWS_REGION": "us-east-1", "VIDEO_TOLERANCE": "any"}, "VIDEO_TOLERANCE"},
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

// TestBuiltHandlerPublishesToSNS wires the function as Lambda would, against DynamoDB Local
// and moto_server's SNS, feeds it the sample scheduled event, and reads the fresh event of a
// newly registered instance from an SQS queue subscribed to the topic.
func TestBuiltHandlerPublishesToSNS(t *testing.T) {
	d := testenv.DynamoDB(t)
	moto := testenv.Moto(t, "the detector function's wiring test")
	testenv.OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": d.Endpoint, "AWS_ENDPOINT_URL_SNS": moto})
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider(testenv.DummyAccessKeyID, testenv.DummySecretAccessKey, "")
	snsClient := sns.New(sns.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(moto)})
	sqsClient := sqs.New(sqs.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(moto)})
	topic, err := snsClient.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("cvs-detector")})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("trigger")})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snsClient.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(qa.Attributes["QueueArn"])}); err != nil {
		t.Fatal(err)
	}

	table, store := d.StateStore(t)
	origin := httptest.NewServer(detectortest.NewOrigin(2*time.Second, 6, detectortest.StandardVariants()...))
	defer origin.Close()
	if _, err := store.Register(ctx, state.Registration{Cluster: "news", Domain: "d111111abcdef8.cloudfront.net", Region: "us-east-1",
		DistributionPlaylistURL: "https://d111111abcdef8.cloudfront.net/master.m3u8", OriginPlaylistURL: origin.URL + "/master.m3u8"},
		state.Change{By: "local:test"}); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"TABLE_NAME": table, "TOPIC_ARN": aws.ToString(topic.TopicArn), "AWS_REGION": "us-east-1", "RUN_FOR": "2500ms", "MARGIN": "1s"}
	h, err := build(ctx, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(testenv.SampleEvent(t, "detector-scheduled.json"), &ev); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	sum, err := h.Handle(runCtx, ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if sum.Watched != 1 || sum.Published != 1 || sum.Errors != 0 {
		t.Errorf("summary %+v, want 1 watched, 1 published, no errors", sum)
	}

	got, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("%d messages in the queue, want 1", len(got.Messages))
	}
	var envelope struct {
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(got.Messages[0].Body)), &envelope); err != nil {
		t.Fatal(err)
	}
	de, err := contract.ParseDetectorEvent([]byte(envelope.Message))
	if err != nil {
		t.Fatalf("published message: %v", err)
	}
	if de.Event != state.HealthFresh || de.Cluster != "news" || len(de.Playlists) != 3 || envelope.MessageAttributes["event"].Value != "fresh" {
		t.Errorf("event %+v with attributes %v, want fresh for news with 3 playlists", de, envelope.MessageAttributes)
	}
	in, err := store.Instance(ctx, "news", "d111111abcdef8.cloudfront.net")
	if err != nil || in.Health != state.HealthFresh {
		t.Errorf("instance %+v, %v: want health fresh", in, err)
	}
	if data, rev, err := store.LoadDetector(ctx, "news", "d111111abcdef8.cloudfront.net"); err != nil || rev < 3 || !strings.Contains(string(data), `"published"`) {
		t.Errorf("detector memory rev %d, %v: want lease, claim, publish and release saved; %s", rev, err, data)
	}
}
