// Package topictest is the contract every topic.Publisher passes, with the subscriber side it
// needs to see deliveries: the SNS adapter (against moto_server) and the in-process twin run the
// same tests, filter policies included, which cross-checks the twin's filtering against moto's.
package topictest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/topic"
)

// Received is one delivered message as a subscriber saw it.
type Received struct {
	Subject    string
	Body       string
	Attributes map[string]string
}

// Harness is a publisher with the means to make topics and subscribers.
type Harness struct {
	Publisher topic.Publisher
	// CreateTopic makes a topic and returns its ARN.
	CreateTopic func(t *testing.T, name string) string
	// Subscribe adds a subscriber to a topic, with a filter policy (JSON, "" for none) of scope
	// ("MessageAttributes" or "MessageBody"), and returns a function that returns what it
	// received once every delivery of what was published before the call has landed.
	Subscribe func(t *testing.T, topicARN, policy, scope string) func(t *testing.T) []Received
}

// Run runs the contract on harnesses made by open, one per test.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	ctx := context.Background()
	t.Run("publish delivers body, subject and attributes", func(t *testing.T) {
		h := open(t)
		arn := h.CreateTopic(t, "detector")
		got := h.Subscribe(t, arn, "", "")
		m := topic.Message{TopicARN: arn, Subject: "stale", Body: `{"event":"stale"}`,
			Attributes: map[string]string{"event": "stale", "cluster": "news", "region": "eu-west-1"}}
		id, err := h.Publisher.Publish(ctx, m)
		if err != nil || id == "" {
			t.Fatalf("Publish = %q, %v", id, err)
		}
		want := []Received{{Subject: m.Subject, Body: m.Body, Attributes: m.Attributes}}
		if diff := cmp.Diff(want, got(t)); diff != "" {
			t.Fatalf("received (-want +got):\n%s", diff)
		}
	})
	t.Run("publish to a missing topic is ErrNotFound", func(t *testing.T) {
		h := open(t)
		arn := h.CreateTopic(t, "exists")
		missing := arn[:len(arn)-len("exists")] + "missing"
		if _, err := h.Publisher.Publish(ctx, topic.Message{TopicARN: missing, Body: "{}"}); !errors.Is(err, topic.ErrNotFound) {
			t.Fatalf("Publish to a missing topic: %v, want topic.ErrNotFound", err)
		}
	})
	for _, c := range FilterCases {
		t.Run("filter "+c.Name, func(t *testing.T) {
			CheckFilter(t, open(t), c.Policy, c.Scope, c.Messages, c.Want)
		})
	}
}

// FilterCase is a filter policy and which of some messages pass it.
type FilterCase struct {
	Name     string
	Policy   string
	Scope    string
	Messages []topic.Message // TopicARN is filled in
	Want     []bool
}

func attrs(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func bodies(b ...string) []topic.Message {
	var ms []topic.Message
	for _, s := range b {
		ms = append(ms, topic.Message{Body: s})
	}
	return ms
}

// detector is a detector event's attributes.
func detector(event, cluster string) topic.Message {
	return topic.Message{Body: fmt.Sprintf(`{"event":%q,"cluster":%q}`, event, cluster), Attributes: attrs("event", event, "cluster", cluster, "region", "eu-west-1")}
}

// FilterCases are the operators the twin supports, on attributes and on bodies.
var FilterCases = []FilterCase{
	{Name: "attribute exact strings", Policy: `{"event":["stale","unreachable"]}`, Scope: "MessageAttributes",
		Messages: []topic.Message{detector("stale", "news"), detector("fresh", "news"), detector("unreachable", "sport")},
		Want:     []bool{true, false, true}},
	{Name: "attribute keys are ANDed", Policy: `{"event":["stale"],"cluster":["news"]}`, Scope: "MessageAttributes",
		Messages: []topic.Message{detector("stale", "news"), detector("stale", "sport"), detector("fresh", "news")},
		Want:     []bool{true, false, false}},
	{Name: "attribute prefix and suffix", Policy: `{"cluster":[{"prefix":"news-"},{"suffix":"-hd"}]}`, Scope: "MessageAttributes",
		Messages: []topic.Message{detector("stale", "news-1"), detector("stale", "sport-hd"), detector("stale", "sport")},
		Want:     []bool{true, true, false}},
	{Name: "attribute anything-but", Policy: `{"event":[{"anything-but":["fresh","ended"]}]}`, Scope: "MessageAttributes",
		Messages: []topic.Message{detector("stale", "news"), detector("fresh", "news"), detector("ended", "news"), {Body: "{}"}},
		Want:     []bool{true, false, false, false}},
	{Name: "attribute exists", Policy: `{"cluster":[{"exists":true}],"missing":[{"exists":false}]}`, Scope: "MessageAttributes",
		Messages: []topic.Message{detector("stale", "news"), {Body: "{}", Attributes: attrs("missing", "x", "cluster", "c")}, {Body: "{}"}},
		Want:     []bool{true, false, false}},
	{Name: "body nested keys through an array", Scope: "MessageBody",
		Policy: `{"Records":{"s3":{"object":{"key":["primary/index.m3u8","primary%2Findex.m3u8"]}}}}`,
		Messages: bodies(
			`{"Records":[{"s3":{"object":{"key":"primary/index.m3u8"}}}]}`,
			`{"Records":[{"s3":{"object":{"key":"primary%2Findex.m3u8"}}}]}`,
			`{"Records":[{"s3":{"object":{"key":"primary/video.m3u8"}}}]}`,
			`{"Records":[]}`,
			`not json`),
		Want: []bool{true, true, false, false, false}},
	{Name: "body prefix, suffix, anything-but and exists", Scope: "MessageBody",
		Policy: `{"key":[{"prefix":"failover/"}],"kind":[{"anything-but":"segment"}],"size":[{"exists":true}]}`,
		Messages: bodies(
			`{"key":"failover/a.m3u8","kind":"master","size":1}`,
			`{"key":"primary/a.m3u8","kind":"master","size":1}`,
			`{"key":"failover/a.ts","kind":"segment","size":1}`,
			`{"key":"failover/a.m3u8","kind":"master"}`),
		Want: []bool{true, false, false, false}},
}

// CheckFilter subscribes one subscriber with policy and scope and one without, publishes
// msgs, and checks which the filtered one received.
func CheckFilter(t *testing.T, h Harness, policy, scope string, msgs []topic.Message, want []bool) {
	t.Helper()
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, %d expectations", len(msgs), len(want))
	}
	arn := h.CreateTopic(t, "filtered")
	filtered := h.Subscribe(t, arn, policy, scope)
	all := h.Subscribe(t, arn, "", "")
	var wantBodies []string
	for i, m := range msgs {
		// Bodies tell the messages apart: make each one distinct.
		m.TopicARN = arn
		if _, err := h.Publisher.Publish(context.Background(), m); err != nil {
			t.Fatalf("publish message %d: %v", i, err)
		}
		if want[i] {
			wantBodies = append(wantBodies, m.Body)
		}
	}
	var gotBodies []string
	for _, r := range filtered(t) {
		gotBodies = append(gotBodies, r.Body)
	}
	slices.Sort(gotBodies)
	slices.Sort(wantBodies)
	if diff := cmp.Diff(wantBodies, gotBodies); diff != "" {
		t.Errorf("policy %s (%s): received bodies (-want +got):\n%s", policy, scope, diff)
	}
	if n := len(all(t)); n != len(msgs) {
		t.Errorf("the unfiltered subscriber received %d of %d messages", n, len(msgs))
	}
}
