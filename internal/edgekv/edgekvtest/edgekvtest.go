// Package edgekvtest is the contract every edgekv.Store passes: the CloudFront KeyValueStore
// adapter (against kvsfake) and the in-process twin run the same tests.
package edgekvtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/edgekv"
)

// Run runs the contract on stores made by open, each empty.
func Run(t *testing.T, open func(t *testing.T) edgekv.Store) {
	ctx := context.Background()
	etag := func(t *testing.T, s edgekv.Store) string {
		t.Helper()
		d, err := s.Describe(ctx)
		if err != nil {
			t.Fatalf("Describe: %v", err)
		}
		if d.ETag == "" {
			t.Fatal("Describe returned an empty ETag")
		}
		return d.ETag
	}
	t.Run("put then get, describe counts items and changes the ETag", func(t *testing.T) {
		s := open(t)
		before := etag(t, s)
		after, err := s.Update(ctx, before, []edgekv.Write{{Key: "a.example", Value: `{"open":true}`}, {Key: "b.example", Value: `{"open":false}`}})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if after == before {
			t.Fatalf("Update returned the old ETag %s", after)
		}
		d, err := s.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := d, (edgekv.Description{ETag: after, ItemCount: 2}); got != want {
			t.Fatalf("Describe = %+v, want %+v", got, want)
		}
		if got, err := s.Get(ctx, "b.example"); err != nil || got != `{"open":false}` {
			t.Fatalf("Get = %q, %v", got, err)
		}
	})
	t.Run("missing key is ErrNotFound", func(t *testing.T) {
		s := open(t)
		if _, err := s.Get(ctx, "nobody.example"); !errors.Is(err, edgekv.ErrNotFound) {
			t.Fatalf("Get of a missing key: %v, want edgekv.ErrNotFound", err)
		}
	})
	t.Run("stale ETag conflicts and changes nothing", func(t *testing.T) {
		s := open(t)
		old := etag(t, s)
		if _, err := s.Update(ctx, old, []edgekv.Write{{Key: "k", Value: "first"}}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Update(ctx, old, []edgekv.Write{{Key: "k", Value: "second"}, {Key: "other", Value: "x"}})
		if !errors.Is(err, edgekv.ErrConflict) {
			t.Fatalf("Update with a stale ETag: %v, want edgekv.ErrConflict", err)
		}
		if got, _ := s.Get(ctx, "k"); got != "first" {
			t.Fatalf("after the conflict k = %q, want first", got)
		}
		if _, err := s.Get(ctx, "other"); !errors.Is(err, edgekv.ErrNotFound) {
			t.Fatalf("a conflicting update wrote part of its keys: %v", err)
		}
	})
	t.Run("chained updates each against the previous ETag", func(t *testing.T) {
		s := open(t)
		tag := etag(t, s)
		var err error
		for i := range 3 {
			if tag, err = s.Update(ctx, tag, []edgekv.Write{{Key: "k", Value: fmt.Sprint(i)}}); err != nil {
				t.Fatalf("update %d: %v", i, err)
			}
		}
		if got := etag(t, s); got != tag {
			t.Fatalf("Describe ETag %s, want the last update's %s", got, tag)
		}
	})
	t.Run("delete removes a key, deleting a missing key is no error", func(t *testing.T) {
		s := open(t)
		tag, err := s.Update(ctx, etag(t, s), []edgekv.Write{{Key: "k", Value: "v"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(ctx, tag, []edgekv.Write{{Key: "k", Delete: true}, {Key: "never", Delete: true}}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := s.Get(ctx, "k"); !errors.Is(err, edgekv.ErrNotFound) {
			t.Fatalf("Get after delete: %v, want edgekv.ErrNotFound", err)
		}
	})
	t.Run("list pages through every entry in key order", func(t *testing.T) {
		s := open(t)
		tag := etag(t, s)
		var want []edgekv.Item
		for batch := range 3 { // 120 keys: three pages of 50, 50, 20
			var w []edgekv.Write
			for i := range 40 {
				k := fmt.Sprintf("key-%03d", batch*40+i)
				w = append(w, edgekv.Write{Key: k, Value: "v" + k})
				want = append(want, edgekv.Item{Key: k, Value: "v" + k})
			}
			var err error
			if tag, err = s.Update(ctx, tag, w); err != nil {
				t.Fatal(err)
			}
		}
		var got []edgekv.Item
		pages, token := 0, ""
		for {
			p, err := s.List(ctx, token)
			if err != nil {
				t.Fatalf("List page %d: %v", pages+1, err)
			}
			pages++
			got = append(got, p.Items...)
			if token = p.Next; token == "" {
				break
			}
			if pages > 10 {
				t.Fatal("List does not end")
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("listed entries (-want +got):\n%s", diff)
		}
		if pages != 3 {
			t.Fatalf("%d pages, want 3 of at most %d", pages, edgekv.PageSize)
		}
	})
	t.Run("refused writes are ErrInvalid and change nothing", func(t *testing.T) {
		s := open(t)
		tag := etag(t, s)
		tooMany := make([]edgekv.Write, edgekv.MaxWrites+1)
		for i := range tooMany {
			tooMany[i] = edgekv.Write{Key: fmt.Sprint("k", i), Value: "v"}
		}
		for name, w := range map[string][]edgekv.Write{
			"too many writes": tooMany,
			"value too long":  {{Key: "k", Value: strings.Repeat("x", edgekv.MaxValueLen+1)}},
			"key too long":    {{Key: strings.Repeat("k", edgekv.MaxKeyLen+1), Value: "v"}},
			"empty key":       {{Key: "", Value: "v"}},
		} {
			if _, err := s.Update(ctx, tag, w); !errors.Is(err, edgekv.ErrInvalid) {
				t.Errorf("%s: %v, want edgekv.ErrInvalid", name, err)
			}
		}
		if got := etag(t, s); got != tag {
			t.Fatalf("a refused write changed the ETag from %s to %s", tag, got)
		}
	})
}
