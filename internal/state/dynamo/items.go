package dynamo

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// Attribute names of the state table's items (design.md 4.1). Other packages that read the
// table or its stream (the edge sync) use these, not their own spellings.
const (
	AttrCluster                 = "cluster" // partition key
	AttrDomain                  = "domain"  // sort key
	AttrKind                    = "kind"
	AttrRegion                  = "region"
	AttrDistributionPlaylistURL = "distribution_playlist_url"
	AttrOriginPlaylistURL       = "origin_playlist_url"
	AttrOpen                    = "distro_open"
	AttrStale                   = "stale"
	AttrHealth                  = "health"
	AttrHealthChangedAt         = "health_changed_at"
	AttrOpenChangedAt           = "open_changed_at"
	AttrReason                  = "reason"
	AttrChangedBy               = "changed_by"
	AttrVersion                 = "version"
	// AttrDetectorAt is the detector's heartbeat (state.Instance.DetectorAt), epoch
	// milliseconds (N), so that the guard's condition can compare it; absent until the first
	// health record or detector memory save.
	AttrDetectorAt = "detector_at"

	// Audit records only.
	AttrInstanceDomain = "instance_domain"
	AttrAt             = "at"
	AttrExpiresAt      = "expires_at" // the table's TTL attribute, epoch seconds

	// Domain registry items only: the cluster the domain is registered to.
	AttrOwner = "owner"
)

// Values of the kind attribute. Readers of the table's stream act on KindInstance items and
// ignore every other kind.
const (
	KindInstance = "instance"
	KindAudit    = "audit"
	// KindCluster marks a cluster's entry in the registry partition (RegistryPartition), which
	// lets Clusters read one partition instead of scanning the table.
	KindCluster = "cluster"
	// KindDomain marks a domain's entry in the domain registry (DomainRegistryPartition),
	// which gives each distribution domain to one cluster only.
	KindDomain = "domain"
)

// Key layout. Instance domains never contain '#' (state.ValidateKey), so they never collide
// with audit keys, and cluster names never contain '#', so no cluster is the registry.
const (
	// AuditPrefix starts every audit record's sort key: "audit#<unix nanos, 20 digits>#<instance
	// domain>#<version, 20 digits>". The version makes keys unique; sorting by key sorts by
	// time, so a Query with begins_with(domain, AuditPrefix) and ScanIndexForward=false returns
	// the newest first.
	AuditPrefix = "audit#"
	// RegistryPartition is the partition key of the cluster registry: one item per cluster,
	// sort key the cluster's name, kind KindCluster.
	RegistryPartition = "#clusters"
	// DomainRegistryPartition is the partition key of the domain registry: one item per
	// registered domain, sort key the domain, kind KindDomain, AttrOwner the cluster it belongs
	// to. The edge state is keyed by domain alone, so Register writes this item in the
	// transaction that writes the instance, on the condition that no other cluster owns it.
	DomainRegistryPartition = "#domains"
)

// auditEnd is the first sort key after every audit key: instance items sort below AuditPrefix
// or from auditEnd on.
const auditEnd = "audit$"

const timeLayout = time.RFC3339Nano

type instanceItem struct {
	Cluster                 string `dynamodbav:"cluster"`
	Domain                  string `dynamodbav:"domain"`
	Kind                    string `dynamodbav:"kind"`
	Region                  string `dynamodbav:"region"`
	DistributionPlaylistURL string `dynamodbav:"distribution_playlist_url"`
	OriginPlaylistURL       string `dynamodbav:"origin_playlist_url"`
	Open                    bool   `dynamodbav:"distro_open"`
	Stale                   bool   `dynamodbav:"stale"`
	Health                  string `dynamodbav:"health"`
	HealthChangedAt         string `dynamodbav:"health_changed_at"`
	OpenChangedAt           string `dynamodbav:"open_changed_at"`
	Reason                  string `dynamodbav:"reason"`
	ChangedBy               string `dynamodbav:"changed_by"`
	Version                 int64  `dynamodbav:"version"`
	DetectorAt              int64  `dynamodbav:"detector_at,omitempty"` // epoch ms
}

type auditItem struct {
	Cluster        string `dynamodbav:"cluster"`
	Domain         string `dynamodbav:"domain"`
	Kind           string `dynamodbav:"kind"`
	InstanceDomain string `dynamodbav:"instance_domain"`
	At             string `dynamodbav:"at"`
	Field          string `dynamodbav:"field"`
	Before         string `dynamodbav:"before"`
	After          string `dynamodbav:"after"`
	By             string `dynamodbav:"by"`
	Reason         string `dynamodbav:"reason"`
	Force          bool   `dynamodbav:"force"`
	Fallback       bool   `dynamodbav:"fallback,omitempty"`
	Version        int64  `dynamodbav:"version"`
	ExpiresAt      int64  `dynamodbav:"expires_at"`
}

