// Package edgekv is the vocabulary of the edge's key value store (CloudFront KeyValueStore) in
// edgesync's terms: a store whose every write names the ETag it was decided on, so that a write
// racing another one fails with a conflict instead of undoing it.
package edgekv

import (
	"context"
	"errors"
)

// Store is one key value store.
type Store interface {
	// Describe returns the store's current ETag and size.
	Describe(ctx context.Context) (Description, error)
	// Get returns the value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (string, error)
	// List returns one page of entries in key order, after the page that returned token
	// ("" for the first page). Page.Next is "" on the last page.
	List(ctx context.Context, token string) (Page, error)
	// Update applies puts and deletes at once if the store's ETag is still ifMatch, and returns
	// the new ETag; otherwise it changes nothing and returns an error that is ErrConflict. One
	// update carries at most MaxWrites writes.
	Update(ctx context.Context, ifMatch string, writes []Write) (etag string, err error)
}

// Description is what Describe returns.
type Description struct {
	ETag      string
	ItemCount int
}

// Item is one entry.
type Item struct {
	Key, Value string
}

// Page is one page of List.
type Page struct {
	Items []Item
	Next  string
}

// Write is one put (Delete false) or delete of a key.
type Write struct {
	Key, Value string
	Delete     bool
}

// Limits of the CloudFront KeyValueStore that the twin enforces too.
const (
	// MaxWrites is the most puts and deletes one Update carries.
	MaxWrites = 50
	// MaxKeyLen and MaxValueLen bound one entry, in bytes.
	MaxKeyLen   = 512
	MaxValueLen = 1024
	// PageSize is the number of entries a List page holds (the service's largest page).
	PageSize = 50
)

// Errors callers act on.
var (
	// ErrNotFound: the store holds no such key.
	ErrNotFound = errors.New("key not found")
	// ErrConflict: the store changed since the ETag an Update named.
	ErrConflict = errors.New("key value store changed (ETag mismatch)")
	// ErrInvalid: the store refused the request as it is (a limit, an empty key).
	ErrInvalid = errors.New("invalid key value store request")
)
