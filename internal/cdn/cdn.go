// Package cdn is the vocabulary of CDN cache invalidation (CloudFront): asking a distribution
// to drop its cached copies of some paths.
package cdn

import "context"

// Invalidation asks a distribution to drop the cached copies of Paths.
type Invalidation struct {
	DistributionID string
	// Paths start with "/" and may end with "*".
	Paths []string
	// CallerReference makes the request unique: a repeated reference is the same request.
	CallerReference string
}

// Invalidator creates invalidations and returns the invalidation's ID.
type Invalidator interface {
	Invalidate(ctx context.Context, in Invalidation) (id string, err error)
}
