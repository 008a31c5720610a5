// Package blobtest is the contract every blob.Store passes: the S3 adapter on moto_server and
// the local twin run the same suite, so what one guarantees the other does too.
package blobtest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/blob"
)

// Harness is a store under test and what the suite needs around it.
type Harness struct {
	Store blob.Store
	// NewBucket makes an empty bucket, blob.Unversioned or blob.Enabled, and returns its name.
	NewBucket func(t *testing.T, v blob.Versioning) string
	// Now is the store's clock.
	Now func() time.Time
}

// New returns a harness for one subtest.
type New func(t *testing.T) Harness

// Run runs the contract suite, one harness per subtest.
func Run(t *testing.T, newHarness New) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, h Harness)
	}{
		{"put then get round-trips body, quoted MD5 ETag, headers and lower-cased metadata", testRoundTrip},
		{"head agrees with get and reads no body", testHeadAgrees},
		{"last modified has whole seconds, within the second of the write", testLastModified},
		{"missing keys are not found on get, head and if-match delete", testNotFound},
		{"an unknown version is not found", testUnknownVersion},
		{"a body over the limit is refused and one of exactly the limit is read", testLimit},
		{"if-match put writes over the ETag it names, quoted or bare", testIfMatchPut},
		{"if-match put with another ETag fails and writes nothing", testIfMatchPutMismatch},
		{"if-match put on a missing key is not found", testIfMatchPutMissing},
		{"if-absent put on an existing key fails and writes nothing", testIfAbsentExisting},
		{"if-absent put writes a missing key and over a delete marker", testIfAbsentMissing},
		{"if-match delete with another ETag fails and deletes nothing", testIfMatchDeleteMismatch},
		{"delete in a versioned bucket adds a marker and keeps the old version", testDeleteMarker},
		{"every put to a versioned bucket is a new version, older ones readable", testVersions},
		{"delete in an unversioned bucket removes the object", testDeleteUnversioned},
		{"list yields current objects under the prefix in key order", testList},
		{"a listing stopped early stops", testListStop},
		{"versioning status of unversioned and versioned buckets", testVersioning},
		{"a missing bucket is not a missing object", testNoBucket},
		{"bad input is refused and writes nothing", testBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newHarness(t)) })
	}
}

var ctx = context.Background()

const limit = 1 << 20

func etagOf(body string) string {
	sum := md5.Sum([]byte(body))
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func put(t *testing.T, h Harness, bucket, key, body string) blob.Written {
	t.Helper()
	w, err := h.Store.Put(ctx, bucket, key, []byte(body), blob.PutOptions{})
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	return w
}

func get(t *testing.T, h Harness, bucket, key, version string) (blob.Object, string) {
	t.Helper()
	o, body, err := h.Store.Get(ctx, bucket, key, blob.GetOptions{VersionID: version, MaxBytes: limit})
	if err != nil {
		t.Fatalf("Get(%s, version %q): %v", key, version, err)
	}
	return o, string(body)
}

// wantErr checks that err matches want and none of the other blob errors.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
	for _, other := range []error{blob.ErrNotFound, blob.ErrConditionFailed, blob.ErrNoBucket, blob.ErrTooLarge} {
		if other != want && errors.Is(err, other) {
			t.Fatalf("%s: err = %v matches %v too", what, err, other)
		}
	}
}

