package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// MaxDetectorMemory bounds one instance's detector memory, as the dynamo store does.
const MaxDetectorMemory = 128 << 10

// DetectorMemory keeps the detector's memory of each instance of a Store, as the dynamo store
// keeps it on the instance's item: an opaque document and a revision that every save bumps.
// It is the detector.MemoryStore of tests and the local runtime.
type DetectorMemory struct {
	store *Store

	mu   sync.Mutex
	docs map[key]detectorDoc
}

type detectorDoc struct {
	data []byte
	rev  int64
}

// NewDetectorMemory returns an empty detector memory for the instances of s.
func NewDetectorMemory(s *Store) *DetectorMemory {
	return &DetectorMemory{store: s, docs: map[key]detectorDoc{}}
}

// LoadDetector returns the instance's detector memory and its revision: nil and 0 when none was
// saved, state.ErrNotFound when the instance does not exist.
func (m *DetectorMemory) LoadDetector(ctx context.Context, cluster, domain string) ([]byte, int64, error) {
	if _, err := m.store.Instance(ctx, cluster, domain); err != nil {
		return nil, 0, fmt.Errorf("load detector memory: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.docs[key{cluster, domain}]
	return append([]byte(nil), d.data...), d.rev, nil
}

// SaveDetector replaces the instance's detector memory if its revision is prev (0: none saved
// yet), stamps the instance's DetectorAt (the detector's heartbeat) and returns the new
// revision, prev+1. Otherwise it writes nothing and fails with
// state.ErrVersionConflict, or state.ErrNotFound for an unknown instance, or *state.InvalidError
// for data that is empty or over MaxDetectorMemory.
func (m *DetectorMemory) SaveDetector(ctx context.Context, cluster, domain string, data []byte, prev int64) (int64, error) {
	if err := checkDetectorMemory(data, prev); err != nil {
		return 0, fmt.Errorf("save detector memory of %s/%s: %w", cluster, domain, err)
	}
	if _, err := m.store.Instance(ctx, cluster, domain); err != nil {
		return 0, fmt.Errorf("save detector memory: %w", err)
	}
	m.store.mu.Lock()
	err := m.store.unavailable("save detector memory", cluster, domain, false)
	m.store.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("save detector memory of %s/%s: %w", cluster, domain, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key{cluster, domain}
	cur := m.docs[k]
	if cur.rev != prev {
		return 0, fmt.Errorf("save detector memory of %s/%s: at revision %d, expected %d: %w", cluster, domain, cur.rev, prev, state.ErrVersionConflict)
	}
	if _, err := m.store.Vouch(ctx, cluster, domain); err != nil {
		return 0, fmt.Errorf("save detector memory: %w", err)
	}
	m.docs[k] = detectorDoc{data: append([]byte(nil), data...), rev: prev + 1}
	return prev + 1, nil
}

func checkDetectorMemory(data []byte, prev int64) error {
	switch {
	case len(data) == 0:
		return &state.InvalidError{Field: "detector", Problem: "empty"}
	case len(data) > MaxDetectorMemory:
		return &state.InvalidError{Field: "detector", Problem: fmt.Sprintf("%d bytes, more than %d", len(data), MaxDetectorMemory)}
	case prev < 0:
		return &state.InvalidError{Field: "detector_rev", Problem: "negative"}
	}
	return nil
}
