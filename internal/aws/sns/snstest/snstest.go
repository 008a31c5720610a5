// Package snstest builds a topictest.Harness over the SNS adapter and a moto_server, with SQS
// queues as subscribers.
package snstest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/clustered-video-streams/cvs/internal/aws/sns"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
	"github.com/clustered-video-streams/cvs/internal/topic/topictest"
)

var serial atomic.Int64

// Moto returns a harness over the adapter against its own moto_server (skipped without one).
// Moto delivers to SQS while it answers Publish, so a subscriber's queue holds every delivery
// once Publish returns.
func Moto(t *testing.T) topictest.Harness {
	endpoint := testenv.Moto(t, "the SNS adapter contract")
	cfg := motoclient.Config(endpoint)
	snsc, sqsc := awssns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	ctx := context.Background()
	return topictest.Harness{
		Publisher: sns.New(snsc),
		CreateTopic: func(t *testing.T, name string) string {
			out, err := snsc.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			return aws.ToString(out.TopicArn)
		},
		Subscribe: func(t *testing.T, arn, policy, scope string) func(*testing.T) []topictest.Received {
			t.Helper()
			q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprint("sub-", serial.Add(1)))})
			if err != nil {
				t.Fatal(err)
			}
			qa, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
			if err != nil {
				t.Fatal(err)
			}
			attrs := map[string]string{}
			if policy != "" {
				attrs["FilterPolicy"] = policy
				if scope != "" {
					attrs["FilterPolicyScope"] = scope
				}
			}
			if _, err := snsc.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(arn), Protocol: aws.String("sqs"),
				Endpoint: aws.String(qa.Attributes["QueueArn"]), Attributes: attrs}); err != nil {
				t.Fatalf("subscribe with policy %s: %v", policy, err)
			}
			var got []topictest.Received
			return func(t *testing.T) []topictest.Received {
				for {
					out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
					if err != nil {
						t.Fatal(err)
					}
					if len(out.Messages) == 0 {
						return got
					}
					for _, m := range out.Messages {
						var env struct {
							Subject, Message  string
							MessageAttributes map[string]struct{ Type, Value string }
						}
						if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
							t.Fatalf("SNS envelope: %v", err)
						}
						r := topictest.Received{Subject: env.Subject, Body: env.Message, Attributes: map[string]string{}}
						for k, v := range env.MessageAttributes {
							r.Attributes[k] = v.Value
						}
						got = append(got, r)
						if _, err := sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		},
	}
}