func testRoundTrip(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	const body = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n"
	w, err := h.Store.Put(ctx, b, "out/index.m3u8", []byte(body), blob.PutOptions{
		ContentType: "application/vnd.apple.mpegurl", CacheControl: "max-age=5",
		Metadata: map[string]string{"Cvs-Source-SHA256": "abc123"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if w.ETag != etagOf(body) || w.VersionID == "" {
		t.Fatalf("Put = %+v, want ETag %s and a version ID", w, etagOf(body))
	}
	o, got := get(t, h, b, "out/index.m3u8", "")
	want := blob.Object{Key: "out/index.m3u8", VersionID: w.VersionID, ETag: etagOf(body), LastModified: o.LastModified,
		Size: int64(len(body)), ContentType: "application/vnd.apple.mpegurl", CacheControl: "max-age=5",
		Metadata: map[string]string{"cvs-source-sha256": "abc123"}}
	if diff := cmp.Diff(want, o); diff != "" || got != body {
		t.Fatalf("Get: body %q, object (-want +got):\n%s", got, diff)
	}
}

func testHeadAgrees(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	if _, err := h.Store.Put(ctx, b, "k", []byte("body"), blob.PutOptions{Metadata: map[string]string{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	g, _ := get(t, h, b, "k", "")
	hd, err := h.Store.Head(ctx, b, "k")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(g, hd); diff != "" {
		t.Fatalf("Head differs from Get (-get +head):\n%s", diff)
	}
}

func testLastModified(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	before := h.Now().UTC().Truncate(time.Second)
	put(t, h, b, "k", "x")
	after := h.Now().UTC()
	o, _ := get(t, h, b, "k", "")
	if o.LastModified.Nanosecond() != 0 || o.LastModified.Before(before) || o.LastModified.After(after) || o.LastModified.Location() != time.UTC {
		t.Fatalf("LastModified = %s, want whole seconds in UTC from %s to %s", o.LastModified, before, after)
	}
}

func testNotFound(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	put(t, h, b, "other", "x")
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"get", func() error {
			_, _, err := h.Store.Get(ctx, b, "missing", blob.GetOptions{MaxBytes: limit})
			return err
		}},
		{"head", func() error { _, err := h.Store.Head(ctx, b, "missing"); return err }},
		{"if-match delete", func() error {
			_, err := h.Store.Delete(ctx, b, "missing", blob.DeleteOptions{IfMatch: etagOf("x")})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), blob.ErrNotFound) })
	}
}

func testUnknownVersion(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	put(t, h, b, "k", "x")
	other := put(t, h, b, "other", "y") // a real version ID, of another key
	_, _, err := h.Store.Get(ctx, b, "k", blob.GetOptions{VersionID: other.VersionID, MaxBytes: limit})
	wantErr(t, "Get(k, version of other)", err, blob.ErrNotFound)
}

func testLimit(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	put(t, h, b, "k", "0123456789")
	if _, body, err := h.Store.Get(ctx, b, "k", blob.GetOptions{MaxBytes: 10}); err != nil || string(body) != "0123456789" {
		t.Fatalf("Get(limit 10) = %q, %v; want the 10 bytes", body, err)
	}
	_, body, err := h.Store.Get(ctx, b, "k", blob.GetOptions{MaxBytes: 9})
	wantErr(t, "Get(limit 9)", err, blob.ErrTooLarge)
	var tl *blob.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 9 || tl.Key != "k" || body != nil {
		t.Fatalf("Get(limit 9) = %q, %#v; want *TooLargeError{Key: k, Limit: 9} and no body", body, err)
	}
}

func testIfMatchPut(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	w := put(t, h, b, "k", "one")
	for i, tag := range []string{w.ETag, strings.Trim(etagOf("two"), `"`)} {
		body := []string{"two", "three"}[i]
		if _, err := h.Store.Put(ctx, b, "k", []byte(body), blob.PutOptions{IfMatch: tag}); err != nil {
			t.Fatalf("Put(if-match %s): %v", tag, err)
		}
		if _, got := get(t, h, b, "k", ""); got != body {
			t.Fatalf("after Put(if-match %s) body = %q, want %q", tag, got, body)
		}
	}
}

func testIfMatchPutMismatch(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	put(t, h, b, "k", "one")
	_, err := h.Store.Put(ctx, b, "k", []byte("two"), blob.PutOptions{IfMatch: etagOf("zero")})
	wantErr(t, "Put(if-match another)", err, blob.ErrConditionFailed)
	if _, got := get(t, h, b, "k", ""); got != "one" {
		t.Fatalf("body = %q after a failed conditional put, want one", got)
	}
}

func testIfMatchPutMissing(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	_, err := h.Store.Put(ctx, b, "k", []byte("two"), blob.PutOptions{IfMatch: etagOf("one")})
	wantErr(t, "Put(if-match, missing)", err, blob.ErrNotFound)
	if _, err := h.Store.Head(ctx, b, "k"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Head after a refused put: %v, want not found", err)
	}
}

func testIfAbsentExisting(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	put(t, h, b, "k", "one")
	_, err := h.Store.Put(ctx, b, "k", []byte("two"), blob.PutOptions{IfAbsent: true})
	wantErr(t, "Put(if-absent, existing)", err, blob.ErrConditionFailed)
	if _, got := get(t, h, b, "k", ""); got != "one" {
		t.Fatalf("body = %q after a failed if-absent put, want one", got)
	}
}

func testIfAbsentMissing(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	if _, err := h.Store.Put(ctx, b, "k", []byte("one"), blob.PutOptions{IfAbsent: true}); err != nil {
		t.Fatalf("Put(if-absent, missing): %v", err)
	}
	if _, err := h.Store.Delete(ctx, b, "k", blob.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.Put(ctx, b, "k", []byte("two"), blob.PutOptions{IfAbsent: true}); err != nil {
		t.Fatalf("Put(if-absent, over a delete marker): %v", err)
	}
	if _, got := get(t, h, b, "k", ""); got != "two" {
		t.Fatalf("body = %q, want two", got)
	}
}

func testIfMatchDeleteMismatch(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	put(t, h, b, "k", "one")
	_, err := h.Store.Delete(ctx, b, "k", blob.DeleteOptions{IfMatch: etagOf("zero")})
	wantErr(t, "Delete(if-match another)", err, blob.ErrConditionFailed)
	if _, got := get(t, h, b, "k", ""); got != "one" {
		t.Fatalf("body = %q after a failed conditional delete, want one", got)
	}
}

func testDeleteMarker(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	w := put(t, h, b, "primary/a.m3u8", "live")
	d, err := h.Store.Delete(ctx, b, "primary/a.m3u8", blob.DeleteOptions{IfMatch: strings.Trim(w.ETag, `"`)})
	if err != nil {
		t.Fatal(err)
	}
	if !d.DeleteMarker || d.VersionID == "" || d.VersionID == w.VersionID {
		t.Fatalf("Delete = %+v, want a delete marker with its own version ID", d)
	}
	if _, err := h.Store.Head(ctx, b, "primary/a.m3u8"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Head after delete: %v, want not found", err)
	}
	if _, _, err := h.Store.Get(ctx, b, "primary/a.m3u8", blob.GetOptions{MaxBytes: limit}); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get after delete: %v, want not found", err)
	}
	o, body := get(t, h, b, "primary/a.m3u8", w.VersionID)
	if body != "live" || o.VersionID != w.VersionID || o.ETag != w.ETag {
		t.Fatalf("old version = %+v %q, want version %s with body live", o, body, w.VersionID)
	}
	if keys := list(t, h, b, "primary/"); len(keys) != 0 {
		t.Fatalf("list after delete = %v, want nothing", keys)
	}
}

func testVersions(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	w1 := put(t, h, b, "k", "one")
	w2 := put(t, h, b, "k", "two")
	if w1.VersionID == w2.VersionID || w1.VersionID == "" {
		t.Fatalf("version IDs %q and %q, want two distinct", w1.VersionID, w2.VersionID)
	}
	if _, got := get(t, h, b, "k", w1.VersionID); got != "one" {
		t.Fatalf("first version = %q, want one", got)
	}
	if o, got := get(t, h, b, "k", ""); got != "two" || o.VersionID != w2.VersionID {
		t.Fatalf("current = %q version %s, want two version %s", got, o.VersionID, w2.VersionID)
	}
}

func testDeleteUnversioned(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Unversioned)
	w := put(t, h, b, "k", "one")
	if w.VersionID != "" {
		t.Fatalf("Put in an unversioned bucket: version ID %q, want none", w.VersionID)
	}
	if o, _ := get(t, h, b, "k", ""); o.VersionID != "" {
		t.Fatalf("Get in an unversioned bucket: version ID %q, want none", o.VersionID)
	}
	d, err := h.Store.Delete(ctx, b, "k", blob.DeleteOptions{IfMatch: w.ETag})
	if err != nil || d != (blob.Deleted{}) {
		t.Fatalf("Delete = %+v, %v; want no marker", d, err)
	}
	if _, err := h.Store.Head(ctx, b, "k"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Head after delete: %v, want not found", err)
	}
	if _, err := h.Store.Delete(ctx, b, "k", blob.DeleteOptions{}); err != nil {
		t.Fatalf("unconditional Delete of a missing key: %v, want success as S3 answers", err)
	}
}

func list(t *testing.T, h Harness, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for o, err := range h.Store.List(ctx, bucket, prefix) {
		if err != nil {
			t.Fatalf("List(%s): %v", prefix, err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

func testList(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	for _, k := range []string{"primary/c.m3u8", "primary/a.m3u8", "failover/a.m3u8", "primary/b/1.ts", "primaryx", "primary/gone.m3u8", "primary/d.m3u8"} {
		put(t, h, b, k, "body of "+k)
	}
	if _, err := h.Store.Delete(ctx, b, "primary/gone.m3u8", blob.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	before := h.Now().UTC().Add(-2 * time.Second)
	var got []blob.Object
	for o, err := range h.Store.List(ctx, b, "primary/") {
		if err != nil {
			t.Fatal(err)
		}
		if o.LastModified.Before(before) || o.LastModified.After(h.Now()) {
			t.Errorf("%s: LastModified %s, want about now", o.Key, o.LastModified)
		}
		o.LastModified = time.Time{}
		got = append(got, o)
	}
	var want []blob.Object
	for _, k := range []string{"primary/a.m3u8", "primary/b/1.ts", "primary/c.m3u8", "primary/d.m3u8"} {
		want = append(want, blob.Object{Key: k, ETag: etagOf("body of " + k), Size: int64(len("body of " + k))})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("List(primary/) (-want +got):\n%s", diff)
	}
	if keys := list(t, h, b, "nothing/"); len(keys) != 0 {
		t.Fatalf("List(nothing/) = %v, want nothing", keys)
	}
}

func testListStop(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	for i := range 5 {
		put(t, h, b, fmt.Sprintf("p/%d", i), "x")
	}
	n := 0
	for _, err := range h.Store.List(ctx, b, "p/") {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("read %d objects, want to stop at 3", n)
	}
}

func testVersioning(t *testing.T, h Harness) {
	for _, v := range []blob.Versioning{blob.Unversioned, blob.Enabled} {
		got, err := h.Store.Versioning(ctx, h.NewBucket(t, v))
		if err != nil || got != v {
			t.Fatalf("Versioning = %q, %v; want %q", got, err, v)
		}
	}
}

func testNoBucket(t *testing.T, h Harness) {
	const b = "cvs-no-such-bucket"
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"get", func() error { _, _, err := h.Store.Get(ctx, b, "k", blob.GetOptions{MaxBytes: limit}); return err }, blob.ErrNoBucket},
		{"put", func() error { _, err := h.Store.Put(ctx, b, "k", []byte("x"), blob.PutOptions{}); return err }, blob.ErrNoBucket},
		{"list", func() error {
			for _, err := range h.Store.List(ctx, b, "") {
				return err
			}
			return nil
		}, blob.ErrNoBucket},
		{"versioning", func() error { _, err := h.Store.Versioning(ctx, b); return err }, blob.ErrNoBucket},
		// HEAD answers carry no body that could tell a missing bucket from a missing key.
		{"head", func() error { _, err := h.Store.Head(ctx, b, "k"); return err }, blob.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if other := map[error]error{blob.ErrNoBucket: blob.ErrNotFound, blob.ErrNotFound: blob.ErrNoBucket}[tc.want]; errors.Is(err, other) {
				t.Fatalf("err = %v also matches %v", err, other)
			}
		})
	}
}

func testBadInput(t *testing.T, h Harness) {
	b := h.NewBucket(t, blob.Enabled)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"put without a key", func() error { _, err := h.Store.Put(ctx, b, "", []byte("x"), blob.PutOptions{}); return err }},
		{"put with if-match and if-absent", func() error {
			_, err := h.Store.Put(ctx, b, "k", []byte("x"), blob.PutOptions{IfMatch: etagOf("x"), IfAbsent: true})
			return err
		}},
		{"put with a metadata key that is no header name", func() error {
			_, err := h.Store.Put(ctx, b, "k", []byte("x"), blob.PutOptions{Metadata: map[string]string{"a b": "1"}})
			return err
		}},
		{"get without a limit", func() error { _, _, err := h.Store.Get(ctx, b, "k", blob.GetOptions{}); return err }},
		{"get without a bucket", func() error { _, _, err := h.Store.Get(ctx, "", "k", blob.GetOptions{MaxBytes: 1}); return err }},
		{"delete without a key", func() error { _, err := h.Store.Delete(ctx, b, "", blob.DeleteOptions{}); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, kind := range []error{blob.ErrNotFound, blob.ErrConditionFailed, blob.ErrNoBucket} {
				if errors.Is(err, kind) {
					t.Fatalf("err = %v matches %v: bad input must not read as a store answer", err, kind)
				}
			}
		})
	}
	if keys := list(t, h, b, ""); len(keys) != 0 {
		t.Fatalf("bad input wrote %v", keys)
	}
}