type registryItem struct {
	Cluster string `dynamodbav:"cluster"` // RegistryPartition
	Domain  string `dynamodbav:"domain"`  // the cluster's name
	Kind    string `dynamodbav:"kind"`
}

type domainItem struct {
	Cluster string `dynamodbav:"cluster"` // DomainRegistryPartition
	Domain  string `dynamodbav:"domain"`  // the registered domain
	Kind    string `dynamodbav:"kind"`    // KindDomain
	Owner   string `dynamodbav:"owner"`   // the cluster the domain is registered to
}

func toInstanceItem(in state.Instance) instanceItem {
	return instanceItem{
		Cluster:                 in.Cluster,
		Domain:                  in.Domain,
		Kind:                    KindInstance,
		Region:                  in.Region,
		DistributionPlaylistURL: in.DistributionPlaylistURL,
		OriginPlaylistURL:       in.OriginPlaylistURL,
		Open:                    in.Open,
		Stale:                   in.Stale,
		Health:                  string(in.Health),
		HealthChangedAt:         in.HealthChangedAt.UTC().Format(timeLayout),
		OpenChangedAt:           in.OpenChangedAt.UTC().Format(timeLayout),
		Reason:                  in.Reason,
		ChangedBy:               in.ChangedBy,
		Version:                 in.Version,
		DetectorAt:              epochMillis(in.DetectorAt),
	}
}

// epochMillis is t in Unix milliseconds, 0 for the zero time.
func epochMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromInstanceItem(av map[string]types.AttributeValue) (state.Instance, error) {
	var it instanceItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return state.Instance{}, fmt.Errorf("decode instance item: %w", err)
	}
	if it.Kind != KindInstance {
		return state.Instance{}, fmt.Errorf("decode instance item %s/%s: kind %q", it.Cluster, it.Domain, it.Kind)
	}
	hc, err := parseTime(it.HealthChangedAt)
	if err != nil {
		return state.Instance{}, fmt.Errorf("decode instance item %s/%s: %s: %w", it.Cluster, it.Domain, AttrHealthChangedAt, err)
	}
	oc, err := parseTime(it.OpenChangedAt)
	if err != nil {
		return state.Instance{}, fmt.Errorf("decode instance item %s/%s: %s: %w", it.Cluster, it.Domain, AttrOpenChangedAt, err)
	}
	var detectorAt time.Time
	if it.DetectorAt != 0 {
		detectorAt = time.UnixMilli(it.DetectorAt).UTC()
	}
	return state.Instance{
		Cluster:                 it.Cluster,
		Domain:                  it.Domain,
		Region:                  it.Region,
		DistributionPlaylistURL: it.DistributionPlaylistURL,
		OriginPlaylistURL:       it.OriginPlaylistURL,
		Open:                    it.Open,
		Stale:                   it.Stale,
		Health:                  state.Health(it.Health),
		HealthChangedAt:         hc,
		OpenChangedAt:           oc,
		Reason:                  it.Reason,
		ChangedBy:               it.ChangedBy,
		Version:                 it.Version,
		DetectorAt:              detectorAt,
	}, nil
}

func toAuditItem(r state.AuditRecord, retention time.Duration) auditItem {
	return auditItem{
		Cluster:        r.Cluster,
		Domain:         auditKey(r),
		Kind:           KindAudit,
		InstanceDomain: r.Domain,
		At:             r.At.UTC().Format(timeLayout),
		Field:          string(r.Field),
		Before:         r.Before,
		After:          r.After,
		By:             r.By,
		Reason:         r.Reason,
		Force:          r.Force,
		Fallback:       r.Fallback,
		Version:        r.Version,
		ExpiresAt:      r.At.Add(retention).Unix(),
	}
}

func fromAuditItem(av map[string]types.AttributeValue) (state.AuditRecord, error) {
	var it auditItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return state.AuditRecord{}, fmt.Errorf("decode audit item: %w", err)
	}
	at, err := parseTime(it.At)
	if err != nil {
		return state.AuditRecord{}, fmt.Errorf("decode audit item %s/%s: %s: %w", it.Cluster, it.Domain, AttrAt, err)
	}
	return state.AuditRecord{
		Cluster:  it.Cluster,
		Domain:   it.InstanceDomain,
		At:       at,
		Field:    state.Field(it.Field),
		Before:   it.Before,
		After:    it.After,
		By:       it.By,
		Reason:   it.Reason,
		Force:    it.Force,
		Fallback: it.Fallback,
		Version:  it.Version,
	}, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func auditKey(r state.AuditRecord) string {
	return fmt.Sprintf("%s%020d#%s#%020d", AuditPrefix, r.At.UnixNano(), r.Domain, r.Version)
}

func isAuditKey(k string) bool { return strings.HasPrefix(k, AuditPrefix) && len(k) > len(AuditPrefix) }

func mustMarshal(v any) map[string]types.AttributeValue {
	av, err := attributevalue.MarshalMap(v)
	if err != nil {
		// Only our own item structs of strings, bools and integers get here.
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return av
}
