package edgesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/clustered-video-streams/cvs/internal/edgekv"
	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// Registry is the state a reconcile mirrors: every cluster and its instances. state.Store
// satisfies it.
type Registry interface {
	Clusters(ctx context.Context) ([]string, error)
	Instances
}

// Reconciler brings the whole KeyValueStore in line with the state store, on a schedule. The
// stream path writes only what changes, so it repairs nothing that drifted: a record that went
// to the failure queue after its retries, a key deleted by hand, changes made while a region's
// edge sync was down. The reconcile reads the store's ETag, lists every entry (ListKeys, 50 a
// page) and reads every cluster's instances, then decides each cluster's writes with the same
// code as the stream path (never an older version over a newer one) and writes them in
// UpdateKeys batches against that ETag. If another writer got in first, the clusters not yet
// written are synced one by one as the stream path does (fresh reads, retries with backoff).
// When nothing drifted it only reads: one DescribeKeyValueStore, one ListKeys per 50 entries,
// one Clusters and one Instances per cluster.
//
// Keys of instances that are no longer registered are deleted only when they are told apart
// safely: the value is one edgesync writes (an instance entry naming its cluster and a
// version, or a steering manifest), its cluster's instances could be read, the domain is no
// instance of any cluster, and Authority (the control region's replica, read without
// fallback) confirms it. Anything else stays: keys edgesync did not write are counted as
// foreign, unconfirmed ones are reported as kept.
type Reconciler struct {
	// Sync is the store written, its settings, and the per-cluster sync used after a conflict.
	Sync *Syncer
	// Registry is the state mirrored (in Lambda: the control region's replica, this region's
	// when the control region is unreachable).
	Registry Registry
	// Authority confirms that an instance is gone before its key is deleted (nil: such keys are
	// reported, never deleted).
	Authority Instances
	Log       *slog.Logger // nil: slog.Default()
}

// Report says what one reconcile did.
type Report struct {
	Clusters  int `json:"clusters"`
	Instances int `json:"instances"`
	// KeysChecked counts the distinct keys compared: every key listed and every key the state
	// asks for.
	KeysChecked int `json:"keys_checked"`
	// KeysRepaired counts the puts and deletes written (Puts + Deletes).
	KeysRepaired int `json:"keys_repaired"`
	Puts         int `json:"puts"`
	Deletes      int `json:"deletes"`
	// Skipped counts entries left alone because the store holds a newer version than the state
	// read (a lagging replica).
	Skipped int `json:"skipped"`
	// OrphansKept lists keys edgesync wrote for instances no longer registered that were left
	// in place because no Authority confirmed the instance gone.
	OrphansKept []string `json:"orphans_kept,omitempty"`
	// Foreign counts keys edgesync did not write; they are never touched.
	Foreign int `json:"foreign"`
	// KVSReads counts this reconcile's DescribeKeyValueStore and ListKeys requests (not the
	// reads of the per-cluster syncs after a conflict), StateReads its Clusters and Instances
	// calls, Updates its UpdateKeys requests that landed.
	KVSReads   int `json:"kvs_reads"`
	StateReads int `json:"state_reads"`
	Updates    int `json:"updates"`
	// Resynced lists the clusters synced one by one after another writer changed the store
	// under the batch write.
	Resynced []string `json:"resynced,omitempty"`
	// Failed lists the clusters that could not be brought in line.
	Failed []string `json:"failed,omitempty"`
}

// ReconcileError says which clusters a reconcile left out of line; the next one tries again.
type ReconcileError struct {
	Failed []string
}

func (e *ReconcileError) Error() string {
	return fmt.Sprintf("reconcile: %d clusters not brought in line: %s", len(e.Failed), strings.Join(e.Failed, ", "))
}

// MaxListResults is the largest ListKeys page the KeyValueStore serves.
const MaxListResults = edgekv.PageSize

