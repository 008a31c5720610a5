// Package sqs is the queue.Queue over Amazon SQS: the one place that speaks the SQS SDK.
package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/clustered-video-streams/cvs/internal/queue"
)

var _ queue.Queue = (*Queue)(nil)

// Queue is one SQS queue, by its URL, on a client the caller built.
type Queue struct {
	client *awssqs.Client
	url    string
}

// New returns the queue at url.
func New(client *awssqs.Client, url string) *Queue { return &Queue{client: client, url: url} }

// Send implements queue.Sender.
func (q *Queue) Send(ctx context.Context, body string, delay time.Duration) (string, error) {
	secs, err := queue.DelaySeconds(delay)
	if err == nil {
		err = queue.CheckBody(body)
	}
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", q.url, err)
	}
	out, err := q.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(body), DelaySeconds: secs})
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", q.url, err)
	}
	return aws.ToString(out.MessageId), nil
}

// Receive implements queue.Queue.
func (q *Queue) Receive(ctx context.Context, max int) ([]queue.Message, error) {
	if err := queue.CheckMax(max); err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.url, err)
	}
	out, err := q.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.url), MaxNumberOfMessages: int32(max),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.url, err)
	}
	var msgs []queue.Message
	var errs []error
	for _, m := range out.Messages {
		n, err1 := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		ms, err2 := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("message %s: attributes: %w", aws.ToString(m.MessageId), err))
		}
		msgs = append(msgs, queue.Message{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Receipt: aws.ToString(m.ReceiptHandle),
			Receives: n, SentAt: time.UnixMilli(ms).UTC()})
	}
	if len(errs) > 0 {
		// Hidden for the visibility timeout, they come back: nothing is lost.
		return nil, fmt.Errorf("receive from %s: %w", q.url, errors.Join(errs...))
	}
	return msgs, nil
}

// Delete implements queue.Queue.
func (q *Queue) Delete(ctx context.Context, receipt string) error {
	if receipt == "" {
		return fmt.Errorf("delete from %s: no receipt", q.url)
	}
	if _, err := q.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(receipt)}); err != nil {
		return fmt.Errorf("delete from %s: %w", q.url, err)
	}
	return nil
}
