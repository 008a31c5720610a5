package lambdaevent_test

import (
	"errors"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/lambdaevent"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name      string
		payload   []byte
		want      lambdaevent.Kind
		scheduled bool
		wantErr   bool
	}{
		{name: "SNS-wrapped S3 upload (sample event)", payload: testenv.SampleEvent(t, "sweeper-upload.json"), want: lambdaevent.SNS},
		{name: "SNS-wrapped master upload (sample event)", payload: testenv.SampleEvent(t, "merge-encoder-primary.json"), want: lambdaevent.SNS},
		{name: "SQS check (sample event)", payload: testenv.SampleEvent(t, "sweeper-check.json"), want: lambdaevent.SQS},
		{name: "DynamoDB stream batch (sample event)", payload: testenv.SampleEvent(t, "edgesync-insert.json"), want: lambdaevent.DynamoDB},
		{name: "sweeper schedule (sample event)", payload: testenv.SampleEvent(t, "sweeper-sweep.json"), want: lambdaevent.EventBridge, scheduled: true},
		{name: "reconcile schedule (sample event)", payload: testenv.SampleEvent(t, "edgesync-reconcile.json"), want: lambdaevent.EventBridge, scheduled: true},
		{name: "API request (sample event)", payload: testenv.SampleEvent(t, "api-close.json"), want: lambdaevent.HTTP},
		{name: "cluster request (sample event)", payload: testenv.SampleEvent(t, "merge-cluster.json"), want: lambdaevent.Direct},
		{name: "direct S3 records", payload: []byte(`{"Records":[{"eventSource":"aws:s3"}]}`), want: lambdaevent.S3},
		{name: "S3 test event", payload: []byte(`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`), want: lambdaevent.S3},
		{name: "EventBridge event that is not a schedule", payload: []byte(`{"source":"aws.events","detail-type":"Other"}`), want: lambdaevent.EventBridge},
		{name: "records of another source", payload: []byte(`{"Records":[{"eventSource":"aws:kinesis"}]}`), want: lambdaevent.Unknown},
		{name: "empty batch", payload: []byte(`{"cluster":"live-1","Records":[]}`), want: lambdaevent.Unknown},
		{name: "another source", payload: []byte(`{"source":"aws.s3"}`), want: lambdaevent.Unknown},
		{name: "not JSON", payload: []byte(`#EXTM3U`), wantErr: true},
		{name: "source twice", payload: []byte(`{"source":"aws.events","source":"aws.events"}`), wantErr: true},
		{name: "source in another case", payload: []byte(`{"Source":"aws.events"}`), wantErr: true},
		{name: "a second object", payload: []byte(`{"cluster":"a"}{"cluster":"b"}`), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lambdaevent.Classify(tc.payload)
			if tc.wantErr {
				if !errors.Is(err, lambdaevent.ErrShape) {
					t.Fatalf("Classify = %+v, %v; want ErrShape", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if got.Kind != tc.want || got.Scheduled() != tc.scheduled {
				t.Fatalf("Classify = %+v (scheduled %v), want kind %q (scheduled %v)", got, got.Scheduled(), tc.want, tc.scheduled)
			}
		})
	}
}

func TestDecoders(t *testing.T) {
	t.Run("SQS sample", func(t *testing.T) {
		ev, err := lambdaevent.SQSBatch(testenv.SampleEvent(t, "sweeper-check.json"))
		if err != nil || len(ev.Records) != 1 || ev.Records[0].MessageId == "" || ev.Records[0].Body == "" {
			t.Fatalf("SQSBatch = %+v, %v; want one message with an ID and a body", ev, err)
		}
	})
	t.Run("DynamoDB sample", func(t *testing.T) {
		ev, err := lambdaevent.DynamoDBBatch(testenv.SampleEvent(t, "edgesync-insert.json"))
		if err != nil || len(ev.Records) == 0 || ev.Records[0].EventName != "INSERT" {
			t.Fatalf("DynamoDBBatch = %+v, %v; want an INSERT", ev, err)
		}
	})
	t.Run("API sample", func(t *testing.T) {
		req, err := lambdaevent.HTTPRequest(testenv.SampleEvent(t, "api-close.json"))
		if err != nil || req.RawPath != "/clusters/live-1/instances/d111111abcdef8.cloudfront.net/close" {
			t.Fatalf("HTTPRequest = %+v, %v; want the close request", req.RawPath, err)
		}
	})
	for name, payload := range map[string]string{
		"SQS body not a string":    `{"Records":[{"eventSource":"aws:sqs","body":1}]}`,
		"DynamoDB records twice":   `{"Records":[],"Records":[]}`,
		"API request of version 1": `{"version":"1.0","routeKey":"$default"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err1 := lambdaevent.SQSBatch([]byte(payload))
			_, err2 := lambdaevent.DynamoDBBatch([]byte(payload))
			_, err3 := lambdaevent.HTTPRequest([]byte(payload))
			if !errors.Is(err1, lambdaevent.ErrShape) && !errors.Is(err2, lambdaevent.ErrShape) && !errors.Is(err3, lambdaevent.ErrShape) {
				t.Fatalf("no decoder refused %s: %v, %v, %v", payload, err1, err2, err3)
			}
		})
	}
}
