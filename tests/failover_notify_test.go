package tests

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestFailoverNotifiesThroughMotoSNS runs the confirmed-closed path with the Notify task's
// sns:publish calling moto_server's SNS, and reads the notification back from an SQS queue
// subscribed to the topic, as an operator's subscription would get it.
func TestFailoverNotifiesThroughMotoSNS(t *testing.T) {
	endpoint := testenv.Moto(t, "the notification wire test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	creds := credentials.NewStaticCredentialsProvider("AKIDLOCALDUMMY", "dummy", "")
	snsClient := sns.New(sns.Options{Region: foRegion, Credentials: creds, BaseEndpoint: aws.String(endpoint)})
	sqsClient := sqs.New(sqs.Options{Region: foRegion, Credentials: creds, BaseEndpoint: aws.String(endpoint)})

	// The topic the definitions publish to after substitution (moto's default account).
	topic, err := snsClient.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("cvs-notifications")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(topic.TopicArn), foSubstitutions[contract.SubstNotificationTopicArn]; got != want {
		t.Fatalf("moto made topic %s, the substitutions name %s", got, want)
	}
	queue, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cvs-operators")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snsClient.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(attrs.Attributes["QueueArn"])}); err != nil {
		t.Fatal(err)
	}

	publish := func(ctx context.Context, m asl.SNSMessage) (string, error) {
		in := &sns.PublishInput{TopicArn: aws.String(m.TopicArn), Message: aws.String(m.Message),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{}}
		if m.Subject != "" {
			in.Subject = aws.String(m.Subject)
		}
		for k, v := range m.Attributes {
			in.MessageAttributes[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		out, err := snsClient.Publish(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.MessageId), nil
	}
	w := newFoWorld(t, foStart, nil, publish)
	w.register()
	w.origin.serve(foStalled(18234))
	e := w.event("stale", 42, foDetected, foLastChange, 18234)
	ex := w.runFailover(e)
	if ex.Status != asl.StatusSucceeded {
		t.Fatalf("failover %s %s (%s)", ex.Status, ex.Error, ex.Cause)
	}
	var output struct {
		Notification struct {
			Outcome   string `json:"outcome"`
			MessageID string `json:"message_id"`
		} `json:"notification"`
	}
	if err := json.Unmarshal(ex.Output, &output); err != nil {
		t.Fatal(err)
	}

	got, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("%d messages in the operators' queue, want 1", len(got.Messages))
	}
	var envelope struct {
		MessageId         string
		TopicArn          string
		Subject           string
		Message           string
		MessageAttributes map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(got.Messages[0].Body)), &envelope); err != nil {
		t.Fatal(err)
	}
	var msg map[string]any
	if err := json.Unmarshal([]byte(envelope.Message), &msg); err != nil {
		t.Fatalf("notification body %q: %v", envelope.Message, err)
	}
	checks := []struct{ what, got, want string }{
		{"topic", envelope.TopicArn, aws.ToString(topic.TopicArn)},
		{"subject", envelope.Subject, "CVS failover: distribution closed"},
		{"message id in the execution output", output.Notification.MessageID, envelope.MessageId},
		{"outcome", output.Notification.Outcome, "closed"},
		{"message outcome", msg["outcome"].(string), "closed"},
		{"outcome attribute", envelope.MessageAttributes["outcome"].Value, "closed"},
		{"cluster attribute", envelope.MessageAttributes["cluster"].Value, foCluster},
		{"execution", msg["execution"].(string), foExecArn("cvs-failover", e)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	if close, _ := msg["close"].(map[string]any); close["changed"] != true || close["closed"] != true {
		t.Errorf("notification's close result %v, want closed and changed", msg["close"])
	}
}