// Reconcile makes the store match the state store. It returns a *ReconcileError when some
// clusters could not be brought in line (the others were), and any other error when it could
// not read the store or the cluster list (then it wrote nothing).
func (r *Reconciler) Reconcile(ctx context.Context) (Report, error) {
	s := r.Sync
	var rep Report
	// The ETag first, then everything else, as in syncOnce: a write after it fails ours.
	etag, err := s.describe(ctx)
	rep.KVSReads++
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	stored, pages, err := r.list(ctx)
	rep.KVSReads += pages
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	clusters, err := r.Registry.Clusters(ctx)
	rep.StateReads++
	if err != nil {
		return rep, fmt.Errorf("reconcile: read clusters: %w", err)
	}
	rep.Clusters = len(clusters)

	views := map[string][]state.Instance{}
	unread := map[string]bool{}
	wanted := map[string]bool{}
	for _, c := range clusters {
		ins, err := r.Registry.Instances(ctx, c)
		rep.StateReads++
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			r.log().Error("edgesync: reconcile cannot read a cluster; leaving its keys alone", "cluster", c, "err", err)
			rep.Failed = append(rep.Failed, c)
			unread[c] = true
			continue
		}
		views[c] = ins
		rep.Instances += len(ins)
		for _, in := range ins {
			wanted[edgestate.InstanceKey(in.Domain)] = true
		}
		if len(ins) > 0 {
			wanted[edgestate.SteeringKey(c)] = true
		}
	}
	checked := maps.Clone(wanted)
	for k := range stored {
		checked[k] = true
	}
	rep.KeysChecked = len(checked)

	removed, keep := r.orphans(ctx, stored, wanted, unread, &rep)

	// Every cluster with instances, and every cluster some confirmed orphan belongs to.
	names := slices.Collect(maps.Keys(removed))
	for c, ins := range views {
		if len(ins) > 0 {
			names = append(names, c)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	current := func(_ context.Context, key string) (string, bool, error) {
		v, ok := stored[key]
		return v, ok, nil
	}
	var writes []write
	for _, c := range names {
		p, err := s.plan(ctx, c, views[c], removed[c], current)
		if err != nil {
			r.log().Error("edgesync: reconcile cannot compute a cluster's entries", "cluster", c, "err", err)
			rep.Failed = append(rep.Failed, c)
			continue
		}
		rep.Skipped += p.skipped
		for _, w := range p.writes {
			if !(w.del && keep[w.key]) {
				writes = append(writes, w)
			}
		}
	}

	if len(writes) > 0 {
		u, err := s.update(ctx, etag, writes)
		rep.Updates = u.requests
		for _, w := range writes[:u.done] {
			if w.del {
				rep.Deletes++
			} else {
				rep.Puts++
			}
		}
		if err != nil {
			r.finish(ctx, err, writes[u.done:], removed, &rep)
		}
	}
	rep.KeysRepaired = rep.Puts + rep.Deletes
	slices.Sort(rep.Failed)
	rep.Failed = slices.Compact(rep.Failed)
	r.log().Info("edgesync: reconcile done", "clusters", rep.Clusters, "instances", rep.Instances,
		"keys_checked", rep.KeysChecked, "keys_repaired", rep.KeysRepaired, "puts", rep.Puts, "deletes", rep.Deletes,
		"skipped", rep.Skipped, "orphans_kept", len(rep.OrphansKept), "foreign", rep.Foreign,
		"kvs_reads", rep.KVSReads, "state_reads", rep.StateReads, "updates", rep.Updates,
		"resynced", rep.Resynced, "failed", rep.Failed)
	if len(rep.OrphansKept) > 0 {
		r.log().Warn("edgesync: keys of instances no longer registered were left in place (not confirmed gone)", "keys", rep.OrphansKept)
	}
	if len(rep.Failed) > 0 {
		return rep, &ReconcileError{Failed: rep.Failed}
	}
	return rep, nil
}

// finish handles a batch write that failed part-way: after a conflict (another writer got in
// first) the clusters not yet fully written are synced one by one with fresh reads; after any
// other error they are reported failed.
func (r *Reconciler) finish(ctx context.Context, err error, rest []write, removed map[string][]string, rep *Report) {
	var pending []string
	for _, w := range rest {
		if !slices.Contains(pending, w.cluster) {
			pending = append(pending, w.cluster)
		}
	}
	if !errors.Is(err, edgekv.ErrConflict) {
		r.log().Error("edgesync: reconcile write failed", "clusters", pending, "err", err)
		rep.Failed = append(rep.Failed, pending...)
		return
	}
	r.log().Info("edgesync: the key value store changed during the reconcile; syncing the rest cluster by cluster", "clusters", pending)
	for _, c := range pending {
		rep.Resynced = append(rep.Resynced, c)
		out, err := r.Sync.SyncCluster(ctx, c, removed[c])
		rep.Puts += out.Puts
		rep.Deletes += out.Deletes
		rep.Skipped += out.Skipped
		if err != nil {
			r.log().Error("edgesync: reconcile could not sync a cluster", "cluster", c, "err", err)
			rep.Failed = append(rep.Failed, c)
		}
	}
}

// orphans finds the stored keys the state does not ask for. It returns, by cluster, the
// domains whose entries are confirmed to belong to no instance any more (to be deleted), and
// the keys that must not be deleted (unconfirmed). Keys edgesync did not write, and keys of
// clusters whose instances could not be read, are left alone.
func (r *Reconciler) orphans(ctx context.Context, stored map[string]string, wanted, unread map[string]bool, rep *Report) (removed map[string][]string, keep map[string]bool) {
	byCluster := map[string][]string{} // cluster -> orphan keys (domains, or its steering key)
	for k, v := range stored {
		if wanted[k] {
			continue
		}
		c, ok := written(k, v)
		switch {
		case !ok:
			rep.Foreign++
		case !unread[c]:
			byCluster[c] = append(byCluster[c], k)
		}
	}
	removed, keep = map[string][]string{}, map[string]bool{}
	for _, c := range slices.Sorted(maps.Keys(byCluster)) {
		keys := byCluster[c]
		slices.Sort(keys)
		var live []state.Instance
		err := errors.New("no authority to confirm that the instances are gone")
		if r.Authority != nil {
			live, err = r.Authority.Instances(ctx, c)
			rep.StateReads++
			if errors.Is(err, state.ErrNotFound) {
				live, err = nil, nil
			}
		}
		for _, k := range keys {
			gone := err == nil
			if k == edgestate.SteeringKey(c) {
				gone = gone && len(live) == 0
			} else {
				gone = gone && !slices.ContainsFunc(live, func(in state.Instance) bool { return edgestate.InstanceKey(in.Domain) == k })
			}
			switch {
			case !gone:
				keep[k] = true
				rep.OrphansKept = append(rep.OrphansKept, k)
			case k != edgestate.SteeringKey(c):
				removed[c] = append(removed[c], k)
			default:
				// The plan of a cluster without instances deletes its steering manifest: have
				// the cluster planned even when none of its domains is removed.
				if _, ok := removed[c]; !ok {
					removed[c] = nil
				}
			}
		}
		if err != nil {
			r.log().Info("edgesync: keeping keys of instances no longer registered", "cluster", c, "keys", keys, "why", err)
		}
	}
	return removed, keep
}

// written reports whether a stored entry is one edgesync writes, and for which cluster: a
// steering manifest under a steering key, or an instance entry naming a valid cluster and a
// version under a valid domain.
func written(key, value string) (cluster string, ok bool) {
	if c, isSteering := strings.CutPrefix(key, edgestate.SteeringKeyPrefix); isSteering {
		var m edgestate.Steering
		if state.ValidateCluster(c) != nil || json.Unmarshal([]byte(value), &m) != nil || m.Version != 1 || m.PathwayPriority == nil {
			return "", false
		}
		return c, true
	}
	v, err := edgestate.DecodeInstance(value)
	if err != nil || v.Cluster == "" || v.Version < 1 || state.ValidateKey(v.Cluster, key) != nil {
		return "", false
	}
	return v.Cluster, true
}

// list reads every entry of the store, 50 a page, and says how many pages it took.
func (r *Reconciler) list(ctx context.Context) (map[string]string, int, error) {
	out := map[string]string{}
	pages := 0
	token := ""
	for {
		page, err := r.Sync.KVS.List(ctx, token)
		pages++
		if err != nil {
			return nil, pages, fmt.Errorf("list keys (page %d): %w", pages, err)
		}
		for _, it := range page.Items {
			out[it.Key] = it.Value
		}
		if page.Next == "" {
			return out, pages, nil
		}
		token = page.Next
	}
}

func (r *Reconciler) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return r.Sync.log()
}
