package dynamo_test

import (
	"os"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// db is one DynamoDB Local for the package's tests; each test gets its own table.
var db testenv.SharedDynamoDB

func TestMain(m *testing.M) {
	code := m.Run()
	db.Stop()
	os.Exit(code)
}

// newStore returns a store on a fresh table whose control and local clients are the same
// DynamoDB Local.
func newStore(t *testing.T, now func() time.Time) *dynamo.Store {
	t.Helper()
	d := db.Get(t)
	client := d.Client("eu-west-1")
	s, err := dynamo.New(dynamo.Config{
		Table:         d.StateTable(t),
		ControlRegion: "eu-west-1",
		Control:       client,
		Local:         client,
		Now:           now,
	})
	if err != nil {
		t.Fatalf("dynamo.New: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	statetest.Run(t, func(t *testing.T, now func() time.Time) state.Store { return newStore(t, now) })
}

func TestHeartbeat(t *testing.T) {
	statetest.RunHeartbeat(t, func(t *testing.T, now func() time.Time, maxAge time.Duration) (state.Store, statetest.DetectorSaver) {
		d := db.Get(t)
		client := d.Client("eu-west-1")
		s, err := dynamo.New(dynamo.Config{Table: d.StateTable(t), ControlRegion: "eu-west-1", Control: client, Now: now, HeartbeatMaxAge: maxAge})
		if err != nil {
			t.Fatalf("dynamo.New: %v", err)
		}
		return s, s
	})
}
