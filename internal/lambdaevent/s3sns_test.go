package lambdaevent_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/lambdaevent"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestS3Objects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		want    []lambdaevent.Object
		wantErr bool
	}{
		{
			name:    "SNS-wrapped primary master upload (sample event)",
			payload: sample(t, "merge-encoder-primary.json"),
			want: []lambdaevent.Object{{EventName: "ObjectCreated:Put", EventTime: "2026-11-21T10:00:00.120Z", Region: "us-east-1",
				Bucket: "cvs-encoder-example", Key: "primary/index.m3u8", VersionID: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
				ETag: "5d41402abc4b2a76b9719d911017c592", Size: 512}},
		},
		{
			name:    "SNS-wrapped media playlist upload (sample event)",
			payload: sample(t, "sweeper-upload.json"),
			want: []lambdaevent.Object{{EventName: "ObjectCreated:Put", EventTime: "2026-11-21T10:00:06.020Z", Region: "us-east-1",
				Bucket: "cvs-encoder-example", Key: "primary/index_1.m3u8", VersionID: "UIORUnfndfhnw89493jJFJ.BCdN9Kzv",
				ETag: "e2fc714c4727ee9395f324cd2e7f331f", Size: 431}},
		},
		{
			name: "direct S3 record as moto sends it: form-encoded key, quoted ETag, no zone, no version",
			payload: `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-21T10:00:00.123456",
				"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"live/my+channel/a%2Bb.m3u8","size":10,"eTag":"\"abc\""}}}]}`,
			want: []lambdaevent.Object{{EventName: "ObjectCreated:Put", EventTime: "2026-11-21T10:00:00.123456", Region: "us-east-1",
				Bucket: "b", Key: "live/my channel/a+b.m3u8", ETag: "abc", Size: 10}},
		},
		{name: "S3 test event", payload: `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`},
		{name: "API invocation", payload: sample(t, "merge-cluster.json"), wantErr: true},
		{name: "SQS record", payload: sample(t, "sweeper-check.json"), wantErr: true},
		{name: "not JSON", payload: `#EXTM3U`, wantErr: true},
		{name: "record without key", payload: `{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{}}}]}`, wantErr: true},
		{name: "bad key escape", payload: `{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"a%zz"}}}]}`, wantErr: true},
		{name: "a trailing brace", payload: `{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"a.m3u8"}}}]}}`, wantErr: true},
		{name: "an object key given twice", payload: `{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"a.m3u8","key":"b.m3u8"}}}]}`, wantErr: true},
		{name: "a bucket in another case", payload: `{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b","Name":"c"},"object":{"key":"a.m3u8"}}}]}`, wantErr: true},
		{name: "an SNS message with a trailing brace", payload: `{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"{\"Records\":[]}}"}}]}`, wantErr: true},
		{name: "SNS message that is not S3", payload: `{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"hello"}}]}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lambdaevent.S3Objects([]byte(tc.payload))
			if tc.wantErr {
				if !errors.Is(err, lambdaevent.ErrShape) {
					t.Fatalf("err = %v, want ErrShape", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("S3Objects: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("S3Objects (-want +got):\n%s", diff)
			}
		})
	}
}
