// Package cloudfront invalidates CloudFront caches: the adapter behind cdn.Invalidator.
package cloudfront

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscf "github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/clustered-video-streams/cvs/internal/cdn"
)

var _ cdn.Invalidator = (*Invalidator)(nil)

// Client is the part of *cloudfront.Client the adapter calls.
type Client interface {
	CreateInvalidation(ctx context.Context, in *awscf.CreateInvalidationInput, opts ...func(*awscf.Options)) (*awscf.CreateInvalidationOutput, error)
}

// Invalidator creates invalidations with a CloudFront client the caller built.
type Invalidator struct {
	Client Client
}

// New returns an Invalidator over c.
func New(c Client) *Invalidator { return &Invalidator{Client: c} }

// Invalidate creates one invalidation of in.Paths and returns its ID.
func (i *Invalidator) Invalidate(ctx context.Context, in cdn.Invalidation) (string, error) {
	if len(in.Paths) == 0 {
		return "", fmt.Errorf("invalidate on %s: no paths", in.DistributionID)
	}
	out, err := i.Client.CreateInvalidation(ctx, &awscf.CreateInvalidationInput{
		DistributionId: aws.String(in.DistributionID),
		InvalidationBatch: &cftypes.InvalidationBatch{
			CallerReference: aws.String(in.CallerReference),
			Paths:           &cftypes.Paths{Quantity: aws.Int32(int32(len(in.Paths))), Items: in.Paths},
		},
	})
	if err != nil {
		return "", fmt.Errorf("invalidate %v on %s: %w", in.Paths, in.DistributionID, err)
	}
	if out.Invalidation == nil {
		return "", errors.New("create invalidation returned no invalidation")
	}
	return aws.ToString(out.Invalidation.Id), nil
}
