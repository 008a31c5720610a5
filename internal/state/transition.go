package state

import (
	"encoding/json"
	"strconv"
	"time"
)

// The functions in this file are the state changes every Store makes, without IO, so that all
// stores agree on versions, timestamps and audit records. Each returns the instance after the
// change and its audit record, or a nil record when the change would change nothing.

// IsStale reports whether h sets the instance's stale flag: stale or unreachable.
func (h Health) IsStale() bool { return h == HealthStale || h == HealthUnreachable }

// NewInstance is a registered instance's first version: open, health unknown.
func NewInstance(r Registration, c Change, now time.Time) (Instance, AuditRecord) {
	now = now.UTC().Round(0)
	in := Instance{
		Cluster:                 r.Cluster,
		Domain:                  r.Domain,
		Region:                  r.Region,
		DistributionPlaylistURL: r.DistributionPlaylistURL,
		OriginPlaylistURL:       r.OriginPlaylistURL,
		Open:                    true,
		Health:                  HealthUnknown,
		HealthChangedAt:         now,
		OpenChangedAt:           now,
		Reason:                  c.Reason,
		ChangedBy:               c.By,
		Version:                 1,
	}
	return in, audit(in, FieldRegistration, "", registrationText(r), c, now)
}

// Registration returns what was registered about the instance.
func (i Instance) Registration() Registration {
	return Registration{
		Cluster:                 i.Cluster,
		Domain:                  i.Domain,
		Region:                  i.Region,
		DistributionPlaylistURL: i.DistributionPlaylistURL,
		OriginPlaylistURL:       i.OriginPlaylistURL,
	}
}

// WithRegistration updates an instance's region and playlist URLs, keeping its open state and
// health.
func (i Instance) WithRegistration(r Registration, c Change, now time.Time) (Instance, *AuditRecord) {
	before := i.Registration()
	if before == r {
		return i, nil
	}
	now = now.UTC().Round(0)
	i.Region, i.DistributionPlaylistURL, i.OriginPlaylistURL = r.Region, r.DistributionPlaylistURL, r.OriginPlaylistURL
	i = i.changed(c)
	a := audit(i, FieldRegistration, registrationText(before), registrationText(r), c, now)
	return i, &a
}

// WithHealth records what a detector concluded; the detector vouches for the instance, so
// DetectorAt becomes now as well.
func (i Instance) WithHealth(h Health, c Change, now time.Time) (Instance, *AuditRecord) {
	if i.Health == h {
		return i, nil
	}
	now = now.UTC().Round(0)
	before := i.Health
	i.Health, i.Stale, i.HealthChangedAt, i.DetectorAt = h, h.IsStale(), now, HeartbeatTime(now)
	i = i.changed(c)
	a := audit(i, FieldHealth, string(before), string(h), c, now)
	return i, &a
}

// WithOpen opens or closes the instance's distribution. It does not check the guard: see
// HealthyPeers.
func (i Instance) WithOpen(open bool, c Change, now time.Time) (Instance, *AuditRecord) {
	if i.Open == open {
		return i, nil
	}
	now = now.UTC().Round(0)
	i.Open, i.OpenChangedAt = open, now
	i = i.changed(c)
	a := audit(i, FieldOpen, strconv.FormatBool(!open), strconv.FormatBool(open), c, now)
	return i, &a
}

// HealthyPeers returns the instances other than domain that are HealthyAt now with heartbeats
// no older than maxAge: the ones that allow closing domain without Force.
func HealthyPeers(instances []Instance, domain string, now time.Time, maxAge time.Duration) []Instance {
	var peers []Instance
	for _, in := range instances {
		if in.Domain != domain && in.HealthyAt(now, maxAge) {
			peers = append(peers, in)
		}
	}
	return peers
}

func (i Instance) changed(c Change) Instance {
	i.Reason, i.ChangedBy = c.Reason, c.By
	i.Version++
	return i
}

func audit(i Instance, f Field, before, after string, c Change, now time.Time) AuditRecord {
	return AuditRecord{
		Cluster: i.Cluster,
		Domain:  i.Domain,
		At:      now,
		Field:   f,
		Before:  before,
		After:   after,
		By:      c.By,
		Reason:  c.Reason,
		Force:   c.Force && f == FieldOpen, // a forced close, or an operator's forced open
		Version: i.Version,
	}
}

// registrationText is how the audit trail shows a registration: JSON of what can change.
func registrationText(r Registration) string {
	b, _ := json.Marshal(struct {
		Region                  string `json:"region"`
		DistributionPlaylistURL string `json:"distribution_playlist_url"`
		OriginPlaylistURL       string `json:"origin_playlist_url"`
	}{r.Region, r.DistributionPlaylistURL, r.OriginPlaylistURL})
	return string(b)
}
