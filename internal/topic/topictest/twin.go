package topictest

import (
	"context"
	"sync"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/local/sns"
)

// Twin returns a harness over a new in-process SNS twin.
func Twin(t *testing.T) Harness {
	b := sns.New(sns.Options{})
	return Harness{
		Publisher:   b,
		CreateTopic: func(_ *testing.T, name string) string { return b.CreateTopic(name) },
		Subscribe: func(t *testing.T, arn, policy, scope string) func(*testing.T) []Received {
			t.Helper()
			var mu sync.Mutex
			var got []Received
			s := sns.Subscription{Name: "test", Handler: func(_ context.Context, d sns.Delivery) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, Received{Subject: d.Subject, Body: d.Body, Attributes: d.Attributes})
				return nil
			}}
			if policy != "" {
				f, err := sns.ParseFilter([]byte(policy), sns.Scope(scope))
				if err != nil {
					t.Fatalf("filter policy %s: %v", policy, err)
				}
				s.Filter = f
			}
			if _, err := b.Subscribe(arn, s); err != nil {
				t.Fatal(err)
			}
			return func(*testing.T) []Received {
				b.Flush()
				mu.Lock()
				defer mu.Unlock()
				return append([]Received(nil), got...)
			}
		},
	}
}
