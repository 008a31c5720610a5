package dynamo_test

import (
	"testing"

	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

// TestCloseProperty: design.md invariant 5.1 under concurrent closers on DynamoDB Local (see
// statetest.CloseProperty): 1,000 trials on one table, 8 trials at a time (DynamoDB Local
// serves requests on many threads; 8 keep both cores busy while a request waits).
func TestCloseProperty(t *testing.T) {
	d := db.Get(t)
	client := d.Client("eu-west-1")
	s, err := dynamo.New(dynamo.Config{Table: d.StateTable(t), ControlRegion: "eu-west-1", Control: client, Local: client})
	if err != nil {
		t.Fatal(err)
	}
	res := statetest.CloseProperty(t, s, 1000, 8)
	st := s.Stats()
	t.Logf("DynamoDB Local: %v; transactions retried after a conflict: %d, after the guard's peer changed: %d",
		res, st.Retries, st.GuardRetries)
}

// BenchmarkStore measures the store on DynamoDB Local (loopback, one JVM): figures for the
// store's own overhead and transaction count, not for DynamoDB's latency in AWS.
func BenchmarkStore(b *testing.B) {
	d := db.Get(b)
	client := d.Client("eu-west-1")
	s, err := dynamo.New(dynamo.Config{Table: d.StateTable(b), Control: client, Local: client})
	if err != nil {
		b.Fatal(err)
	}
	statetest.Benchmarks(b, s)
}
