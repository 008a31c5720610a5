package dynamo_test

import (
	"sync"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

// TestCloseProperty: design.md invariant 5.1 under concurrent closers on DynamoDB Local (see
// statetest.CloseProperty): 1,000 trials on one table, 8 trials at a time (DynamoDB Local
// serves requests on many threads; 8 keep both cores busy while a request waits).
func TestCloseProperty(t *testing.T) {
	d := db.Get(t)
	client := d.Client("eu-west-1")
	table := d.StateTable(t)
	var (
		mu     sync.Mutex
		stores []*dynamo.Store
	)
	// One store per worker, each with the worker's clock, all on one table.
	res := statetest.CloseProperty(t, func(now func() time.Time) state.Store {
		s, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "eu-west-1", Control: client, Local: client, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		stores = append(stores, s)
		return s
	}, 1000, 8)
	var retries, guardRetries int64
	for _, s := range stores {
		retries += s.Stats().Retries
		guardRetries += s.Stats().GuardRetries
	}
	t.Logf("DynamoDB Local: %v; transactions retried after a conflict: %d, after the guard's peer changed: %d",
		res, retries, guardRetries)
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
