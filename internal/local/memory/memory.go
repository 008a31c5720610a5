// Package memory is an in-process state.Store for tests and the local runtime, with one mutex
// serializing every call and the whole audit trail kept (no expiry).
package memory

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
)

var _ state.Store = (*Store)(nil)

// Store keeps instances and audit records in memory. Use New.
type Store struct {
	now      func() time.Time
	maxAge   time.Duration // of a healthy peer's heartbeat
	onCommit func(before, after state.Instance)

	mu        sync.Mutex
	down      string // the control region while it is switched down (SetControlRegionDown)
	instances map[key]state.Instance
	owners    map[string]string // domain -> the cluster it is registered to
	audit     []entry           // ascending by sortKey
}

type key struct{ cluster, domain string }

type entry struct {
	sortKey string // "<unix nanos, 20 digits>#<domain>#<version, 20 digits>": unique, time-ordered
	rec     state.AuditRecord
}

// Option configures a Store.
type Option func(*Store)

// HeartbeatMaxAge sets how recently a peer's detector must have vouched for it for the guard
// to count it (state.DefaultHeartbeatMaxAge when not set or not positive).
func HeartbeatMaxAge(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.maxAge = d
		}
	}
}

// OnCommit registers f to be called after every write that changes an instance (the writes
// that bump its version and add an audit record, as a DynamoDB stream would carry them), with
// the instance before (zero for a new one) and after. It is the store's change feed for the
// local runtime's edge sync. f runs under the store's lock, in commit order: it must return
// quickly and must not call the Store.
func OnCommit(f func(before, after state.Instance)) Option {
	return func(s *Store) { s.onCommit = f }
}

