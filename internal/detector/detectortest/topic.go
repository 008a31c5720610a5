package detectortest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/clustered-video-streams/cvs/internal/workflow"
)

// Topic is an in-process SNS topic for the detector's simulated-time tests (moto_server
// cannot run inside a synctest bubble; the wire tests use it). It keeps every message
// published, decoded with workflow.ParseDetectorEvent, so a malformed one fails the test that
// reads it. Fail, when set, decides whether the n-th call (from 1) fails.
type Topic struct {
	Fail func(n int, in *sns.PublishInput) error

	mu       sync.Mutex
	calls    int
	messages []Message
}

// Message is one published message.
type Message struct {
	Event      workflow.DetectorEvent
	Attributes map[string]string
	At         time.Time // when it was published
	Err        error     // why the body is not a valid detector event
}

// Publish records the message, or fails as Fail says.
func (t *Topic) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	t.mu.Lock()
	t.calls++
	n := t.calls
	t.mu.Unlock()
	if t.Fail != nil {
		if err := t.Fail(n, in); err != nil {
			return nil, err
		}
	}
	m := Message{Attributes: map[string]string{}, At: time.Now()}
	m.Event, m.Err = workflow.ParseDetectorEvent([]byte(aws.ToString(in.Message)))
	for k, v := range in.MessageAttributes {
		if aws.ToString(v.DataType) != "String" {
			m.Err = fmt.Errorf("attribute %s has type %s", k, aws.ToString(v.DataType))
		}
		m.Attributes[k] = aws.ToString(v.StringValue)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.messages = append(t.messages, m)
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprintf("msg-%d", n))}, nil
}

// Messages returns what was published so far.
func (t *Topic) Messages() []Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Message(nil), t.messages...)
}
