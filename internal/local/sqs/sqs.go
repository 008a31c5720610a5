// Package sqs is an in-process SQS queue for local runs and tests: delays, visibility timeouts,
// redrive to a dead-letter queue, and delivery to a Lambda-style handler when messages are due.
package sqs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/clustered-video-streams/cvs/internal/queue"
)

var _ queue.Queue = (*Queue)(nil)

// Defaults for Config.
const (
	DefaultVisibility = 30 * time.Second // SQS's default visibility timeout
	account           = "123456789012"
)

// Config configures a Queue.
type Config struct {
	Name   string
	Region string // of event records; "" means us-east-1
	// Now is the queue's clock; nil means time.Now.
	Now func() time.Time
	// Visibility is how long a received message stays hidden (0: DefaultVisibility).
	Visibility time.Duration
	// DeadLetter, with MaxReceives > 0, is where a message goes instead of its next receipt
	// once it was received MaxReceives times (the redrive policy).
	DeadLetter  *Queue
	MaxReceives int
	Logger      *slog.Logger // nil: slog.Default()
}

// Queue holds messages in memory. Build it with New.
type Queue struct {
	c    Config
	wake chan struct{} // a Send wakes Serve

	mu   sync.Mutex
	msgs []*message // in send order
	seq  int
}

type message struct {
	id, body  string
	sentAt    time.Time
	visibleAt time.Time
	firstRecv time.Time
	receives  int
	receipt   string // of the latest receipt
}

// New returns an empty queue.
func New(c Config) (*Queue, error) {
	switch {
	case c.Name == "":
		return nil, errors.New("sqs: a queue needs a name")
	case c.Visibility < 0 || c.Visibility > 12*time.Hour:
		return nil, fmt.Errorf("sqs: visibility timeout %s is outside 0 to 12h", c.Visibility)
	case (c.DeadLetter == nil) != (c.MaxReceives == 0) || c.MaxReceives < 0:
		return nil, errors.New("sqs: a redrive needs both a dead-letter queue and a positive MaxReceives")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Visibility == 0 {
		c.Visibility = DefaultVisibility
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Queue{c: c, wake: make(chan struct{}, 1)}, nil
}

// ARN is the queue's ARN, as event records name it.
func (q *Queue) ARN() string { return "arn:aws:sqs:" + q.c.Region + ":" + account + ":" + q.c.Name }

// Send implements queue.Sender.
func (q *Queue) Send(_ context.Context, body string, delay time.Duration) (string, error) {
	secs, err := queue.DelaySeconds(delay)
	if err == nil {
		err = queue.CheckBody(body)
	}
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", q.c.Name, err)
	}
	now := q.c.Now()
	q.mu.Lock()
	q.seq++
	m := &message{id: fmt.Sprintf("%s-%08d", q.c.Name, q.seq), body: body, sentAt: now, visibleAt: now.Add(time.Duration(secs) * time.Second)}
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return m.id, nil
}

// Receive implements queue.Queue.
func (q *Queue) Receive(ctx context.Context, max int) ([]queue.Message, error) {
	if err := queue.CheckMax(max); err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.c.Name, err)
	}
	now := q.c.Now()
	q.mu.Lock()
	var out []queue.Message
	var redrive []*message
	for _, m := range q.msgs {
		if len(out) == max {
			break
		}
		if now.Before(m.visibleAt) {
			continue
		}
		if q.c.MaxReceives > 0 && m.receives >= q.c.MaxReceives {
			redrive = append(redrive, m)
			continue
		}
		q.seq++
		m.receives++
		if m.firstRecv.IsZero() {
			m.firstRecv = now
		}
		m.receipt = fmt.Sprintf("%s-r%08d", m.id, q.seq)
		m.visibleAt = now.Add(q.c.Visibility)
		out = append(out, queue.Message{ID: m.id, Body: m.body, Receipt: m.receipt, Receives: m.receives, SentAt: m.sentAt})
	}
	q.msgs = slices.DeleteFunc(q.msgs, func(m *message) bool { return slices.Contains(redrive, m) })
	q.mu.Unlock()
	for _, m := range redrive {
		q.c.DeadLetter.redrive(m, now)
		q.c.Logger.WarnContext(ctx, "sqs: moved a message to the dead-letter queue", "queue", q.c.Name, "message_id", m.id, "receives", m.receives)
	}
	return out, nil
}

