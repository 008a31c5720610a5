// Package edgesync mirrors the state table into the CloudFront KeyValueStore that the copilot
// reads, from each region's table stream and from a scheduled Reconciler that repairs drift,
// never replacing an entry with one from an older version of its instance.
package edgesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/clustered-video-streams/cvs/internal/edgekv"
	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// Instances reads a cluster's instances; state.Store satisfies it.
type Instances interface {
	Instances(ctx context.Context, cluster string) ([]state.Instance, error)
}

// ConflictError says a cluster could not be written because other writers kept changing the
// store (its ETag) for every attempt.
type ConflictError struct {
	Cluster  string
	Attempts int
	Err      error // the last conflict (edgekv.ErrConflict)
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("sync %s: the key value store changed under every one of %d attempts: %v", e.Cluster, e.Attempts, e.Err)
}

func (e *ConflictError) Unwrap() error { return e.Err }

// Syncer writes clusters' entries to one KeyValueStore.
type Syncer struct {
	Store Instances
	// KVS is the key value store the copilot reads: internal/aws/kvs in Lambda,
	// internal/local/kvs on this machine.
	KVS edgekv.Store
	// SteeringTTL is the steering manifest's TTL in seconds (0: edgestate.DefaultSteeringTTL).
	SteeringTTL int
	// MaxAttempts bounds the tries per cluster when writes conflict (0: 8).
	MaxAttempts int
	// Backoff returns the wait before retry n (n >= 1) after a conflict (nil: exponential from
	// 50 ms, capped at 2 s, with full jitter).
	Backoff func(n int) time.Duration
	// Sleep waits (nil: a timer that honours ctx). Tests inject one that does not wait.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger // nil: slog.Default()
}

// Outcome says what one SyncCluster call did.
type Outcome struct {
	Puts, Deletes int
	// Skipped counts instances whose stored entry is from a newer version than this writer's
	// view (a lagging replica): they are left alone, and so is the steering manifest.
	Skipped  int
	Attempts int
}

// SyncCluster makes the store's entries for cluster match the state store: one entry per
// instance, the steering manifest, and no entry for the domains in removed that are no longer
// instances of the cluster. It is idempotent: a cluster already in sync costs reads only.
func (s *Syncer) SyncCluster(ctx context.Context, cluster string, removed []string) (Outcome, error) {
	maxAttempts := s.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 8
	}
	var lastConflict error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		out, err := s.syncOnce(ctx, cluster, removed)
		out.Attempts = attempt
		if !errors.Is(err, edgekv.ErrConflict) {
			return out, err
		}
		lastConflict = err
		if attempt == maxAttempts {
			break
		}
		wait := s.backoff(attempt)
		s.log().Info("edgesync: the key value store changed under us; retrying", "cluster", cluster, "attempt", attempt, "wait", wait)
		if err := s.sleep(ctx, wait); err != nil {
			return Outcome{Attempts: attempt}, fmt.Errorf("sync %s: %w", cluster, err)
		}
	}
	return Outcome{Attempts: maxAttempts}, &ConflictError{Cluster: cluster, Attempts: maxAttempts, Err: lastConflict}
}

// syncOnce reads the store's ETag first and the state and every current value after it, so a
// write that lands between our reads and our UpdateKeys changes the ETag and fails ours with a
// conflict: the decisions below are never made on values older than the ETag we write against,
// and a key another writer put for an instance registered after our state read cannot be taken
// for a removed instance's.
func (s *Syncer) syncOnce(ctx context.Context, cluster string, removed []string) (Outcome, error) {
	etag, err := s.describe(ctx)
	if err != nil {
		return Outcome{}, fmt.Errorf("sync %s: %w", cluster, err)
	}
	instances, err := s.Store.Instances(ctx, cluster)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return Outcome{}, fmt.Errorf("sync %s: read instances: %w", cluster, err)
	}
	p, err := s.plan(ctx, cluster, instances, removed, s.get)
	out := Outcome{Skipped: p.skipped}
	if err != nil {
		return out, fmt.Errorf("sync %s: %w", cluster, err)
	}
	if len(p.writes) == 0 {
		return out, nil
	}
	u, err := s.update(ctx, etag, p.writes)
	if err != nil {
		return out, fmt.Errorf("sync %s: %w", cluster, err)
	}
	out.Puts, out.Deletes = p.count()
	s.log().Info("edgesync: wrote cluster", "cluster", cluster, "puts", out.Puts, "deletes", out.Deletes, "skipped", out.Skipped, "requests", u.requests, "etag", u.etag)
	return out, nil
}

// valueFunc returns what the store holds under a key; found is false when it holds nothing.
// The stream path reads each key (GetKey), the reconcile reads them all at once (ListKeys).
type valueFunc func(ctx context.Context, key string) (value string, found bool, err error)

// write is one put (del false) or delete of a key, for the cluster it belongs to.
type write struct {
	cluster, key, value string
	del                 bool
}

// plan is what one cluster needs written to match the state.
type plan struct {
	writes  []write
	skipped int // instances whose stored entry is newer than the state we read
}

func (p plan) count() (puts, deletes int) {
	for _, w := range p.writes {
		if w.del {
			deletes++
		} else {
			puts++
		}
	}
	return puts, deletes
}

