package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestFailoverOnDynamoDBLocal runs the workflows with the real tasks on the DynamoDB store, on
// a state table in DynamoDB Local defined as the template defines it: the guard refuses, a
// confirmed stale event closes, a later event finds it closed, and failback reopens.
func TestFailoverOnDynamoDBLocal(t *testing.T) {
	d := testenv.DynamoDB(t)
	client := d.Client("us-east-1")
	table := d.StateTable(t)
	var store *dynamo.Store
	w := newFoWorld(t, foStart, func(now func() time.Time) state.Store {
		// The test clock stands in 2025, so audit records would expire (expires_at) in the past
		// and DynamoDB Local's TTL would delete them mid-test: keep them long enough to outlive it.
		s, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "us-east-1", Control: client, Now: now,
			AuditRetention: 50 * 365 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		store = s
		return s
	}, nil)
	w.register()
	w.origin.serve(foStalled(18234))
	run := func(what string, ex *asl.Execution, outcome, summary string) {
		t.Helper()
		if ex.Status != asl.StatusSucceeded {
			t.Fatalf("%s: %s %s (%s)", what, ex.Status, ex.Error, ex.Cause)
		}
		_, msg := w.notification()
		if msg["outcome"] != outcome {
			t.Fatalf("%s: notified %v, want %s (%v)", what, msg["outcome"], outcome, msg["summary"])
		}
		if s, _ := msg["summary"].(string); !strings.Contains(s, summary) {
			t.Errorf("%s: summary %q does not say %q", what, s, summary)
		}
	}

	// The peer is stale: closing the last healthy instance is refused, and nothing is written.
	w.health(foPeer, state.HealthStale)
	before := w.snapshot()
	e42 := w.event("stale", 42, foDetected, foLastChange, 18234)
	run("failover #42 with no healthy peer", w.runFailover(e42), "refused", "no other instance of the cluster is open and healthy")
	if diff := cmp.Diff(before, w.snapshot()); diff != "" {
		t.Errorf("the refusal wrote (-before +after):\n%s", diff)
	}

	// The peer recovers; the duplicate of #42 (a new execution in this interpreter) now closes.
	w.health(foPeer, state.HealthFresh)
	run("failover #42 with a healthy peer", w.runFailover(e42), "closed", "Closed d111111abcdef8.cloudfront.net")
	e44 := w.event("unreachable", 44, w.clock.Now(), foLastChange, 18234)
	run("failover #44", w.runFailover(e44), "already_closed", "was already closed; nothing was changed: already closed at")

	// The origin recovers; failback reopens after the hold-down.
	w.clock.Advance(5 * time.Minute)
	w.origin.serve(foAdvancing(18240, w.clock.Now().Add(-30*time.Second)))
	e45 := w.event("fresh", 45, w.clock.Now(), w.clock.Now().Add(-time.Second), 18244)
	run("failback #45", w.runFailback(e45), "reopened", "Reopened d111111abcdef8.cloudfront.net")

	want := []string{
		"distro_open true -> false by " + foExecArn("cvs-failover", e42),
		"distro_open false -> true by " + foExecArn("cvs-failback", e45),
	}
	if diff := cmp.Diff(want, w.snapshot().openChanges()); diff != "" {
		t.Errorf("open changes in DynamoDB Local (-want +got):\n%s", diff)
	}
	in, err := store.Instance(context.Background(), foCluster, foOurs)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Open || in.ChangedBy != foExecArn("cvs-failback", e45) {
		t.Errorf("instance open=%v changed_by=%s, want open by the failback execution", in.Open, in.ChangedBy)
	}
	if !strings.HasPrefix(in.Reason, "origin fresh through a 300-second hold-down after detector fresh event #45") {
		t.Errorf("instance reason %q", in.Reason)
	}
}