// redrive keeps a message moved from another queue, as SQS does: its ID, body and sent time.
func (q *Queue) redrive(m *message, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, &message{id: m.id, body: m.body, sentAt: m.sentAt, visibleAt: now})
}

// Delete implements queue.Queue. Only a message's latest receipt deletes it.
func (q *Queue) Delete(_ context.Context, receipt string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, m := range q.msgs {
		if receipt != "" && m.receipt == receipt {
			q.msgs = slices.Delete(q.msgs, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("delete from %s: receipt %q is not the latest of any message", q.c.Name, receipt)
}

// Len returns how many messages the queue holds, visible or not.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// NextVisible returns when the earliest hidden or delayed message becomes visible (now when one
// is visible already); ok is false for an empty queue.
func (q *Queue) NextVisible() (t time.Time, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.msgs {
		if !ok || m.visibleAt.Before(t) {
			t, ok = m.visibleAt, true
		}
	}
	return t, ok
}

// Handler is a Lambda handler of SQS events with partial batch responses, as the sweeper's is.
type Handler func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error)

// Deliver hands every visible message to h in batches of up to queue.MaxBatch, as Lambda's
// event source mapping does: a batch h fails stays for another receipt after the visibility
// timeout, and so do the batch item failures it reports; the rest is deleted. It returns how
// many messages h was given and the errors h returned.
func (q *Queue) Deliver(ctx context.Context, h Handler) (int, error) {
	var n int
	var errs []error
	for {
		msgs, err := q.Receive(ctx, queue.MaxBatch)
		if err != nil || len(msgs) == 0 {
			return n, errors.Join(append(errs, err)...)
		}
		n += len(msgs)
		ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
		for i, m := range msgs {
			ev.Records[i] = q.record(m)
		}
		resp, err := h(ctx, ev)
		if err != nil {
			errs = append(errs, fmt.Errorf("handler of %s: %w", q.c.Name, err))
			continue
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, m := range msgs {
			if !failed[m.ID] {
				if err := q.Delete(ctx, m.Receipt); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
}

// record is a message as Lambda's SQS event carries it.
func (q *Queue) record(m queue.Message) events.SQSMessage {
	sum := md5.Sum([]byte(m.Body))
	q.mu.Lock()
	var first time.Time
	for _, x := range q.msgs {
		if x.id == m.ID {
			first = x.firstRecv
		}
	}
	q.mu.Unlock()
	return events.SQSMessage{
		MessageId: m.ID, ReceiptHandle: m.Receipt, Body: m.Body, Md5OfBody: hex.EncodeToString(sum[:]),
		Attributes: map[string]string{
			"ApproximateReceiveCount":          strconv.Itoa(m.Receives),
			"SentTimestamp":                    strconv.FormatInt(m.SentAt.UnixMilli(), 10),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(first.UnixMilli(), 10),
			"SenderId":                         account,
		},
		EventSource: "aws:sqs", EventSourceARN: q.ARN(), AWSRegion: q.c.Region,
	}
}

// Serve delivers messages to h as they become due until ctx ends, and returns ctx's error.
// after is the timer of the queue's clock (time.After for the wall clock); a Send wakes it at
// once. Handler errors are logged: the messages come back after the visibility timeout.
func (q *Queue) Serve(ctx context.Context, h Handler, after func(time.Duration) <-chan time.Time) error {
	for {
		if _, err := q.Deliver(ctx, h); err != nil {
			q.c.Logger.ErrorContext(ctx, "sqs: delivery failed; the messages come back after the visibility timeout", "queue", q.c.Name, "err", err.Error())
		}
		var timer <-chan time.Time
		if next, ok := q.NextVisible(); ok {
			timer = after(max(next.Sub(q.c.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-q.wake:
		case <-timer:
		}
	}
}
