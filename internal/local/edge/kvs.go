package edge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// ErrKeyNotFound is a KeyValueStore's answer for a key it does not hold.
var ErrKeyNotFound = errors.New("key not found")

// KeyValueStore is what the copilot reads through `cf.kvs().get(key)`: the CloudFront
// KeyValueStore in production; MemoryKVS or StoreKVS on this machine. Get returns
// ErrKeyNotFound for a missing key; any other error is a read failure.
type KeyValueStore interface {
	Get(ctx context.Context, key string) (string, error)
}

// KVSFunc adapts a function to KeyValueStore.
type KVSFunc func(ctx context.Context, key string) (string, error)

// Get calls f.
func (f KVSFunc) Get(ctx context.Context, key string) (string, error) { return f(ctx, key) }

// MemoryKVS is a KeyValueStore in memory, safe for concurrent use. The zero value is empty and
// ready.
type MemoryKVS struct {
	mu    sync.RWMutex
	items map[string]string
}

// Get returns the value of key, or ErrKeyNotFound.
func (m *MemoryKVS) Get(_ context.Context, key string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.items[key]
	if !ok {
		return "", ErrKeyNotFound
	}
	return v, nil
}

// Put sets key to value.
func (m *MemoryKVS) Put(key, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string]string{}
	}
	m.items[key] = value
}

// Delete removes key.
func (m *MemoryKVS) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, key)
}

// Items returns a copy of every entry.
func (m *MemoryKVS) Items() map[string]string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return maps.Clone(m.items)
}

// StateReader is the part of state.Store that StoreKVS reads.
type StateReader interface {
	Clusters(ctx context.Context) ([]string, error)
	Instances(ctx context.Context, cluster string) ([]state.Instance, error)
}

// StoreKVS is a KeyValueStore that reads through to the state store on every Get, so a local
// edge sees a change the moment it is written, with no sync step. Its values are exactly what
// edgesync writes to CloudFront's store (edgestate). An instance lookup walks every cluster:
// fine for the handful of clusters of a local run, not meant for more.
type StoreKVS struct {
	Store       StateReader
	SteeringTTL int // seconds; 0: edgestate.DefaultSteeringTTL
}

// Get returns the edge entry for a distribution domain or a steering key, or ErrKeyNotFound.
func (s StoreKVS) Get(ctx context.Context, key string) (string, error) {
	if cluster, ok := strings.CutPrefix(key, edgestate.SteeringKeyPrefix); ok {
		instances, err := s.instances(ctx, cluster)
		if err != nil {
			return "", err
		}
		if len(instances) == 0 {
			return "", ErrKeyNotFound
		}
		return edgestate.EncodeSteering(edgestate.NewSteering(instances, s.SteeringTTL))
	}
	clusters, err := s.Store.Clusters(ctx)
	if err != nil {
		return "", fmt.Errorf("read clusters: %w", err)
	}
	for _, cluster := range clusters {
		instances, err := s.instances(ctx, cluster)
		if err != nil {
			return "", err
		}
		for _, in := range instances {
			if edgestate.InstanceKey(in.Domain) == key {
				return edgestate.EncodeInstance(in)
			}
		}
	}
	return "", ErrKeyNotFound
}

func (s StoreKVS) instances(ctx context.Context, cluster string) ([]state.Instance, error) {
	instances, err := s.Store.Instances(ctx, cluster)
	if errors.Is(err, state.ErrNotFound) || errors.Is(err, state.ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read instances of %s: %w", cluster, err)
	}
	return instances, nil
}
