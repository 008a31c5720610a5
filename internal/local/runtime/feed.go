package runtime

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/edgesync"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// change is one committed write of an instance: before is zero for a new one.
type change struct{ before, after state.Instance }

// feed is the state store's change feed: writes queue here without blocking the store, and one
// goroutine logs them and syncs their clusters to the edge's KeyValueStore.
type feed struct {
	mu      sync.Mutex
	pending []change
	wake    chan struct{}
}

func newFeed() *feed { return &feed{wake: make(chan struct{}, 1)} }

// add queues a change; it never blocks (the memory store calls it under its lock).
func (f *feed) add(before, after state.Instance) {
	f.mu.Lock()
	f.pending = append(f.pending, change{before, after})
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// run logs each change and syncs each changed cluster until ctx ends.
func (f *feed) run(ctx context.Context, sync *edgesync.Syncer, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		f.mu.Lock()
		batch := f.pending
		f.pending = nil
		f.mu.Unlock()
		var clusters []string
		seen := map[string]bool{}
		for _, c := range batch {
			a := c.after
			log.Info("state: instance changed", "cluster", a.Cluster, "domain", a.Domain, "instance_region", a.Region,
				"version", a.Version, "open", a.Open, "health", a.Health, "was_open", c.before.Open, "was_health", c.before.Health,
				"changed_by", a.ChangedBy, "reason", a.Reason)
			if !seen[a.Cluster] {
				seen[a.Cluster] = true
				clusters = append(clusters, a.Cluster)
			}
		}
		for _, cl := range clusters {
			// The syncer logs what it wrote ("edgesync: wrote cluster").
			if _, err := sync.SyncCluster(ctx, cl, nil); err != nil && ctx.Err() == nil {
				log.Error("edgesync: sync failed", "cluster", cl, "err", err)
			}
		}
	}
}

// pollTable feeds the changes of a store that has no in-process feed (DynamoDB): it reads every
// instance each period and queues those whose version moved.
func pollTable(ctx context.Context, store state.Store, f *feed, period time.Duration, log *slog.Logger) {
	seen := map[[2]string]state.Instance{}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		clusters, err := store.Clusters(ctx)
		for _, cl := range clusters {
			if err != nil {
				break
			}
			var ins []state.Instance
			ins, err = store.Instances(ctx, cl)
			for _, in := range ins {
				k := [2]string{in.Cluster, in.Domain}
				if before := seen[k]; before.Version != in.Version {
					seen[k] = in
					f.add(before, in)
				}
			}
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("state: could not read the table for changes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcile runs the edge sync's scheduled reconcile every period, as EventBridge does.
func reconcile(ctx context.Context, r *edgesync.Reconciler, period time.Duration, log *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := r.Reconcile(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("edgesync: reconcile failed", "err", err)
			}
			continue
		}
		log.Info("edgesync: reconciled", "clusters", rep.Clusters, "keys_checked", rep.KeysChecked, "keys_repaired", rep.KeysRepaired)
	}
}
