// Package topic is the vocabulary of publishing messages to pub/sub topics (SNS): the message
// with its string attributes, the publisher, and the errors callers act on.
package topic

import (
	"context"
	"errors"
)

// Message is one message published to a topic.
type Message struct {
	// TopicARN names the topic.
	TopicARN string
	// Subject is the optional subject line (email subscribers see it).
	Subject string
	// Body is the message text (JSON for every message this product publishes).
	Body string
	// Attributes are String message attributes by name; subscribers filter on them.
	Attributes map[string]string
}

// Publisher publishes messages. Publish returns the message ID the topic assigned.
type Publisher interface {
	Publish(ctx context.Context, m Message) (messageID string, err error)
}

// ErrNotFound says the topic does not exist.
var ErrNotFound = errors.New("topic not found")

// ErrInvalid says the topic refused the message as it is (an empty body, a bad attribute):
// publishing it again would fail the same way.
var ErrInvalid = errors.New("invalid message")
