package detectortest

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/topic"
)

// Topic is an in-process SNS topic for the detector's simulated-time tests (moto_server
// cannot run inside a synctest bubble; the wire tests use it). It keeps every message
// published, decoded with contract.ParseDetectorEvent, so a malformed one fails the test that
// reads it. Fail, when set, decides whether the n-th call (from 1) fails.
type Topic struct {
	Fail func(n int, m topic.Message) error

	mu       sync.Mutex
	calls    int
	messages []Message
}

// Message is one published message.
type Message struct {
	Event      contract.DetectorEvent
	Attributes map[string]string
	At         time.Time // when it was published
	Err        error     // why the body is not a valid detector event
}

// Publish records the message, or fails as Fail says.
func (t *Topic) Publish(ctx context.Context, in topic.Message) (string, error) {
	t.mu.Lock()
	t.calls++
	n := t.calls
	t.mu.Unlock()
	if t.Fail != nil {
		if err := t.Fail(n, in); err != nil {
			return "", err
		}
	}
	m := Message{Attributes: maps.Clone(in.Attributes), At: time.Now()}
	m.Event, m.Err = contract.ParseDetectorEvent([]byte(in.Body))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.messages = append(t.messages, m)
	return fmt.Sprintf("msg-%d", n), nil
}

// Messages returns what was published so far.
func (t *Topic) Messages() []Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Message(nil), t.messages...)
}
