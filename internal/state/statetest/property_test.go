package statetest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

// unguarded is a store whose Close has no peer check: every close is forced through the store's
// public API, the way a store that forgot the guard would close.
type unguarded struct{ state.Store }

func (u unguarded) Close(ctx context.Context, cluster, domain string, c state.Change) (state.Instance, error) {
	c.Force = true
	return u.Store.Close(ctx, cluster, domain, c)
}

// recorder collects what CloseProperty reports instead of failing the test.
type recorder struct {
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errors) > 0
}

// TestClosePropertyCanFail runs the guard property against a store whose closes skip the peer
// check and expects it to find clusters left with nothing open: a property that cannot fail
// would prove nothing about the stores that pass it.
func TestClosePropertyCanFail(t *testing.T) {
	for _, tc := range []struct {
		name     string
		newStore func(now func() time.Time) state.Store
		wantFail bool
	}{
		{"memory store with the guard passes", func(now func() time.Time) state.Store { return memory.New(now) }, false},
		{"memory store without the peer check fails", func(now func() time.Time) state.Store { return unguarded{memory.New(now)} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			res := statetest.CloseProperty(rec, tc.newStore, 200, 4)
			t.Logf("%s", res)
			found := res.NothingOpen+res.NothingHealthyOpen > 0
			var reported bool
			for _, e := range rec.errors {
				reported = reported || strings.Contains(e, "nothing open")
			}
			if found != tc.wantFail || reported != tc.wantFail || rec.Failed() != tc.wantFail {
				t.Fatalf("violations found %v, reported %v, failed %v; want %v (errors: %d, first: %q)",
					found, reported, rec.Failed(), tc.wantFail, len(rec.errors), first(rec.errors))
			}
		})
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
