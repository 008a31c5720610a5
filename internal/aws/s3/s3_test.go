package s3_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	s3adapter "github.com/clustered-video-streams/cvs/internal/aws/s3"
	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/blob/blobtest"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// TestContract runs the blob contract on moto_server. Listing pages hold two keys, so the suite's
// listings cross pages.
func TestContract(t *testing.T) {
	endpoint := testenv.Moto(t, "the S3 adapter contract")
	client := motoclient.S3(endpoint)
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) blobtest.Harness {
		store := s3adapter.New(client)
		store.PageSize = 2
		return blobtest.Harness{
			Store: store,
			Now:   time.Now,
			NewBucket: func(t *testing.T, v blob.Versioning) string {
				name := fmt.Sprintf("cvs-contract-%d", n.Add(1))
				ctx := context.Background()
				if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
					t.Fatalf("create bucket %s: %v", name, err)
				}
				if v != blob.Unversioned {
					if _, err := client.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String(name),
						VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatus(v)}}); err != nil {
						t.Fatalf("versioning of %s: %v", name, err)
					}
				}
				return name
			},
		}
	})
}
