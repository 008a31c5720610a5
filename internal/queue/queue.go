// Package queue is the vocabulary of message queues with delayed delivery (the sweeper's
// delayed checks, the trigger's dead letters); internal/aws/sqs and internal/local/sqs implement it.
package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Sender queues messages.
type Sender interface {
	// Send queues body to be received no sooner than delay from now. delay is 0..MaxDelay and
	// rounded up to whole seconds (a delayed message must never come early).
	Send(ctx context.Context, body string, delay time.Duration) (id string, err error)
}

// Queue is a Sender a consumer also receives from.
type Queue interface {
	Sender
	// Receive returns up to max (1..MaxBatch) visible messages, without waiting, and hides each
	// for the queue's visibility timeout: one not deleted by then is received again.
	Receive(ctx context.Context, max int) ([]Message, error)
	// Delete removes a received message for good, by the receipt of its latest receipt.
	Delete(ctx context.Context, receipt string) error
}

// Message is a received message.
type Message struct {
	ID      string
	Body    string
	Receipt string
	// Receives counts the receipts of the message, this one included.
	Receives int
	SentAt   time.Time
}

// Limits of SQS that the twin keeps too.
const (
	MaxDelay    = 900 * time.Second
	MaxBatch    = 10
	MaxBodySize = 256 << 10
)

// DelaySeconds checks a delay and rounds it up to whole seconds.
func DelaySeconds(d time.Duration) (int32, error) {
	if d < 0 || d > MaxDelay {
		return 0, fmt.Errorf("delay %s is outside 0 to %s", d, MaxDelay)
	}
	return int32((d + time.Second - 1) / time.Second), nil
}

// CheckBody refuses a body SQS would refuse: empty, over MaxBodySize, or with characters outside
// those XML allows.
func CheckBody(body string) error {
	switch {
	case body == "":
		return errors.New("empty message body")
	case len(body) > MaxBodySize:
		return fmt.Errorf("message body of %d bytes is over %d", len(body), MaxBodySize)
	case !utf8.ValidString(body):
		return errors.New("message body is not UTF-8")
	}
	if i := strings.IndexFunc(body, func(r rune) bool {
		return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r >= 0xD800 && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF
	}); i >= 0 {
		return fmt.Errorf("message body has character %U at byte %d, which SQS refuses", []rune(body[i:])[0], i)
	}
	return nil
}

// CheckMax refuses a receive batch size outside 1..MaxBatch.
func CheckMax(max int) error {
	if max < 1 || max > MaxBatch {
		return fmt.Errorf("receive %d messages: from 1 to %d at a time", max, MaxBatch)
	}
	return nil
}
