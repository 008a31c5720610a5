package statetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// PropertyResult totals a run of CloseProperty.
type PropertyResult struct {
	Seed                 uint64
	Trials               int
	Instances            int
	ClosesAttempted      int64
	ClosesSucceeded      int64 // returned no error (a close, or a no-op on a closed instance)
	ClosesWritten        int64 // non-forced close records in the audit trail
	ClosesRefused        int64 // *state.GuardError
	ClosesConflicted     int64 // state.ErrVersionConflict after the store's retries
	NothingOpen          int   // clusters left with no open instance: must be 0
	NothingHealthyOpen   int   // clusters left with no open, fresh, vouched-for instance: must be 0
	SilentFresh          int64 // open, fresh instances whose detector went silent (traps for the guard)
	Elapsed              time.Duration
	SetupWrites          int64
	UnexpectedErrorCount int64
}

func (r PropertyResult) String() string {
	return fmt.Sprintf("seed=%d trials=%d instances=%d (open and fresh but silent detector: %d) closes attempted=%d succeeded=%d (written %d) refused=%d conflicted=%d; clusters with nothing open=%d, with nothing healthy open=%d; setup writes=%d; %v",
		r.Seed, r.Trials, r.Instances, r.SilentFresh, r.ClosesAttempted, r.ClosesSucceeded, r.ClosesWritten, r.ClosesRefused, r.ClosesConflicted,
		r.NothingOpen, r.NothingHealthyOpen, r.SetupWrites, r.Elapsed.Round(time.Millisecond))
}

// Reporter is what CloseProperty reports to; *testing.T is one. A test of the property itself
// passes a recorder, to show that a store without the guard fails it.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Failed() bool
}

// CloseProperty checks design.md invariant 5.1 by random trials: each trial builds a fresh
// cluster of 2 to 5 instances with random health, open state and detector heartbeat (recent, or
// silent for longer than the heartbeat max age), at least one of them open, fresh and vouched
// for, then closes random instances from as many goroutines at once (never forced). No trial
// may end with nothing open, or with nothing open, fresh and vouched for (HealthyAt): a close
// commits only while another instance is, and neither health nor the clock changes during the
// closes. Trials run on a pool of workers goroutines, each with its own clock and its own store
// from newStore (the stores may share one table: every trial has its own cluster and domains).
// The seed comes from CVS_PROPERTY_SEED when set, so a failure can be replayed (the
// goroutines' interleaving cannot).
func CloseProperty(t Reporter, newStore func(now func() time.Time) state.Store, trials, workers int) PropertyResult {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CVS_PROPERTY_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CVS_PROPERTY_SEED=%q: %v", v, err)
		}
		seed = n
	}
	res := PropertyResult{Seed: seed, Trials: trials}
	var (
		attempted, succeeded, written, refused, conflicted, setup, unexpected atomic.Int64
		instances, silentFresh                                                atomic.Int64
		mu                                                                    sync.Mutex
		nothingOpen, nothingHealthy                                           int
	)
	start := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			clk := NewClock(T0)
			s := newStore(clk.Now)
			for trial := range jobs {
				o := runTrial(t, s, clk, seed, trial)
				instances.Add(int64(o.instances))
				silentFresh.Add(o.silentFresh)
				attempted.Add(o.attempted)
				succeeded.Add(o.succeeded)
				written.Add(o.written)
				refused.Add(o.refused)
				conflicted.Add(o.conflicted)
				setup.Add(o.setup)
				unexpected.Add(o.unexpected)
				mu.Lock()
				// A trial cut short by a store error (reported as such) says nothing of the guard.
				if !o.aborted && !o.anyOpen {
					nothingOpen++
				}
				if !o.aborted && !o.anyHealthy {
					nothingHealthy++
				}
				mu.Unlock()
			}
		})
	}
	for trial := range trials {
		if t.Failed() && unexpected.Load() > 20 {
			break // the store is broken; do not drown the log
		}
		jobs <- trial
	}
	close(jobs)
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Instances = int(instances.Load())
	res.ClosesAttempted, res.ClosesSucceeded, res.ClosesWritten = attempted.Load(), succeeded.Load(), written.Load()
	res.ClosesRefused, res.ClosesConflicted = refused.Load(), conflicted.Load()
	res.SetupWrites, res.UnexpectedErrorCount = setup.Load(), unexpected.Load()
	res.NothingOpen, res.NothingHealthyOpen = nothingOpen, nothingHealthy
	res.SilentFresh = silentFresh.Load()
	if res.NothingOpen != 0 || res.NothingHealthyOpen != 0 {
		t.Errorf("%d clusters left with nothing open and %d with nothing open, fresh and vouched for by its detector, want 0 (seed %d)", res.NothingOpen, res.NothingHealthyOpen, seed)
	}
	if res.ClosesSucceeded+res.ClosesRefused+res.ClosesConflicted != res.ClosesAttempted {
		t.Errorf("closes: %d succeeded + %d refused + %d conflicted != %d attempted", res.ClosesSucceeded, res.ClosesRefused, res.ClosesConflicted, res.ClosesAttempted)
	}
	return res
}

type trialOutcome struct {
	instances                                                             int
	attempted, succeeded, written, refused, conflicted, setup, unexpected int64
	silentFresh                                                           int64
	anyOpen, anyHealthy                                                   bool
	aborted                                                               bool // setup or read-back failed: no verdict
}

