// Package sns publishes topic messages with Amazon SNS: the adapter behind topic.Publisher.
package sns

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/clustered-video-streams/cvs/internal/topic"
)

var _ topic.Publisher = (*Publisher)(nil)

// Client is the part of *sns.Client the adapter calls.
type Client interface {
	Publish(ctx context.Context, in *awssns.PublishInput, opts ...func(*awssns.Options)) (*awssns.PublishOutput, error)
}

// Publisher publishes with an SNS client the caller built.
type Publisher struct {
	Client Client
}

// New returns a Publisher over c.
func New(c Client) *Publisher { return &Publisher{Client: c} }

// Publish sends m with its String attributes. A missing topic is topic.ErrNotFound, a refused
// message topic.ErrInvalid; other errors are the SDK's, wrapped.
func (p *Publisher) Publish(ctx context.Context, m topic.Message) (string, error) {
	in := &awssns.PublishInput{TopicArn: aws.String(m.TopicARN), Message: aws.String(m.Body)}
	if m.Subject != "" {
		in.Subject = aws.String(m.Subject)
	}
	if len(m.Attributes) > 0 {
		in.MessageAttributes = make(map[string]snstypes.MessageAttributeValue, len(m.Attributes))
		for k, v := range m.Attributes {
			in.MessageAttributes[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	out, err := p.Client.Publish(ctx, in)
	var notFound *snstypes.NotFoundException
	var invalid *snstypes.InvalidParameterException
	var invalidValue *snstypes.InvalidParameterValueException
	switch {
	case errors.As(err, &notFound):
		return "", fmt.Errorf("publish to %s: %w: %v", m.TopicARN, topic.ErrNotFound, err)
	case errors.As(err, &invalid), errors.As(err, &invalidValue):
		return "", fmt.Errorf("publish to %s: %w: %v", m.TopicARN, topic.ErrInvalid, err)
	case err != nil:
		return "", fmt.Errorf("publish to %s: %w", m.TopicARN, err)
	}
	return aws.ToString(out.MessageId), nil
}
