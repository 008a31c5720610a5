package cloudfront_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/cdn"
	"github.com/clustered-video-streams/cvs/internal/local/cloudfront"
)

func TestRecorder(t *testing.T) {
	var heard []cdn.Invalidation
	r := &cloudfront.Recorder{OnInvalidate: func(in cdn.Invalidation) { heard = append(heard, in) }}
	ctx := context.Background()
	in := cdn.Invalidation{DistributionID: "E1", Paths: []string{"/news/index.m3u8"}, CallerReference: "ref-1"}
	id, err := r.Invalidate(ctx, in)
	if err != nil || id == "" {
		t.Fatalf("Invalidate = %q, %v", id, err)
	}
	t.Run("a repeated caller reference is the same invalidation", func(t *testing.T) {
		if again, err := r.Invalidate(ctx, in); err != nil || again != id {
			t.Fatalf("repeat = %q, %v, want %q", again, err, id)
		}
	})
	t.Run("a caller reference reused with other paths is refused", func(t *testing.T) {
		other := in
		other.Paths = []string{"/other"}
		if _, err := r.Invalidate(ctx, other); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("a path without a leading slash is refused", func(t *testing.T) {
		if _, err := r.Invalidate(ctx, cdn.Invalidation{DistributionID: "E1", Paths: []string{"x"}, CallerReference: "ref-2"}); err == nil {
			t.Fatal("want an error")
		}
	})
	if diff := cmp.Diff([]cdn.Invalidation{in}, r.Invalidations()); diff != "" {
		t.Fatalf("recorded (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]cdn.Invalidation{in}, heard); diff != "" {
		t.Fatalf("heard (-want +got):\n%s", diff)
	}
}
