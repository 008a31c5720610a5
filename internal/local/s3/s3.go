// Package s3 is an in-process S3 for local runs and tests: versioned buckets, MD5 ETags,
// conditional writes and deletes, and event notifications filtered as S3 filters them.
package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/blob"
)

var _ blob.Store = (*Store)(nil)

// Store holds buckets in memory. The zero value is not usable; call New.
type Store struct {
	now    func() time.Time
	region string

	mu      sync.Mutex
	buckets map[string]*bucket
	seq     uint64 // version IDs and event sequencers
}

type bucket struct {
	status  blob.Versioning
	objects map[string][]*version // oldest first; the last is current
	rules   []Rule
}

type version struct {
	id     string
	marker bool
	obj    blob.Object
	body   []byte
}

// Config configures a Store.
type Config struct {
	// Now is the clock of LastModified and event times; nil means time.Now. LastModified is
	// Now truncated to the second, as S3 reports it.
	Now    func() time.Time
	Region string // of event records; "" means us-east-1
}

// New returns an empty Store.
func New(c Config) *Store {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	return &Store{now: c.Now, region: c.Region, buckets: map[string]*bucket{}}
}

// CreateBucket makes an empty bucket with versioning status v (blob.Unversioned, blob.Enabled).
// A bucket that exists already is an error.
func (s *Store) CreateBucket(name string, v blob.Versioning) error {
	if name == "" {
		return errors.New("create bucket: no name")
	}
	if v != blob.Unversioned && v != blob.Enabled {
		return fmt.Errorf("create bucket %s: versioning %q: a new bucket is unversioned or Enabled", name, v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[name]; ok {
		return fmt.Errorf("create bucket %s: it exists already", name)
	}
	s.buckets[name] = &bucket{status: v, objects: map[string][]*version{}}
	return nil
}

// SetVersioning enables or suspends versioning; like S3, a versioned bucket never becomes
// unversioned again.
func (s *Store) SetVersioning(name string, v blob.Versioning) error {
	if v != blob.Enabled && v != blob.Suspended {
		return fmt.Errorf("versioning of %s: %q is neither Enabled nor Suspended", name, v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[name]
	if !ok {
		return fmt.Errorf("versioning of %s: %w", name, blob.ErrNoBucket)
	}
	b.status = v
	return nil
}

// bucketLocked returns a bucket; s.mu is held.
func (s *Store) bucketLocked(op, name, key string) (*bucket, error) {
	b, ok := s.buckets[name]
	if !ok {
		return nil, fmt.Errorf("%s s3://%s/%s: %w", op, name, key, blob.ErrNoBucket)
	}
	return b, nil
}

// current returns the current version of key, nil when absent or hidden by a delete marker.
func (b *bucket) current(key string) *version {
	vs := b.objects[key]
	if len(vs) == 0 || vs[len(vs)-1].marker {
		return nil
	}
	return vs[len(vs)-1]
}

// Get implements blob.Store.
func (s *Store) Get(_ context.Context, bucketName, key string, o blob.GetOptions) (blob.Object, []byte, error) {
	if err := errors.Join(blob.CheckName(bucketName, key), o.Check()); err != nil {
		return blob.Object{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucketLocked("get", bucketName, key)
	if err != nil {
		return blob.Object{}, nil, err
	}
	v := b.current(key)
	if o.VersionID != "" {
		v = nil
		for _, c := range b.objects[key] {
			if c.id == o.VersionID && !c.marker {
				v = c
			}
		}
	}
	if v == nil {
		return blob.Object{}, nil, fmt.Errorf("get s3://%s/%s: %w", bucketName, key, blob.ErrNotFound)
	}
	if int64(len(v.body)) > o.MaxBytes {
		return blob.Object{}, nil, &blob.TooLargeError{Bucket: bucketName, Key: key, Limit: o.MaxBytes}
	}
	return v.copyObject(), bytes.Clone(v.body), nil
}

func (v *version) copyObject() blob.Object {
	o := v.obj
	o.Metadata = maps.Clone(o.Metadata)
	return o
}

// Head implements blob.Store. A missing bucket answers blob.ErrNotFound, as S3's HEAD does.
func (s *Store) Head(_ context.Context, bucketName, key string) (blob.Object, error) {
	if err := blob.CheckName(bucketName, key); err != nil {
		return blob.Object{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		// Like S3, whose HEAD answer has no body to say which is missing.
		return blob.Object{}, fmt.Errorf("head s3://%s/%s: %w (the bucket is missing)", bucketName, key, blob.ErrNotFound)
	}
	v := b.current(key)
	if v == nil {
		return blob.Object{}, fmt.Errorf("head s3://%s/%s: %w", bucketName, key, blob.ErrNotFound)
	}
	return v.copyObject(), nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, bucketName, key string, body []byte, o blob.PutOptions) (blob.Written, error) {
	if err := errors.Join(blob.CheckName(bucketName, key), o.Check()); err != nil {
		return blob.Written{}, err
	}
	s.mu.Lock()
	b, err := s.bucketLocked("put", bucketName, key)
	if err != nil {
		s.mu.Unlock()
		return blob.Written{}, err
	}
	cur := b.current(key)
	switch {
	case o.IfMatch != "" && cur == nil:
		s.mu.Unlock()
		return blob.Written{}, fmt.Errorf("put s3://%s/%s if-match %s: %w", bucketName, key, o.IfMatch, blob.ErrNotFound)
	case o.IfMatch != "" && !blob.SameETag(o.IfMatch, cur.obj.ETag):
		s.mu.Unlock()
		return blob.Written{}, fmt.Errorf("put s3://%s/%s if-match %s (it is %s): %w", bucketName, key, o.IfMatch, cur.obj.ETag, blob.ErrConditionFailed)
	case o.IfAbsent && cur != nil:
		s.mu.Unlock()
		return blob.Written{}, fmt.Errorf("put s3://%s/%s if absent: %w", bucketName, key, blob.ErrConditionFailed)
	}
	sum := md5.Sum(body)
	ct := o.ContentType
	if ct == "" {
		ct = "binary/octet-stream" // S3's default
	}
	var meta map[string]string
	for k, v := range o.Metadata {
		if meta == nil {
			meta = map[string]string{}
		}
		meta[strings.ToLower(k)] = v
	}
	v := &version{id: s.versionIDLocked(b), body: bytes.Clone(body), obj: blob.Object{
		Key: key, ETag: `"` + hex.EncodeToString(sum[:]) + `"`, LastModified: s.lastModified(),
		Size: int64(len(body)), ContentType: ct, CacheControl: o.CacheControl, Metadata: meta,
	}}
	v.obj.VersionID = v.id
	b.add(key, v)
	ev := s.eventLocked(b, bucketName, "ObjectCreated:Put", v)
	s.mu.Unlock()
	s.deliver(ctx, ev)
	return blob.Written{ETag: v.obj.ETag, VersionID: v.id}, nil
}

// add makes v the current version of key: appended in a versioned bucket, replacing the null
// version when versioning is suspended, replacing everything in an unversioned bucket.
func (b *bucket) add(key string, v *version) {
	switch b.status {
	case blob.Enabled:
		b.objects[key] = append(b.objects[key], v)
	case blob.Suspended:
		b.objects[key] = append(slices.DeleteFunc(b.objects[key], func(o *version) bool { return o.id == "null" }), v)
	default:
		b.objects[key] = []*version{v}
	}
}

// versionIDLocked returns the ID of a new version: opaque and unique while versioning is
// enabled, "null" while suspended, "" in a bucket never versioned.
func (s *Store) versionIDLocked(b *bucket) string {
	switch b.status {
	case blob.Enabled:
		s.seq++
		return fmt.Sprintf("v%015d.%s", s.seq, "cvs-local")
	case blob.Suspended:
		return "null"
	}
	return ""
}

// lastModified is now at S3's resolution of a second.
func (s *Store) lastModified() time.Time { return s.now().UTC().Truncate(time.Second) }

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, bucketName, key string, o blob.DeleteOptions) (blob.Deleted, error) {
	if err := blob.CheckName(bucketName, key); err != nil {
		return blob.Deleted{}, err
	}
	s.mu.Lock()
	b, err := s.bucketLocked("delete", bucketName, key)
	if err != nil {
		s.mu.Unlock()
		return blob.Deleted{}, err
	}
	cur := b.current(key)
	if o.IfMatch != "" {
		if cur == nil {
			s.mu.Unlock()
			return blob.Deleted{}, fmt.Errorf("delete s3://%s/%s if-match %s: %w", bucketName, key, o.IfMatch, blob.ErrNotFound)
		}
		if !blob.SameETag(o.IfMatch, cur.obj.ETag) {
			s.mu.Unlock()
			return blob.Deleted{}, fmt.Errorf("delete s3://%s/%s if-match %s (it is %s): %w", bucketName, key, o.IfMatch, cur.obj.ETag, blob.ErrConditionFailed)
		}
	}
	var out blob.Deleted
	var ev []pending
	if b.status == blob.Unversioned {
		if cur == nil {
			s.mu.Unlock()
			return out, nil // S3 deletes what is not there without complaint
		}
		delete(b.objects, key)
		ev = s.eventLocked(b, bucketName, "ObjectRemoved:Delete", &version{obj: blob.Object{Key: key}})
	} else {
		// S3 adds a marker even over a missing object.
		m := &version{id: s.versionIDLocked(b), marker: true, obj: blob.Object{Key: key, LastModified: s.lastModified()}}
		m.obj.VersionID = m.id
		b.add(key, m)
		out = blob.Deleted{VersionID: m.id, DeleteMarker: true}
		ev = s.eventLocked(b, bucketName, "ObjectRemoved:DeleteMarkerCreated", m)
	}
	s.mu.Unlock()
	s.deliver(ctx, ev)
	return out, nil
}

// List implements blob.Store. It reads a snapshot taken when iteration starts.
func (s *Store) List(_ context.Context, bucketName, prefix string) iter.Seq2[blob.Object, error] {
	return func(yield func(blob.Object, error) bool) {
		if bucketName == "" {
			yield(blob.Object{}, errors.New("no bucket name"))
			return
		}
		s.mu.Lock()
		b, err := s.bucketLocked("list", bucketName, prefix)
		var list []blob.Object
		if err == nil {
			for key := range b.objects {
				if v := b.current(key); v != nil && strings.HasPrefix(key, prefix) {
					list = append(list, blob.Object{Key: key, ETag: v.obj.ETag, LastModified: v.obj.LastModified, Size: v.obj.Size})
				}
			}
		}
		s.mu.Unlock()
		if err != nil {
			yield(blob.Object{}, err)
			return
		}
		slices.SortFunc(list, func(a, b blob.Object) int { return strings.Compare(a.Key, b.Key) })
		for _, o := range list {
			if !yield(o, nil) {
				return
			}
		}
	}
}

// Versioning implements blob.Store.
func (s *Store) Versioning(_ context.Context, bucketName string) (blob.Versioning, error) {
	if bucketName == "" {
		return "", errors.New("no bucket name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucketLocked("versioning of", bucketName, "")
	if err != nil {
		return "", err
	}
	return b.status, nil
}

// Version is one version of an object, or a delete marker (which has only Key, VersionID and
// LastModified).
type Version struct {
	blob.Object
	DeleteMarker bool
}

// Versions returns every version and delete marker of key, oldest first, for tests and
// inspection.
func (s *Store) Versions(bucketName, key string) []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil
	}
	var out []Version
	for _, v := range b.objects[key] {
		out = append(out, Version{Object: v.copyObject(), DeleteMarker: v.marker})
	}
	return out
}