var trialHealths = []state.Health{state.HealthFresh, state.HealthStale, state.HealthUnreachable, state.HealthUnknown, state.HealthEnded}

func runTrial(t Reporter, s state.Store, clk *Clock, seed uint64, trial int) trialOutcome {
	rng := rand.New(rand.NewPCG(seed, uint64(trial)))
	cluster := fmt.Sprintf("trial-%d-%05d", seed%100000, trial)
	n := 2 + rng.IntN(4)
	o := trialOutcome{instances: n}
	type spec struct {
		domain string
		health state.Health
		open   bool
		silent bool // its detector last vouched for it longer than the max age ago
	}
	specs := make([]spec, n)
	healthyOne := rng.IntN(n) // at least one open, fresh and vouched for
	for i := range specs {
		// Domains are the cluster's own: a domain belongs to one cluster only.
		specs[i] = spec{domain: fmt.Sprintf("d%d.%s.example", i, cluster), health: trialHealths[rng.IntN(len(trialHealths))],
			open: rng.IntN(3) > 0, silent: rng.IntN(3) == 0}
		if i == healthyOne {
			specs[i].health, specs[i].open, specs[i].silent = state.HealthFresh, true, false
		}
		if specs[i].health == state.HealthFresh && specs[i].open && specs[i].silent {
			o.silentFresh++
		}
	}
	setupBy := state.Change{By: "property-setup", Reason: "trial", Force: true}
	fail := func(format string, args ...any) trialOutcome {
		t.Errorf("trial %d: "+format, append([]any{trial}, args...)...)
		o.unexpected++
		o.aborted = true
		return o
	}
	for _, sp := range specs {
		if _, err := s.Register(ctx, registration(cluster, sp.domain), setupBy); err != nil {
			return fail("Register(%s): %v", sp.domain, err)
		}
		o.setup++
	}
	// Health records of the silent instances first; then the clock moves past the max age, and
	// the others' detectors vouch for them.
	for _, silent := range []bool{true, false} {
		for _, sp := range specs {
			if sp.silent != silent || sp.health == state.HealthUnknown {
				continue
			}
			if _, err := s.RecordHealth(ctx, cluster, sp.domain, sp.health, setupBy); err != nil {
				return fail("RecordHealth(%s): %v", sp.domain, err)
			}
			o.setup++
		}
		if silent {
			clk.Advance(maxAge + time.Minute)
		}
	}
	for _, sp := range specs {
		if !sp.open {
			if _, err := s.Close(ctx, cluster, sp.domain, setupBy); err != nil {
				return fail("forced Close(%s): %v", sp.domain, err)
			}
			o.setup++
		}
	}

	closers := make([]string, n)
	for i := range closers {
		closers[i] = specs[rng.IntN(n)].domain
	}
	var wg sync.WaitGroup
	var attempted, succeeded, refused, conflicted, unexpected atomic.Int64
	gate := make(chan struct{})
	for _, d := range closers {
		wg.Go(func() {
			<-gate // start together, to race
			attempted.Add(1)
			_, err := s.Close(ctx, cluster, d, state.Change{By: "property-workflow", Reason: "stale"})
			var guard *state.GuardError
			switch {
			case err == nil:
				succeeded.Add(1)
			case errors.As(err, &guard):
				refused.Add(1)
			case errors.Is(err, state.ErrVersionConflict):
				conflicted.Add(1)
			default:
				unexpected.Add(1)
				t.Errorf("trial %d: Close(%s): %v", trial, d, err)
			}
		})
	}
	close(gate)
	wg.Wait()
	o.attempted, o.succeeded, o.refused, o.conflicted = attempted.Load(), succeeded.Load(), refused.Load(), conflicted.Load()
	o.unexpected += unexpected.Load()

	ins, err := s.Instances(ctx, cluster)
	if err != nil {
		t.Errorf("trial %d: Instances: %v", trial, err)
		o.unexpected++
		o.aborted = true
		return o
	}
	closedNow := 0
	for i, in := range ins {
		o.anyOpen = o.anyOpen || in.Open
		o.anyHealthy = o.anyHealthy || in.HealthyAt(clk.Now(), maxAge)
		if specs[i].domain != in.Domain {
			t.Errorf("trial %d: instance %d is %s, want %s", trial, i, in.Domain, specs[i].domain)
		}
		if specs[i].open && !in.Open {
			closedNow++
		}
	}
	if !o.anyOpen || !o.anyHealthy {
		t.Errorf("trial %d (%s): nothing open, fresh and vouched for left: before %+v, after %+v", trial, cluster, specs, ins)
	}
	// Every close that changed something left exactly one non-forced audit record.
	q := state.HistoryQuery{Cluster: cluster, Limit: state.MaxHistoryLimit}
	p, err := s.History(ctx, q)
	if err != nil {
		t.Errorf("trial %d: History: %v", trial, err)
		o.unexpected++
		return o
	}
	for _, r := range p.Records {
		if r.Field == state.FieldOpen && r.After == "false" && !r.Force {
			o.written++
		}
	}
	if o.written != int64(closedNow) {
		t.Errorf("trial %d: %d instances closed by the racing closers but %d close records", trial, closedNow, o.written)
	}
	return o
}
