// Package edgesync mirrors the state table into the CloudFront KeyValueStore that the copilot
// reads: for every changed cluster it writes each instance's entry and the cluster's steering
// manifest (internal/edge/edgestate). It runs in every region, on that region's stream of the
// global table, so several writers update one store at once: every write carries the store's
// ETag, a conflict re-reads and retries with backoff, and an entry is never replaced by one
// from an older version of its instance, so a lagging replica cannot undo a newer write.
// Stream records that change nothing the edge reads (a MODIFY that keeps the version: the
// detector saving its memory) cause no sync at all.
package edgesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	kvstypes "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore/types"

	"github.com/clustered-video-streams/cvs/internal/edge/edgestate"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// Instances reads a cluster's instances; state.Store satisfies it.
type Instances interface {
	Instances(ctx context.Context, cluster string) ([]state.Instance, error)
}

// KVS is the part of the CloudFront KeyValueStore API edgesync calls;
// *cloudfrontkeyvaluestore.Client satisfies it.
type KVS interface {
	DescribeKeyValueStore(ctx context.Context, in *kvs.DescribeKeyValueStoreInput, optFns ...func(*kvs.Options)) (*kvs.DescribeKeyValueStoreOutput, error)
	GetKey(ctx context.Context, in *kvs.GetKeyInput, optFns ...func(*kvs.Options)) (*kvs.GetKeyOutput, error)
	UpdateKeys(ctx context.Context, in *kvs.UpdateKeysInput, optFns ...func(*kvs.Options)) (*kvs.UpdateKeysOutput, error)
}

// ConflictError says a cluster could not be written because other writers kept changing the
// store (its ETag) for every attempt.
type ConflictError struct {
	Cluster  string
	Attempts int
	Err      error // the last ConflictException
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("sync %s: the key value store changed under every one of %d attempts: %v", e.Cluster, e.Attempts, e.Err)
}

func (e *ConflictError) Unwrap() error { return e.Err }

// Syncer writes clusters' entries to one KeyValueStore.
type Syncer struct {
	Store  Instances
	KVS    KVS
	KVSARN string
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
		var conflict *kvstypes.ConflictException
		if !errors.As(err, &conflict) {
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

// syncOnce reads the store's ETag first and every current value after it, so a write that
// lands between our reads and our UpdateKeys changes the ETag and fails ours with a conflict:
// the decisions below are never made on values older than the ETag we write against.
func (s *Syncer) syncOnce(ctx context.Context, cluster string, removed []string) (Outcome, error) {
	instances, err := s.Store.Instances(ctx, cluster)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return Outcome{}, fmt.Errorf("sync %s: read instances: %w", cluster, err)
	}
	want, err := edgestate.Entries(cluster, instances, s.SteeringTTL)
	if err != nil {
		return Outcome{}, fmt.Errorf("sync %s: %w", cluster, err)
	}
	desc, err := s.KVS.DescribeKeyValueStore(ctx, &kvs.DescribeKeyValueStoreInput{KvsARN: aws.String(s.KVSARN)})
	if err != nil {
		return Outcome{}, fmt.Errorf("sync %s: describe key value store: %w", cluster, err)
	}
	if desc.ETag == nil {
		return Outcome{}, fmt.Errorf("sync %s: describe key value store returned no ETag", cluster)
	}

	var out Outcome
	var puts []kvstypes.PutKeyRequestListItem
	var deletes []kvstypes.DeleteKeyRequestListItem
	viewIsCurrent := true
	for _, in := range instances {
		key := edgestate.InstanceKey(in.Domain)
		cur, found, err := s.get(ctx, key)
		if err != nil {
			return out, fmt.Errorf("sync %s: %w", cluster, err)
		}
		if found {
			if v, err := edgestate.DecodeInstance(cur); err == nil && v.Version > in.Version {
				// Another writer saw a newer version of this instance than our replica has.
				out.Skipped++
				viewIsCurrent = false
				continue
			}
			if cur == want[key] {
				continue
			}
		}
		puts = append(puts, kvstypes.PutKeyRequestListItem{Key: aws.String(key), Value: aws.String(want[key])})
	}
	for _, domain := range removed {
		if slices.ContainsFunc(instances, func(in state.Instance) bool { return in.Domain == domain }) {
			continue
		}
		key := edgestate.InstanceKey(domain)
		cur, found, err := s.get(ctx, key)
		if err != nil {
			return out, fmt.Errorf("sync %s: %w", cluster, err)
		}
		// Leave the key alone if the domain now belongs to another cluster.
		if v, err := edgestate.DecodeInstance(cur); found && (err != nil || v.Cluster == cluster) {
			deletes = append(deletes, kvstypes.DeleteKeyRequestListItem{Key: aws.String(key)})
		}
	}
	if viewIsCurrent {
		key := edgestate.SteeringKey(cluster)
		cur, found, err := s.get(ctx, key)
		if err != nil {
			return out, fmt.Errorf("sync %s: %w", cluster, err)
		}
		switch v, ok := want[key]; {
		case ok && (!found || cur != v):
			puts = append(puts, kvstypes.PutKeyRequestListItem{Key: aws.String(key), Value: aws.String(v)})
		case !ok && found:
			deletes = append(deletes, kvstypes.DeleteKeyRequestListItem{Key: aws.String(key)})
		}
	}
	if len(puts) == 0 && len(deletes) == 0 {
		return out, nil
	}
	_, err = s.KVS.UpdateKeys(ctx, &kvs.UpdateKeysInput{KvsARN: aws.String(s.KVSARN), IfMatch: desc.ETag, Puts: puts, Deletes: deletes})
	if err != nil {
		return out, fmt.Errorf("sync %s: update %d keys, delete %d: %w", cluster, len(puts), len(deletes), err)
	}
	out.Puts, out.Deletes = len(puts), len(deletes)
	s.log().Info("edgesync: wrote cluster", "cluster", cluster, "puts", out.Puts, "deletes", out.Deletes, "skipped", out.Skipped, "etag", aws.ToString(desc.ETag))
	return out, nil
}

// get reads one key; found is false when the store does not hold it.
func (s *Syncer) get(ctx context.Context, key string) (value string, found bool, err error) {
	got, err := s.KVS.GetKey(ctx, &kvs.GetKeyInput{KvsARN: aws.String(s.KVSARN), Key: aws.String(key)})
	var notFound *kvstypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get key %s: %w", key, err)
	}
	return aws.ToString(got.Value), true, nil
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
