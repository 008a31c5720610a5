// Package motoclient points AWS SDK clients at a moto_server for wire tests:
// static dummy credentials, path-style S3, one region, nothing that could reach AWS.
package motoclient

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Region is the region every test client uses.
const Region = "us-east-1"

// Config returns an SDK configuration for a moto_server at endpoint.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDMOTOTEST", "dummy", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// S3 returns a path-style S3 client for a moto_server at endpoint.
func S3(endpoint string) *s3.Client {
	return s3.NewFromConfig(Config(endpoint), func(o *s3.Options) { o.UsePathStyle = true })
}

// Reset forgets everything the moto_server holds, so a subtest starts from nothing.
func Reset(t testing.TB, endpoint string) {
	t.Helper()
	resp, err := http.Post(endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
}

// Bucket creates a bucket, versioned when versioned is true.
func Bucket(t testing.TB, c *s3.Client, name string, versioned bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	if !versioned {
		return
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatalf("version bucket %s: %v", name, err)
	}
}

// Put uploads body as key and returns the new version's ID ("" when unversioned).
func Put(t testing.TB, c *s3.Client, bucket, key string, body []byte) string {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.VersionId)
}

// Versions lists a key's versions and delete markers, newest first.
func Versions(t testing.TB, c *s3.Client, bucket, key string) (versions []types.ObjectVersion, markers []types.DeleteMarkerEntry) {
	t.Helper()
	out, err := c.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatalf("list versions of s3://%s/%s: %v", bucket, key, err)
	}
	for _, v := range out.Versions {
		if aws.ToString(v.Key) == key {
			versions = append(versions, v)
		}
	}
	for _, m := range out.DeleteMarkers {
		if aws.ToString(m.Key) == key {
			markers = append(markers, m)
		}
	}
	return versions, markers
}