// plan decides the writes that make the store's entries for cluster match instances: one entry
// per instance, the steering manifest, and no entry for the domains in removed that are no
// longer instances of the cluster (and whose stored entry, if any, names this cluster or cannot
// be read). An entry of this cluster from a newer version than the instance's is left alone,
// and then so is the steering manifest, since it is computed from the same lagging view.
// Stream and reconcile share it; current says what the store holds.
func (s *Syncer) plan(ctx context.Context, cluster string, instances []state.Instance, removed []string, current valueFunc) (plan, error) {
	want, err := edgestate.Entries(cluster, instances, s.SteeringTTL)
	if err != nil {
		return plan{}, err
	}
	var p plan
	put := func(key string) { p.writes = append(p.writes, write{cluster: cluster, key: key, value: want[key]}) }
	del := func(key string) { p.writes = append(p.writes, write{cluster: cluster, key: key, del: true}) }
	viewIsCurrent := true
	for _, in := range instances {
		key := edgestate.InstanceKey(in.Domain)
		cur, found, err := current(ctx, key)
		if err != nil {
			return p, err
		}
		if found {
			// Versions count within one cluster only: a domain registered again under another
			// cluster starts a new count.
			if v, err := edgestate.DecodeInstance(cur); err == nil && v.Cluster == cluster && v.Version > in.Version {
				// Another writer saw a newer version of this instance than our replica has.
				p.skipped++
				viewIsCurrent = false
				continue
			}
			if cur == want[key] {
				continue
			}
		}
		put(key)
	}
	for _, domain := range removed {
		if slices.ContainsFunc(instances, func(in state.Instance) bool { return in.Domain == domain }) {
			continue
		}
		key := edgestate.InstanceKey(domain)
		cur, found, err := current(ctx, key)
		if err != nil {
			return p, err
		}
		// Leave the key alone if the domain now belongs to another cluster.
		if v, err := edgestate.DecodeInstance(cur); found && (err != nil || v.Cluster == cluster) {
			del(key)
		}
	}
	if viewIsCurrent {
		key := edgestate.SteeringKey(cluster)
		cur, found, err := current(ctx, key)
		if err != nil {
			return p, err
		}
		switch v, ok := want[key]; {
		case ok && (!found || cur != v):
			put(key)
		case !ok && found:
			del(key)
		}
	}
	return p, nil
}

// MaxKeysPerUpdate is the most puts and deletes the KeyValueStore takes in one UpdateKeys
// request (the service's quota: 50 keys or a 3 MB payload, whichever comes first).
const MaxKeysPerUpdate = edgekv.MaxWrites

// maxUpdatePayload keeps a request's keys and values well under the 3 MB payload limit, with
// room for the JSON around them. With keys of at most 512 bytes and values of at most 1 KB, 50
// keys never come near it; the check is there so a change of either limit cannot break writes.
const maxUpdatePayload = 3<<20 - 64<<10

// updated is how far update got.
type updated struct {
	etag     string // the store's ETag after the last write that landed
	done     int    // how many writes (from the start) landed
	requests int    // UpdateKeys requests that landed
}

// update writes in as many UpdateKeys requests as the service's limits need, each against the
// ETag the previous one returned, so the writes after the first succeed only if nobody else
// wrote in between. On an error, the request that failed and every one after it did not land.
func (s *Syncer) update(ctx context.Context, etag string, writes []write) (updated, error) {
	u := updated{etag: etag}
	for u.done < len(writes) {
		var batch []edgekv.Write
		puts, size := 0, 0
		for _, w := range writes[u.done:] {
			if len(batch) == MaxKeysPerUpdate || (len(batch) > 0 && size+len(w.key)+len(w.value) > maxUpdatePayload) {
				break
			}
			size += len(w.key) + len(w.value)
			batch = append(batch, edgekv.Write{Key: w.key, Value: w.value, Delete: w.del})
			if !w.del {
				puts++
			}
		}
		etag, err := s.KVS.Update(ctx, u.etag, batch)
		if err != nil {
			return u, fmt.Errorf("update %d keys, delete %d: %w", puts, len(batch)-puts, err)
		}
		u.done += len(batch)
		u.requests++
		if etag == "" && u.done < len(writes) {
			return u, errors.New("update keys returned no ETag to write the rest against")
		}
		u.etag = etag
	}
	return u, nil
}

// describe returns the store's current ETag.
func (s *Syncer) describe(ctx context.Context) (string, error) {
	desc, err := s.KVS.Describe(ctx)
	if err != nil {
		return "", err
	}
	return desc.ETag, nil
}

// get reads one key; found is false when the store does not hold it.
func (s *Syncer) get(ctx context.Context, key string) (value string, found bool, err error) {
	value, err = s.KVS.Get(ctx, key)
	if errors.Is(err, edgekv.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return value, true, nil
}

func (s *Syncer) backoff(n int) time.Duration {
	if s.Backoff != nil {
		return s.Backoff(n)
	}
	ceiling := min(50*time.Millisecond<<min(n-1, 10), 2*time.Second)
	return rand.N(ceiling) + time.Millisecond
}

func (s *Syncer) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Syncer) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
