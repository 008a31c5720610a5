// Package cloudfront is the in-process twin of CloudFront invalidation for local runs and
// tests: it records each invalidation and tells whoever serves the cached copies.
package cloudfront

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/clustered-video-streams/cvs/internal/cdn"
)

var _ cdn.Invalidator = (*Recorder)(nil)

// Recorder records invalidations. The zero value is ready.
type Recorder struct {
	// OnInvalidate, when set, hears of every invalidation (a local distribution drops its
	// cached copies there).
	OnInvalidate func(in cdn.Invalidation)

	mu   sync.Mutex
	done []cdn.Invalidation
	ids  map[string]string // caller reference -> ID
}

// Invalidate records in and returns its ID. A repeated caller reference with the same paths is
// the same invalidation, as in CloudFront; with other paths it is refused.
func (r *Recorder) Invalidate(_ context.Context, in cdn.Invalidation) (string, error) {
	if in.DistributionID == "" || in.CallerReference == "" || len(in.Paths) == 0 {
		return "", fmt.Errorf("invalidate: distribution, caller reference and paths are required")
	}
	for _, p := range in.Paths {
		if !strings.HasPrefix(p, "/") {
			return "", fmt.Errorf("invalidate on %s: path %q does not start with /", in.DistributionID, p)
		}
	}
	r.mu.Lock()
	ref := in.DistributionID + "\x00" + in.CallerReference
	if id, ok := r.ids[ref]; ok {
		i := slices.IndexFunc(r.done, func(d cdn.Invalidation) bool {
			return d.DistributionID == in.DistributionID && d.CallerReference == in.CallerReference
		})
		same := slices.Equal(r.done[i].Paths, in.Paths)
		r.mu.Unlock()
		if !same {
			return "", fmt.Errorf("invalidate on %s: caller reference %s was used with other paths", in.DistributionID, in.CallerReference)
		}
		return id, nil
	}
	if r.ids == nil {
		r.ids = map[string]string{}
	}
	in.Paths = slices.Clone(in.Paths)
	r.done = append(r.done, in)
	id := fmt.Sprintf("ILOCAL%06d", len(r.done))
	r.ids[ref] = id
	r.mu.Unlock()
	if r.OnInvalidate != nil {
		r.OnInvalidate(in)
	}
	return id, nil
}

// Invalidations returns every invalidation recorded, oldest first.
func (r *Recorder) Invalidations() []cdn.Invalidation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.done)
}
