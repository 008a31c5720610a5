// Package blob is the vocabulary of objects in buckets that the playlist functions read, write
// and delete, and the errors they branch on; internal/aws/s3 and internal/local/s3 implement it.
package blob

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
)

// Store reads, writes and deletes objects in buckets.
type Store interface {
	// Get reads an object (the current version when o.VersionID is ""), refusing a body over
	// o.MaxBytes with *TooLargeError.
	Get(ctx context.Context, bucket, key string, o GetOptions) (Object, []byte, error)
	// Head reads the current version's Object without its body.
	Head(ctx context.Context, bucket, key string) (Object, error)
	// Put writes an object and returns its ETag and version ID. A condition that does not
	// hold fails with ErrConditionFailed (IfMatch on a missing object: ErrNotFound) and writes
	// nothing.
	Put(ctx context.Context, bucket, key string, body []byte, o PutOptions) (Written, error)
	// Delete deletes the current version: in a versioned bucket it adds a delete marker and
	// keeps the versions. With IfMatch, a missing object fails with ErrNotFound and another
	// ETag with ErrConditionFailed; without, deleting a missing object succeeds.
	Delete(ctx context.Context, bucket, key string, o DeleteOptions) (Deleted, error)
	// List yields the current objects whose keys start with prefix, in key order, without
	// metadata or version IDs. It yields at most one error, last.
	List(ctx context.Context, bucket, prefix string) iter.Seq2[Object, error]
	// Versioning returns the bucket's versioning status.
	Versioning(ctx context.Context, bucket string) (Versioning, error)
}

// Errors the behaviour code branches on; every Store error about these matches one with errors.Is.
var (
	// ErrNotFound: no such object or version (a delete marker hides an object). A Head of a
	// missing bucket also answers this: S3 answers HEAD without a body that could tell.
	ErrNotFound = errors.New("no such object")
	// ErrConditionFailed: an IfMatch or IfAbsent condition did not hold (S3's 412
	// PreconditionFailed, or 409 ConditionalRequestConflict for a concurrent conditional write).
	ErrConditionFailed = errors.New("condition failed")
	// ErrNoBucket: the bucket does not exist, a configuration error and not a missing object.
	ErrNoBucket = errors.New("no such bucket")
	// ErrTooLarge is matched by *TooLargeError.
	ErrTooLarge = errors.New("object too large")
)

// TooLargeError refuses an object body over the caller's limit.
type TooLargeError struct {
	Bucket, Key string
	Limit       int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("s3://%s/%s: body larger than %d bytes", e.Bucket, e.Key, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Object describes one version of an object.
type Object struct {
	Key string
	// VersionID is "" in a bucket never versioned, "null" for versions written while
	// versioning was suspended, and "" in listings.
	VersionID string
	// ETag is quoted, as S3 gives it: "\"<hex MD5 of the body>\"" for a single-part upload.
	ETag string
	// LastModified has whole seconds (S3's resolution), in UTC.
	LastModified time.Time
	Size         int64
	ContentType  string
	CacheControl string
	// Metadata is the user metadata, keys in lower case (S3 lowercases them); nil in listings.
	Metadata map[string]string
}

// GetOptions select a version and bound the body.
type GetOptions struct {
	VersionID string // "": the current version
	MaxBytes  int64  // required: a larger body is refused with *TooLargeError
}

// PutOptions describe the object written and the condition for writing it.
type PutOptions struct {
	ContentType  string
	CacheControl string
	Metadata     map[string]string
	// IfMatch writes only over the current version with this ETag (quoted or not).
	IfMatch string
	// IfAbsent writes only when no current version exists (S3's If-None-Match: *).
	IfAbsent bool
}

// DeleteOptions hold the condition of a deletion.
type DeleteOptions struct {
	// IfMatch deletes only the current version with this ETag (quoted or not).
	IfMatch string
}

// Written is what a Put made.
type Written struct {
	ETag      string // quoted
	VersionID string // "" in a bucket never versioned
}

// Deleted is what a Delete made.
type Deleted struct {
	// VersionID is the delete marker's version ID when DeleteMarker is true.
	VersionID    string
	DeleteMarker bool
}

// Versioning is a bucket's versioning status, spelled as S3 spells it.
type Versioning string

// Versioning statuses.
const (
	Unversioned Versioning = "" // never enabled
	Enabled     Versioning = "Enabled"
	Suspended   Versioning = "Suspended"
)

// CheckName refuses an empty bucket name or object key, before any request.
func CheckName(bucket, key string) error {
	switch {
	case bucket == "":
		return errors.New("no bucket name")
	case key == "":
		return fmt.Errorf("s3://%s: no object key", bucket)
	}
	return nil
}

// Check refuses PutOptions that no store could honour.
func (o PutOptions) Check() error {
	if o.IfMatch != "" && o.IfAbsent {
		return errors.New("put: IfMatch and IfAbsent together can never both hold")
	}
	for k := range o.Metadata {
		if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) }) {
			return fmt.Errorf("put: metadata key %q is not an HTTP header token", k)
		}
	}
	return nil
}

// Check refuses a GetOptions without a limit.
func (o GetOptions) Check() error {
	if o.MaxBytes <= 0 {
		return fmt.Errorf("get: MaxBytes %d is not positive", o.MaxBytes)
	}
	return nil
}

// SameETag compares two ETags whether quoted or not.
func SameETag(a, b string) bool {
	return strings.Trim(a, `"`) == strings.Trim(b, `"`)
}
