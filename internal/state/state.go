// Package state is the product's model of clustered streams: stream instances with their health
// and desired state, the audit trail of every change, and the guard that never lets automation
// close a cluster's last open, healthy instance. It does no IO; adapters implement Store.
package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Health is what the detector last concluded about an instance's origin playlists.
type Health string

// Health values (design.md 4.1).
const (
	HealthUnknown     Health = "unknown"
	HealthFresh       Health = "fresh"
	HealthStale       Health = "stale"
	HealthUnreachable Health = "unreachable"
	HealthEnded       Health = "ended"
)

// Valid reports whether h is one of the known health values.
func (h Health) Valid() bool {
	switch h {
	case HealthUnknown, HealthFresh, HealthStale, HealthUnreachable, HealthEnded:
		return true
	}
	return false
}

// Judged reports whether h is a conclusion drawn from a playlist: fresh, stale, unreachable or
// ended. A tracker reports only these, and a detector event carries only these.
func (h Health) Judged() bool { return h != HealthUnknown && h.Valid() }

// Instance is one stream instance: one region's copy of a clustered stream, behind its own
// CloudFront distribution. Cluster and Domain are its key.
type Instance struct {
	Cluster                 string    `json:"cluster"`
	Domain                  string    `json:"domain"`
	Region                  string    `json:"region"`
	DistributionPlaylistURL string    `json:"distribution_playlist_url"`
	OriginPlaylistURL       string    `json:"origin_playlist_url"`
	Open                    bool      `json:"distro_open"`
	Stale                   bool      `json:"stale"`
	Health                  Health    `json:"health"`
	HealthChangedAt         time.Time `json:"health_changed_at"`
	OpenChangedAt           time.Time `json:"open_changed_at"`
	Reason                  string    `json:"reason"`
	ChangedBy               string    `json:"changed_by"`
	Version                 int64     `json:"version"`
	// DetectorAt is when the instance's detector last vouched for it: its last health record
	// or saved memory (the detector saves it at least at the start and end of every run, about
	// once a minute). Zero: never. Kept to the millisecond (HeartbeatTime). It does not bump
	// Version and is not audited.
	DetectorAt time.Time `json:"detector_at,omitzero"`
}

// DefaultHeartbeatMaxAge is how recently an instance's detector must have vouched for it
// (Instance.DetectorAt) for the instance to count as healthy; stores take another in their
// configuration.
const DefaultHeartbeatMaxAge = 3 * time.Minute

// HealthyAt reports whether, at now, the instance may carry the cluster alone: open, known
// fresh, and vouched for by its detector within maxAge (DetectorAt at or after
// HeartbeatCutoff). Unknown health does not count: the guard trusts only what a detector has
// seen. A stale heartbeat does not count either: when a region goes down with its detector,
// its instances' last "fresh" stays in the table, and without the heartbeat automation could
// close the only region actually serving.
func (i Instance) HealthyAt(now time.Time, maxAge time.Duration) bool {
	return i.Open && i.Health == HealthFresh && !i.DetectorAt.IsZero() && !i.DetectorAt.Before(HeartbeatCutoff(now, maxAge))
}

// HeartbeatTime is a heartbeat as stores keep it: UTC, truncated to the millisecond (the dynamo
// store keeps epoch milliseconds, so that a condition can compare them).
func HeartbeatTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// HeartbeatCutoff is the oldest heartbeat that still counts at now: now - maxAge, to the
// millisecond.
func HeartbeatCutoff(now time.Time, maxAge time.Duration) time.Time {
	return HeartbeatTime(now.Add(-maxAge))
}

// Registration is what an operator says about an instance when registering or updating it.
// A new instance starts open with unknown health.
type Registration struct {
	Cluster                 string `json:"cluster"`
	Domain                  string `json:"domain"`
	Region                  string `json:"region"`
	DistributionPlaylistURL string `json:"distribution_playlist_url"`
	OriginPlaylistURL       string `json:"origin_playlist_url"`
}

// Change says who makes a change and why. Every write records it in the audit trail.
type Change struct {
	By     string // IAM principal ARN, Step Functions execution ARN, or "local:<user>"
	Reason string
	// Force lets Close close the last open, healthy instance, and lets Close and Open fall back
	// to the local replica when the control region is unreachable (dynamo store; the audit
	// record then says fallback). Only an operator sets it.
	Force bool
	// ExpectedVersion, when not zero, makes the write fail with ErrVersionConflict unless the
	// instance is at that version.
	ExpectedVersion int64
}

// Field names an attribute whose changes the audit trail records.
type Field string

// Audited fields.
const (
	FieldOpen         Field = "distro_open"
	FieldHealth       Field = "health"
	FieldRegistration Field = "registration"
)

