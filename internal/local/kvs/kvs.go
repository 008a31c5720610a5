// Package kvs is the in-process twin of a CloudFront KeyValueStore for local runs and tests:
// entries with the service's ETag rule (every write names the current ETag, or conflicts) and
// its limits.
package kvs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/clustered-video-streams/cvs/internal/edgekv"
	"github.com/clustered-video-streams/cvs/internal/local/edge"
)

var _ edgekv.Store = (*Store)(nil)

// Store is one key value store in memory, safe for concurrent use. The zero value is empty and
// ready.
type Store struct {
	mu      sync.RWMutex
	items   map[string]string
	version int
}

func (s *Store) etag() string { return fmt.Sprintf("LOCAL%08d", s.version) }

// Describe returns the current ETag and item count.
func (s *Store) Describe(context.Context) (edgekv.Description, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return edgekv.Description{ETag: s.etag(), ItemCount: len(s.items)}, nil
}

// Get returns the value of key, or edgekv.ErrNotFound.
func (s *Store) Get(_ context.Context, key string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.items[key]
	if !ok {
		return "", fmt.Errorf("get key %s: %w", key, edgekv.ErrNotFound)
	}
	return v, nil
}

// List returns the page of entries after the key token names, in key order. As in the service,
// a write between pages shows in the later pages.
func (s *Store) List(_ context.Context, token string) (edgekv.Page, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := slices.Sorted(maps.Keys(s.items))
	start := 0
	if token != "" {
		i, found := slices.BinarySearch(keys, token)
		if found {
			i++
		}
		start = i
	}
	end := min(start+edgekv.PageSize, len(keys))
	p := edgekv.Page{Items: make([]edgekv.Item, 0, end-start)}
	for _, k := range keys[start:end] {
		p.Items = append(p.Items, edgekv.Item{Key: k, Value: s.items[k]})
	}
	if end < len(keys) {
		p.Next = keys[end-1]
	}
	return p, nil
}

// Update applies writes if ifMatch is the current ETag; deletes of absent keys are no-ops.
func (s *Store) Update(_ context.Context, ifMatch string, writes []edgekv.Write) (string, error) {
	if err := check(writes); err != nil {
		return "", err
	}
	if ifMatch == "" {
		return "", fmt.Errorf("update keys: If-Match is required: %w", edgekv.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ifMatch != s.etag() {
		return "", fmt.Errorf("update keys with If-Match %q, current ETag %s: %w", ifMatch, s.etag(), edgekv.ErrConflict)
	}
	if s.items == nil {
		s.items = map[string]string{}
	}
	for _, w := range writes {
		if w.Delete {
			delete(s.items, w.Key)
		} else {
			s.items[w.Key] = w.Value
		}
	}
	s.version++
	return s.etag(), nil
}

func check(writes []edgekv.Write) error {
	if len(writes) == 0 || len(writes) > edgekv.MaxWrites {
		return fmt.Errorf("update %d keys: one update carries 1 to %d: %w", len(writes), edgekv.MaxWrites, edgekv.ErrInvalid)
	}
	for _, w := range writes {
		if w.Key == "" || len(w.Key) > edgekv.MaxKeyLen {
			return fmt.Errorf("key %q: length must be 1-%d: %w", w.Key, edgekv.MaxKeyLen, edgekv.ErrInvalid)
		}
		if !w.Delete && len(w.Value) > edgekv.MaxValueLen {
			return fmt.Errorf("value of %s: %d bytes, over %d: %w", w.Key, len(w.Value), edgekv.MaxValueLen, edgekv.ErrInvalid)
		}
	}
	return nil
}

// Items returns a copy of every entry.
func (s *Store) Items() map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.items)
}

// Edge returns the store as the local edge's copilot reads it (edge.KeyValueStore): a missing
// key is edge.ErrKeyNotFound.
func (s *Store) Edge() edge.KeyValueStore {
	return edge.KVSFunc(func(ctx context.Context, key string) (string, error) {
		v, err := s.Get(ctx, key)
		if errors.Is(err, edgekv.ErrNotFound) {
			return "", edge.ErrKeyNotFound
		}
		return v, err
	})
}
