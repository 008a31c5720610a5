// Package s3 is the blob.Store over Amazon S3: the one place that speaks the S3 SDK and maps its
// errors to blob's.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/hls"
)

var _ blob.Store = (*Store)(nil)

// Store is a blob.Store on an S3 client the caller built (path-style for moto_server).
type Store struct {
	client *awss3.Client
	// PageSize is how many keys one list request asks for; 0 means S3's default (1000).
	PageSize int32
}

// New returns a Store on client.
func New(client *awss3.Client) *Store { return &Store{client: client} }

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, bucket, key string, o blob.GetOptions) (blob.Object, []byte, error) {
	if err := errors.Join(blob.CheckName(bucket, key), o.Check()); err != nil {
		return blob.Object{}, nil, err
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if o.VersionID != "" {
		in.VersionId = aws.String(o.VersionID)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return blob.Object{}, nil, wrap("get", bucket, key, o.VersionID != "", err)
	}
	defer out.Body.Close()
	tooLarge := &blob.TooLargeError{Bucket: bucket, Key: key, Limit: o.MaxBytes}
	if aws.ToInt64(out.ContentLength) > o.MaxBytes {
		return blob.Object{}, nil, tooLarge // refused before reading a byte
	}
	body, err := hls.ReadLimited(out.Body, o.MaxBytes)
	if errors.Is(err, hls.ErrTooLarge) {
		return blob.Object{}, nil, tooLarge
	}
	if err != nil {
		return blob.Object{}, nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	return blob.Object{
		Key: key, VersionID: aws.ToString(out.VersionId), ETag: aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified).UTC(), Size: int64(len(body)),
		ContentType: aws.ToString(out.ContentType), CacheControl: aws.ToString(out.CacheControl),
		Metadata: lower(out.Metadata),
	}, body, nil
}

// Head implements blob.Store.
func (s *Store) Head(ctx context.Context, bucket, key string) (blob.Object, error) {
	if err := blob.CheckName(bucket, key); err != nil {
		return blob.Object{}, err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return blob.Object{}, wrap("head", bucket, key, false, err)
	}
	return blob.Object{
		Key: key, VersionID: aws.ToString(out.VersionId), ETag: aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified).UTC(), Size: aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType), CacheControl: aws.ToString(out.CacheControl),
		Metadata: lower(out.Metadata),
	}, nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, bucket, key string, body []byte, o blob.PutOptions) (blob.Written, error) {
	if err := errors.Join(blob.CheckName(bucket, key), o.Check()); err != nil {
		return blob.Written{}, err
	}
	in := &awss3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), Metadata: o.Metadata,
	}
	if o.ContentType != "" {
		in.ContentType = aws.String(o.ContentType)
	}
	if o.CacheControl != "" {
		in.CacheControl = aws.String(o.CacheControl)
	}
	if o.IfMatch != "" {
		in.IfMatch = aws.String(o.IfMatch)
	}
	if o.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return blob.Written{}, wrap("put", bucket, key, false, err)
	}
	return blob.Written{ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId)}, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, bucket, key string, o blob.DeleteOptions) (blob.Deleted, error) {
	if err := blob.CheckName(bucket, key); err != nil {
		return blob.Deleted{}, err
	}
	in := &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if o.IfMatch != "" {
		in.IfMatch = aws.String(o.IfMatch)
	}
	out, err := s.client.DeleteObject(ctx, in)
	if err != nil {
		return blob.Deleted{}, wrap("delete", bucket, key, false, err)
	}
	d := blob.Deleted{DeleteMarker: aws.ToBool(out.DeleteMarker)}
	if d.DeleteMarker {
		d.VersionID = aws.ToString(out.VersionId)
	}
	return d, nil
}

// List implements blob.Store.
func (s *Store) List(ctx context.Context, bucket, prefix string) iter.Seq2[blob.Object, error] {
	return func(yield func(blob.Object, error) bool) {
		if bucket == "" {
			yield(blob.Object{}, errors.New("no bucket name"))
			return
		}
		in := &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
		if s.PageSize > 0 {
			in.MaxKeys = aws.Int32(s.PageSize)
		}
		p := awss3.NewListObjectsV2Paginator(s.client, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(blob.Object{}, wrap("list", bucket, prefix, false, err))
				return
			}
			for _, o := range page.Contents {
				if !yield(blob.Object{Key: aws.ToString(o.Key), ETag: aws.ToString(o.ETag), LastModified: aws.ToTime(o.LastModified).UTC(), Size: aws.ToInt64(o.Size)}, nil) {
					return
				}
			}
		}
	}
}

// Versioning implements blob.Store.
func (s *Store) Versioning(ctx context.Context, bucket string) (blob.Versioning, error) {
	if bucket == "" {
		return "", errors.New("no bucket name")
	}
	out, err := s.client.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil {
		return "", wrap("versioning of", bucket, "", false, err)
	}
	return blob.Versioning(out.Status), nil
}

// wrap names the operation and object and adds the blob error the SDK error means, keeping
// the SDK error for the log.
func wrap(op, bucket, key string, version bool, err error) error {
	where := fmt.Sprintf("%s s3://%s/%s", op, bucket, key)
	if kind := kindOf(err, version); kind != nil {
		return fmt.Errorf("%s: %w: %w", where, kind, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// kindOf maps an SDK error to a blob error, or nil. version says a version was asked for, where
// S3 answers 405 for a delete marker.
func kindOf(err error, version bool) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NoSuchVersion", "NotFound":
			return blob.ErrNotFound
		case "NoSuchBucket":
			return blob.ErrNoBucket
		case "PreconditionFailed", "ConditionalRequestConflict":
			return blob.ErrConditionFailed
		case "MethodNotAllowed":
			if version {
				return blob.ErrNotFound
			}
		}
	}
	// A HEAD answer has no body, so no code: only its status says.
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return blob.ErrNotFound
		case http.StatusPreconditionFailed:
			return blob.ErrConditionFailed
		}
	}
	return nil
}

// lower returns metadata with lower-case keys, as S3 stores them.
func lower(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