// AuditRecord is one change of one instance, kept at least 30 days.
type AuditRecord struct {
	Cluster string    `json:"cluster"`
	Domain  string    `json:"domain"`
	At      time.Time `json:"at"`
	Field   Field     `json:"field"`
	Before  string    `json:"before"`
	After   string    `json:"after"`
	By      string    `json:"by"`
	Reason  string    `json:"reason"`
	Force   bool      `json:"force,omitempty"`
	Version int64     `json:"version"` // the instance's version after the change
	// Fallback is true when the control region was unreachable and the change went to the
	// local region's replica instead (stores with one replica never set it).
	Fallback bool `json:"fallback,omitempty"`
}

// HistoryQuery selects a page of a cluster's audit trail, newest first.
type HistoryQuery struct {
	Cluster string
	Domain  string // optional: one instance only
	Limit   int    // 0: the store's default
	Cursor  string // from the previous page's Next
}

// HistoryPage is one page of audit records, newest first. Next is empty on the last page.
type HistoryPage struct {
	Records []AuditRecord `json:"records"`
	Next    string        `json:"next,omitempty"`
}

// Store keeps instances and their audit trail. Every method that writes records an audit
// record in the same atomic write, bumps Version, and writes nothing when it returns an error.
// Writes that would change nothing (closing a closed instance, recording the same health)
// succeed without writing: Version stays, no audit record.
type Store interface {
	Register(ctx context.Context, r Registration, c Change) (Instance, error)
	Instance(ctx context.Context, cluster, domain string) (Instance, error)
	Instances(ctx context.Context, cluster string) ([]Instance, error)
	Clusters(ctx context.Context) ([]string, error)
	// RecordHealth records a detector's conclusion; a change of health also stamps DetectorAt
	// (the detector vouches for the instance).
	RecordHealth(ctx context.Context, cluster, domain string, h Health, c Change) (Instance, error)
	// Close sets distro_open false. Unless c.Force, it refuses with *GuardError when no other
	// instance of the cluster is HealthyAt the store's now and heartbeat max age, and this holds
	// under concurrent closers.
	Close(ctx context.Context, cluster, domain string, c Change) (Instance, error)
	Open(ctx context.Context, cluster, domain string, c Change) (Instance, error)
	History(ctx context.Context, q HistoryQuery) (HistoryPage, error)
}

// ErrNotFound is returned for an unknown cluster or instance.
var ErrNotFound = errors.New("not found")

// ErrVersionConflict is returned when Change.ExpectedVersion does not match, or when a
// concurrent write won the race and the caller should re-read.
var ErrVersionConflict = errors.New("version conflict")

// GuardError is the refusal to close the last open, healthy instance of a cluster.
type GuardError struct {
	Cluster, Domain string
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("refused to close %s/%s: no other instance of the cluster is open and healthy", e.Cluster, e.Domain)
}

// DomainTakenError is the refusal to register a domain that an instance of another cluster
// already has. The edge state is keyed by the distribution's domain alone (the copilot knows
// only the domain it serves), so a distribution can serve one cluster only: a second cluster's
// instance would share its open/closed state. Nothing is written.
type DomainTakenError struct {
	Domain  string
	Cluster string // the cluster the refused registration was for
	Owner   string // the cluster the domain is registered to
}

func (e *DomainTakenError) Error() string {
	return fmt.Sprintf("refused to register %s/%s: the domain is registered to cluster %s (a distribution serves one cluster)", e.Cluster, e.Domain, e.Owner)
}

// ErrInvalid matches (with errors.Is) every *InvalidError: the caller's input is wrong and
// nothing was written.
var ErrInvalid = errors.New("invalid input")

// InvalidError says which input was wrong and why. Its message is safe to show to the caller.
type InvalidError struct {
	Field   string // the input's name: "cluster", "domain", "health", "by", "cursor", ...
	Problem string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Problem) }

// Is makes errors.Is(err, ErrInvalid) true for every *InvalidError.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// ControlRegionUnavailableError is the refusal of a write while the control region's replica of
// the state table cannot be reached. Writes are decided only there, because transactions are
// atomic in one region only and global tables replicate whole items last-writer-wins: a write
// in another replica could undo a close made in the control region. See the dynamo package.
// The caller may retry later; an operator may close or open with Force, which falls back to the
// local replica and is audited as such. Nothing was written.
type ControlRegionUnavailableError struct {
	Op              string // "close", "open", "record health", "register", "save detector memory"
	Cluster, Domain string
	ControlRegion   string
	Err             error // the network or server error that made the region unreachable
}

func (e *ControlRegionUnavailableError) Error() string {
	op := e.Op
	if op == "" {
		op = "change"
	}
	return fmt.Sprintf("refused to %s %s/%s: the control region %s is unavailable (only an operator's forced close or open may fall back to the local replica): %v",
		op, e.Cluster, e.Domain, e.ControlRegion, e.Err)
}

func (e *ControlRegionUnavailableError) Unwrap() error { return e.Err }