// New returns an empty store reading time from now (time.Now when nil).
func New(now func() time.Time, opts ...Option) *Store {
	if now == nil {
		now = time.Now
	}
	s := &Store{now: now, maxAge: state.DefaultHeartbeatMaxAge, instances: map[key]state.Instance{}, owners: map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// errOutage is the network error of a control region switched down.
var errOutage = errors.New("control region switched down (simulated outage)")

// SetControlRegionDown makes the store act as the dynamo store does while its control region
// (named region) is unreachable, until called with down false: writes fail with
// *state.ControlRegionUnavailableError and change nothing, except an operator's forced close or
// open, which goes through and is audited with Fallback; reads still answer. The local runtime's
// outage switch.
func (s *Store) SetControlRegionDown(region string, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = ""
	if down {
		s.down = cmp.Or(region, "control")
	}
}

// unavailable returns the refusal of a write while the control region is down, nil when it
// is up or when a forced write may fall back. The caller holds the lock.
func (s *Store) unavailable(op, cluster, domain string, fallback bool) error {
	if s.down == "" || fallback {
		return nil
	}
	return &state.ControlRegionUnavailableError{Op: op, Cluster: cluster, Domain: domain, ControlRegion: s.down, Err: errOutage}
}

// Register creates an instance (open, health unknown) or updates its region and URLs. A domain
// registered to another cluster is refused with *state.DomainTakenError.
func (s *Store) Register(ctx context.Context, r state.Registration, c state.Change) (state.Instance, error) {
	if err := state.ValidateRegistration(r); err != nil {
		return state.Instance{}, fmt.Errorf("register %s/%s: %w", r.Cluster, r.Domain, err)
	}
	if err := state.ValidateChange(c); err != nil {
		return state.Instance{}, fmt.Errorf("register %s/%s: %w", r.Cluster, r.Domain, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.unavailable("register", r.Cluster, r.Domain, false); err != nil {
		return state.Instance{}, fmt.Errorf("register %s/%s: %w", r.Cluster, r.Domain, err)
	}
	if owner, ok := s.owners[r.Domain]; ok && owner != r.Cluster {
		return state.Instance{}, fmt.Errorf("register %s/%s: %w", r.Cluster, r.Domain, &state.DomainTakenError{Domain: r.Domain, Cluster: r.Cluster, Owner: owner})
	}
	k := key{r.Cluster, r.Domain}
	cur, ok := s.instances[k]
	if !ok {
		if c.ExpectedVersion != 0 {
			return state.Instance{}, fmt.Errorf("register %s/%s: expected version %d of a new instance: %w", r.Cluster, r.Domain, c.ExpectedVersion, state.ErrVersionConflict)
		}
		in, rec := state.NewInstance(r, c, s.now())
		s.write(in, &rec)
		s.owners[r.Domain] = r.Cluster
		return in, nil
	}
	if err := checkVersion(cur, c); err != nil {
		return state.Instance{}, fmt.Errorf("register %s/%s: %w", r.Cluster, r.Domain, err)
	}
	in, rec := cur.WithRegistration(r, c, s.now())
	s.write(in, rec)
	return in, nil
}

// Instance returns one instance, or state.ErrNotFound.
func (s *Store) Instance(ctx context.Context, cluster, domain string) (state.Instance, error) {
	if err := state.ValidateKey(cluster, domain); err != nil {
		return state.Instance{}, fmt.Errorf("instance %s/%s: %w", cluster, domain, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[key{cluster, domain}]
	if !ok {
		return state.Instance{}, fmt.Errorf("instance %s/%s: %w", cluster, domain, state.ErrNotFound)
	}
	return in, nil
}

// Instances returns a cluster's instances ordered by domain, or state.ErrNotFound when the
// cluster has none.
func (s *Store) Instances(ctx context.Context, cluster string) ([]state.Instance, error) {
	if err := state.ValidateCluster(cluster); err != nil {
		return nil, fmt.Errorf("instances of %s: %w", cluster, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.cluster(cluster)
	if len(out) == 0 {
		return nil, fmt.Errorf("instances of %s: %w", cluster, state.ErrNotFound)
	}
	return out, nil
}

// Clusters returns the names of all clusters with at least one instance, sorted.
func (s *Store) Clusters(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{}
	for k := range s.instances {
		names = append(names, k.cluster)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// RecordHealth records a detector's conclusion about an instance.
func (s *Store) RecordHealth(ctx context.Context, cluster, domain string, h state.Health, c state.Change) (state.Instance, error) {
	return s.update(cluster, domain, c, "record health", false, func(cur state.Instance, now time.Time) (state.Instance, *state.AuditRecord, error) {
		if err := state.ValidateHealth(h); err != nil {
			return cur, nil, err
		}
		in, rec := cur.WithHealth(h, c, now)
		return in, rec, nil
	})
}

// Close closes an instance's distribution; unless c.Force, only while another instance of the
// cluster is open, fresh and vouched for by its detector within the heartbeat max age
// (*state.GuardError otherwise).
func (s *Store) Close(ctx context.Context, cluster, domain string, c state.Change) (state.Instance, error) {
	return s.update(cluster, domain, c, "close", c.Force, func(cur state.Instance, now time.Time) (state.Instance, *state.AuditRecord, error) {
		if cur.Open && !c.Force && len(state.HealthyPeers(s.cluster(cluster), domain, now, s.maxAge)) == 0 {
			return cur, nil, &state.GuardError{Cluster: cluster, Domain: domain}
		}
		in, rec := cur.WithOpen(false, c, now)
		return in, rec, nil
	})
}

// Open opens an instance's distribution.
func (s *Store) Open(ctx context.Context, cluster, domain string, c state.Change) (state.Instance, error) {
	return s.update(cluster, domain, c, "open", c.Force, func(cur state.Instance, now time.Time) (state.Instance, *state.AuditRecord, error) {
		in, rec := cur.WithOpen(true, c, now)
		return in, rec, nil
	})
}

// History returns a page of a cluster's audit trail, newest first. An unknown cluster has an
// empty history.
func (s *Store) History(ctx context.Context, q state.HistoryQuery) (state.HistoryPage, error) {
	limit, err := q.PageLimit()
	if err != nil {
		return state.HistoryPage{}, fmt.Errorf("history of %s: %w", q.Cluster, err)
	}
	after := "" // the sort key of the previous page's last record
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(b) == 0 {
			return state.HistoryPage{}, fmt.Errorf("history of %s: %w", q.Cluster, &state.InvalidError{Field: "cursor", Problem: "not a cursor from a previous page"})
		}
		after = string(b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	page := state.HistoryPage{Records: []state.AuditRecord{}}
	for i := len(s.audit) - 1; i >= 0; i-- {
		e := s.audit[i]
		if after != "" && e.sortKey >= after {
			continue
		}
		if e.rec.Cluster != q.Cluster || (q.Domain != "" && e.rec.Domain != q.Domain) {
			continue
		}
		if len(page.Records) == limit {
			page.Next = base64.RawURLEncoding.EncodeToString([]byte(auditKey(page.Records[limit-1])))
			break
		}
		page.Records = append(page.Records, e.rec)
	}
	return page, nil
}

// update runs one read-modify-write of an instance under the lock; fallback lets it through
// while the control region is down, audited as such.
func (s *Store) update(cluster, domain string, c state.Change, op string, fallback bool,
	change func(cur state.Instance, now time.Time) (state.Instance, *state.AuditRecord, error)) (state.Instance, error) {
	if err := state.ValidateKey(cluster, domain); err != nil {
		return state.Instance{}, fmt.Errorf("%s %s/%s: %w", op, cluster, domain, err)
	}
	if err := state.ValidateChange(c); err != nil {
		return state.Instance{}, fmt.Errorf("%s %s/%s: %w", op, cluster, domain, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.unavailable(op, cluster, domain, fallback); err != nil {
		return state.Instance{}, fmt.Errorf("%s %s/%s: %w", op, cluster, domain, err)
	}
	cur, ok := s.instances[key{cluster, domain}]
	if !ok {
		return state.Instance{}, fmt.Errorf("%s %s/%s: %w", op, cluster, domain, state.ErrNotFound)
	}
	if err := checkVersion(cur, c); err != nil {
		return state.Instance{}, fmt.Errorf("%s %s/%s: %w", op, cluster, domain, err)
	}
	in, rec, err := change(cur, s.now())
	if err != nil {
		return state.Instance{}, fmt.Errorf("%s %s/%s: %w", op, cluster, domain, err)
	}
	if rec != nil && s.down != "" {
		rec.Fallback = true
	}
	s.write(in, rec)
	return in, nil
}

// write stores an instance and its audit record; a nil record means nothing changed.
func (s *Store) write(in state.Instance, rec *state.AuditRecord) {
	if rec == nil {
		return
	}
	k := key{in.Cluster, in.Domain}
	before := s.instances[k]
	s.instances[k] = in
	if s.onCommit != nil {
		defer s.onCommit(before, in)
	}
	e := entry{sortKey: auditKey(*rec), rec: *rec}
	i, _ := slices.BinarySearchFunc(s.audit, e.sortKey, func(e entry, k string) int { return cmp.Compare(e.sortKey, k) })
	s.audit = slices.Insert(s.audit, i, e)
}

// Vouch stamps the instance's DetectorAt (its detector's heartbeat) with now, without a version
// or an audit record, as a detector memory save does (DetectorMemory.SaveDetector, and the
// dynamo store's). Tests and local runs that stand in for a running detector call it.
func (s *Store) Vouch(ctx context.Context, cluster, domain string) (state.Instance, error) {
	if err := state.ValidateKey(cluster, domain); err != nil {
		return state.Instance{}, fmt.Errorf("vouch for %s/%s: %w", cluster, domain, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{cluster, domain}
	in, ok := s.instances[k]
	if !ok {
		return state.Instance{}, fmt.Errorf("vouch for %s/%s: %w", cluster, domain, state.ErrNotFound)
	}
	in.DetectorAt = state.HeartbeatTime(s.now())
	s.instances[k] = in
	return in, nil
}

// cluster returns a cluster's instances ordered by domain. The caller holds the lock.
func (s *Store) cluster(name string) []state.Instance {
	var out []state.Instance
	for k, in := range s.instances {
		if k.cluster == name {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b state.Instance) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

func checkVersion(cur state.Instance, c state.Change) error {
	if c.ExpectedVersion != 0 && c.ExpectedVersion != cur.Version {
		return fmt.Errorf("at version %d, expected %d: %w", cur.Version, c.ExpectedVersion, state.ErrVersionConflict)
	}
	return nil
}

func auditKey(r state.AuditRecord) string {
	return fmt.Sprintf("%020d#%s#%020d", r.At.UnixNano(), r.Domain, r.Version)
}
