// Package sns is the in-process twin of SNS for local runs and tests: topics, subscriptions
// that call Go handlers, String message attributes and the filter policies the template uses.
package sns

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/clustered-video-streams/cvs/internal/topic"
)

var _ topic.Publisher = (*Broker)(nil)

// MaxBodyBytes is the largest message SNS takes (256 KiB).
const MaxBodyBytes = 256 << 10

// Delivery is one message as a subscriber gets it.
type Delivery struct {
	MessageID  string
	TopicARN   string
	Subject    string
	Body       string
	Attributes map[string]string
	Timestamp  time.Time
	// Subscription is the ARN of the subscription delivered to.
	Subscription string
}

// Record returns the delivery as a Lambda function subscribed to the topic receives it.
func (d Delivery) Record() events.SNSEventRecord {
	attrs := map[string]any{}
	for k, v := range d.Attributes {
		attrs[k] = map[string]any{"Type": "String", "Value": v}
	}
	return events.SNSEventRecord{
		EventVersion: "1.0", EventSource: "aws:sns", EventSubscriptionArn: d.Subscription,
		SNS: events.SNSEntity{
			Type: "Notification", MessageID: d.MessageID, TopicArn: d.TopicARN, Subject: d.Subject,
			Message: d.Body, Timestamp: d.Timestamp, MessageAttributes: attrs,
		},
	}
}

// Handler receives deliveries. An error is reported to Options.OnError; SNS would retry.
type Handler func(ctx context.Context, d Delivery) error

// Subscription subscribes a handler to a topic.
type Subscription struct {
	// Name says who subscribes, in logs.
	Name string
	// Filter, when set, passes only the messages it matches (see ParseFilter).
	Filter  *Filter
	Handler Handler
}

// Options configure a Broker.
type Options struct {
	// Region and Account make the topic ARNs (arn:aws:sns:<Region>:<Account>:<name>);
	// defaults "local" and "000000000000".
	Region, Account string
	// Now stamps deliveries; nil means time.Now.
	Now func() time.Time
	// OnError hears of every handler that failed; nil logs it.
	OnError func(d Delivery, subscriber string, err error)
	Log     *slog.Logger
}

// Broker holds topics and delivers published messages to their subscribers, each delivery in
// its own goroutine as SNS delivers asynchronously. Safe for concurrent use.
type Broker struct {
	opts Options

	mu       sync.Mutex
	topics   map[string][]subscription
	next     int
	inFlight sync.WaitGroup
}

type subscription struct {
	arn string
	Subscription
}

// New returns an empty broker.
func New(opts Options) *Broker {
	if opts.Region == "" {
		opts.Region = "local"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Broker{opts: opts, topics: map[string][]subscription{}}
}

// CreateTopic creates the topic name if it does not exist and returns its ARN.
func (b *Broker) CreateTopic(name string) string {
	arn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", b.opts.Region, b.opts.Account, name)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.topics[arn]; !ok {
		b.topics[arn] = nil
	}
	return arn
}

// Subscribe adds a subscription to a topic and returns the subscription's ARN.
func (b *Broker) Subscribe(topicARN string, s Subscription) (string, error) {
	if s.Handler == nil {
		return "", fmt.Errorf("subscribe %s to %s: no handler", s.Name, topicARN)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	subs, ok := b.topics[topicARN]
	if !ok {
		return "", fmt.Errorf("subscribe %s to %s: %w", s.Name, topicARN, topic.ErrNotFound)
	}
	b.next++
	arn := fmt.Sprintf("%s:sub-%d", topicARN, b.next)
	b.topics[topicARN] = append(subs, subscription{arn: arn, Subscription: s})
	return arn, nil
}

// Publish checks the message as SNS does, then hands it to every subscriber whose filter it
// passes. Subscribers' failures do not reach the publisher. Deliveries run with ctx's values but
// not its cancellation, since they outlive the publish.
func (b *Broker) Publish(ctx context.Context, m topic.Message) (string, error) {
	if err := validate(m); err != nil {
		b.opts.Log.Warn("sns: refused a message", "topic", m.TopicARN, "err", err)
		return "", err
	}
	b.mu.Lock()
	subs, ok := b.topics[m.TopicARN]
	if !ok {
		b.mu.Unlock()
		return "", fmt.Errorf("publish to %s: %w", m.TopicARN, topic.ErrNotFound)
	}
	b.next++
	id := fmt.Sprintf("local-%08d", b.next)
	subs = append([]subscription(nil), subs...)
	b.inFlight.Add(len(subs))
	b.mu.Unlock()

	base := Delivery{MessageID: id, TopicARN: m.TopicARN, Subject: m.Subject, Body: m.Body,
		Attributes: maps.Clone(m.Attributes), Timestamp: b.opts.Now().UTC()}
	if base.Attributes == nil {
		base.Attributes = map[string]string{}
	}
	dctx := context.WithoutCancel(ctx)
	for _, s := range subs {
		d := base
		d.Subscription = s.arn
		d.Attributes = maps.Clone(base.Attributes)
		if s.Filter != nil && !s.Filter.Match(d.Body, d.Attributes) {
			b.inFlight.Done()
			continue
		}
		go func() {
			defer b.inFlight.Done()
			if err := s.Handler(dctx, d); err != nil {
				if b.opts.OnError != nil {
					b.opts.OnError(d, s.Name, err)
					return
				}
				b.opts.Log.Error("sns: subscriber failed", "subscriber", s.Name, "topic", d.TopicARN, "message_id", id, "err", err)
			}
		}()
	}
	return id, nil
}

// Flush waits until every delivery started so far has been handled.
func (b *Broker) Flush() { b.inFlight.Wait() }

func validate(m topic.Message) error {
	var problems []string
	if m.Body == "" {
		problems = append(problems, "empty body")
	}
	if len(m.Body) > MaxBodyBytes {
		problems = append(problems, fmt.Sprintf("body of %d bytes is over %d", len(m.Body), MaxBodyBytes))
	}
	if len(m.Attributes) > 10 {
		problems = append(problems, fmt.Sprintf("%d attributes, over 10", len(m.Attributes)))
	}
	for k, v := range m.Attributes {
		if k == "" || v == "" {
			problems = append(problems, fmt.Sprintf("attribute %q has an empty name or value", k))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("publish to %s: %s: %w", m.TopicARN, strings.Join(problems, "; "), topic.ErrInvalid)
}
