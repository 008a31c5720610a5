// Package edgestate is the contract between the state table and the copilot at the edge: the
// CloudFront KeyValueStore keys and values (design.md 4.4) and the HLS content steering manifest
// that edgesync writes and copilot.js reads.
package edgestate

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// MaxValueBytes is the KeyValueStore's limit on a value.
const MaxValueBytes = 1024

// SteeringKeyPrefix starts the key of a cluster's steering manifest. Instance keys are
// distribution domains, which never contain '_' (state.ValidateKey), so the two never collide.
const SteeringKeyPrefix = "steering_"

// DefaultSteeringTTL is how often, in seconds, players re-fetch the steering manifest.
const DefaultSteeringTTL = 10

// SteeringPath returns the URL path under which every distribution running the copilot
// answers the cluster's steering manifest; the merger's --steering-uri points at it.
func SteeringPath(cluster string) string { return "/steering/" + cluster + ".json" }

// InstanceKey returns the KeyValueStore key of an instance: its distribution domain.
func InstanceKey(domain string) string { return domain }

// SteeringKey returns the KeyValueStore key of a cluster's steering manifest.
func SteeringKey(cluster string) string { return SteeringKeyPrefix + cluster }

// Instance is the value stored under an instance's key. The copilot reads only Open; the rest
// is there for operators reading the store and for the header naming the reason.
type Instance struct {
	Open    bool   `json:"open"`
	Since   string `json:"since,omitempty"` // when Open last changed, RFC 3339
	Reason  string `json:"reason,omitempty"`
	Health  string `json:"health,omitempty"`
	Cluster string `json:"cluster"`
	Region  string `json:"region,omitempty"`
	// Version is the state table item's version: edgesync never replaces a value with one
	// from an older version, so a lagging replica cannot undo a newer write.
	Version int64 `json:"version"`
}

// NewInstance returns the value for an instance of the state table.
func NewInstance(in state.Instance) Instance {
	v := Instance{
		Open:    in.Open,
		Reason:  in.Reason,
		Health:  string(in.Health),
		Cluster: in.Cluster,
		Region:  in.Region,
		Version: in.Version,
	}
	if !in.OpenChangedAt.IsZero() {
		v.Since = in.OpenChangedAt.UTC().Format(time.RFC3339)
	}
	return v
}

// EncodeInstance returns the JSON value for an instance, at most MaxValueBytes long: a long
// reason is cut short (on a character boundary) to fit.
func EncodeInstance(in state.Instance) (string, error) {
	v := NewInstance(in)
	b, err := marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s/%s: %w", in.Cluster, in.Domain, err)
	}
	if len(b) > MaxValueBytes {
		// Keep the longest prefix of the reason (cut on a character boundary) that fits.
		reason := v.Reason
		lo, hi := 0, len(reason) // the prefix of length lo fits; hi does not
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			v.Reason = reason[:mid]
			if mb, err := marshal(v); err == nil && len(mb) <= MaxValueBytes {
				lo = mid
			} else {
				hi = mid
			}
		}
		for lo > 0 && !utf8.RuneStart(reason[lo]) {
			lo--
		}
		v.Reason = reason[:lo]
		if b, err = marshal(v); err != nil {
			return "", fmt.Errorf("encode %s/%s: %w", in.Cluster, in.Domain, err)
		}
	}
	if len(b) > MaxValueBytes {
		return "", fmt.Errorf("encode %s/%s: value is %d bytes, over the KeyValueStore limit of %d", in.Cluster, in.Domain, len(b), MaxValueBytes)
	}
	return string(b), nil
}

// DecodeInstance parses an instance value strictly (one object, keys exact and once): a value
// that a person or another writer spelt differently is drift, not the state it seems to say.
func DecodeInstance(s string) (Instance, error) {
	var v Instance
	if err := strictjson.Decode([]byte(s), &v); err != nil {
		return Instance{}, fmt.Errorf("decode instance value: %w", err)
	}
	return v, nil
}

// Steering is an HLS content steering manifest (VERSION 1).
type Steering struct {
	Version         int      `json:"VERSION"`
	TTL             int      `json:"TTL"`
	ReloadURI       string   `json:"RELOAD-URI,omitempty"`
	PathwayPriority []string `json:"PATHWAY-PRIORITY"`
}

// NewSteering returns the steering manifest for a cluster's instances. PATHWAY-IDs are region
// names, as the merger writes them. Open and healthy (fresh) regions come first, then open
// regions whose health is unknown, then open regions that look unwell; closed regions are left
// out, since their edge answers 404 anyway. When no region is open, all are listed, because a
// manifest needs at least one pathway. Ties go by region name, so every writer computes the
// same manifest from the same instances.
func NewSteering(instances []state.Instance, ttl int) Steering {
	if ttl <= 0 {
		ttl = DefaultSteeringTTL
	}
	rank := func(in state.Instance) int {
		switch {
		case !in.Open:
			return 3
		case in.Health == state.HealthFresh:
			return 0
		case in.Health == state.HealthUnknown || in.Health == "":
			return 1
		default:
			return 2
		}
	}
	sorted := slices.Clone(instances)
	slices.SortFunc(sorted, func(a, b state.Instance) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a.Region, b.Region), strings.Compare(a.Domain, b.Domain))
	})
	anyOpen := slices.ContainsFunc(sorted, func(in state.Instance) bool { return in.Open })
	s := Steering{Version: 1, TTL: ttl, PathwayPriority: []string{}}
	for _, in := range sorted {
		if (in.Open || !anyOpen) && in.Region != "" && !slices.Contains(s.PathwayPriority, in.Region) {
			s.PathwayPriority = append(s.PathwayPriority, in.Region)
		}
	}
	return s
}

// EncodeSteering returns the manifest's JSON, which the copilot serves as is.
func EncodeSteering(s Steering) (string, error) {
	b, err := marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode steering manifest: %w", err)
	}
	if len(b) > MaxValueBytes {
		return "", fmt.Errorf("encode steering manifest: %d bytes, over the KeyValueStore limit of %d", len(b), MaxValueBytes)
	}
	return string(b), nil
}

// Entries returns every KeyValueStore entry for one cluster's instances: one per instance and
// the cluster's steering manifest (none when there are no instances).
func Entries(cluster string, instances []state.Instance, ttl int) (map[string]string, error) {
	out := make(map[string]string, len(instances)+1)
	for _, in := range instances {
		v, err := EncodeInstance(in)
		if err != nil {
			return nil, err
		}
		out[InstanceKey(in.Domain)] = v
	}
	if len(instances) == 0 {
		return out, nil
	}
	v, err := EncodeSteering(NewSteering(instances, ttl))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cluster, err)
	}
	out[SteeringKey(cluster)] = v
	return out, nil
}

// marshal encodes without HTML escaping (the values are never embedded in HTML) and without
// the encoder's trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
