package runtime

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/cdn"
	"github.com/clustered-video-streams/cvs/internal/mastermerge"
)

// maxMasterBytes bounds an object the master distribution serves.
const maxMasterBytes = 16 << 20

// bucketOrigin serves a bucket's objects over HTTP, as S3 does for the master distribution's
// origin: GET and HEAD of /<key>.
type bucketOrigin struct {
	store  blob.Store
	bucket string
}

func (b *bucketOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	obj, body, err := b.store.Get(r.Context(), b.bucket, strings.TrimPrefix(r.URL.Path, "/"), blob.GetOptions{MaxBytes: maxMasterBytes})
	if errors.Is(err, blob.ErrNotFound) {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "InternalError", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	if obj.ContentType != "" {
		h.Set("Content-Type", obj.ContentType)
	}
	if obj.CacheControl != "" {
		h.Set("Cache-Control", obj.CacheControl)
	}
	h.Set("ETag", obj.ETag)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// The merge still declares its bucket and CloudFront dependencies in SDK shapes
// (mastermerge.Bucket, mastermerge.Invalidator). Until it speaks blob and cdn, these two
// adapt the twins to those shapes; they go when mastermerge is rewired.

type mergeBucket struct{ store blob.Store }

func (m mergeBucket) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	obj, err := m.store.Head(ctx, aws.ToString(in.Bucket), aws.ToString(in.Key))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, &smithy.GenericAPIError{Code: "NotFound", Message: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	return &s3.HeadObjectOutput{ETag: aws.String(obj.ETag), Metadata: obj.Metadata}, nil
}

func (m mergeBucket) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	w, err := m.store.Put(ctx, aws.ToString(in.Bucket), aws.ToString(in.Key), body, blob.PutOptions{
		ContentType: aws.ToString(in.ContentType), CacheControl: aws.ToString(in.CacheControl), Metadata: in.Metadata})
	if err != nil {
		return nil, err
	}
	return &s3.PutObjectOutput{ETag: aws.String(w.ETag)}, nil
}

type mergeInvalidator struct{ cdn cdn.Invalidator }

func (m mergeInvalidator) CreateInvalidation(ctx context.Context, in *cloudfront.CreateInvalidationInput, _ ...func(*cloudfront.Options)) (*cloudfront.CreateInvalidationOutput, error) {
	var paths []string
	if in.InvalidationBatch != nil && in.InvalidationBatch.Paths != nil {
		paths = in.InvalidationBatch.Paths.Items
	}
	var ref string
	if in.InvalidationBatch != nil {
		ref = aws.ToString(in.InvalidationBatch.CallerReference)
	}
	id, err := m.cdn.Invalidate(ctx, cdn.Invalidation{DistributionID: aws.ToString(in.DistributionId), Paths: paths, CallerReference: ref})
	if err != nil {
		return nil, err
	}
	return &cloudfront.CreateInvalidationOutput{Invalidation: &cftypes.Invalidation{Id: aws.String(id)}}, nil
}

var (
	_ mastermerge.Bucket      = mergeBucket{}
	_ mastermerge.Invalidator = mergeInvalidator{}
)
