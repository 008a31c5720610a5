package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/clustered-video-streams/cvs/internal/s3event/s3test"
	"github.com/clustered-video-streams/cvs/internal/sweeper"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestSweeperDecisionDelay runs the sweeper in real time against moto's S3 and SQS, the check
// messages really delayed by SQS: three primary playlists at target duration 1 s stall after one
// upload while their failover copies keep coming every second, and must be deleted once their
// deadline (LastModified + 1 s + 1.5 x TD) has passed, never before; a fourth rendition stalls on
// both encoders and must keep both copies (a stall, not a 404 everywhere); a fifth is updated
// every second and then ends with #EXT-X-ENDLIST, and must survive every check. It reports the
// decision delay: from the deadline to the deletion, and from the true staleness moment (upload
// finished + 1.5 x TD) to the deletion.
func TestSweeperDecisionDelay(t *testing.T) {
	endpoint := testenv.Moto(t, "the sweeper real-time wire test")
	ctx := context.Background()
	cfg := s3test.Config(endpoint)
	s3c, sqsc := s3test.S3(endpoint), sqs.NewFromConfig(cfg)
	const bucket = "cvs-encoder-rt"
	s3test.Bucket(t, s3c, bucket, true)
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("checks")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := sweeper.New(sweeper.Config{S3: s3c, Queue: sqsc, QueueURL: aws.ToString(q.QueueUrl), Bucket: bucket,
		Prefixes: []string{"primary/", "failover/"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const td = time.Second
	playlist := func(seq int, ended bool) []byte {
		s := fmt.Sprintf("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXTINF:1.0,\ns%d.ts\n", seq, seq)
		if ended {
			s += "#EXT-X-ENDLIST\n"
		}
		return []byte(s)
	}
	var mu sync.Mutex
	uploaded := map[string]time.Time{} // key -> when its last upload finished
	upload := func(key string, body []byte) {
		vid := s3test.Put(t, s3c, bucket, key, body)
		done := time.Now()
		mu.Lock()
		uploaded[key] = done
		mu.Unlock()
		ev, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
			"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": key, "versionId": vid}}}}})
		if ds, err := h.HandleUploads(ctx, ev); err != nil || len(ds) != 1 {
			t.Errorf("upload %s: %+v, %v", key, ds, err)
		}
	}

	stalled := []string{"primary/a_1.m3u8", "primary/b_1.m3u8", "primary/c_1.m3u8"}
	lastCopies := []string{"primary/d_1.m3u8", "failover/d_1.m3u8"} // both encoders stall
	const live = "primary/live_1.m3u8"
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 6 {
			upload(live, playlist(i, i == 5))
			time.Sleep(td) // the encoder's pace: one segment per target duration
		}
	})
	failoverDone := make(chan struct{})
	wg.Go(func() { // the failover encoder keeps a, b and c live
		for i := 0; ; i++ {
			for _, k := range stalled {
				upload(strings.Replace(k, "primary/", "failover/", 1), playlist(i, false))
			}
			select {
			case <-failoverDone:
				return
			case <-time.After(td):
			}
		}
	})
	for _, k := range lastCopies {
		upload(k, playlist(1, false))
	}
	for i, k := range stalled {
		time.Sleep(time.Duration(i) * 300 * time.Millisecond) // different sub-second phases
		upload(k, playlist(1, false))
	}

	type deletion struct {
		key                    string
		afterDeadline, afterTD time.Duration
	}
	var deleted []deletion
	kept := map[string]string{} // key -> the reason it was kept
	stop := time.Now().Add(20 * time.Second)
	for (len(deleted) < len(stalled) || len(kept) < len(lastCopies)) && time.Now().Before(stop) {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			continue
		}
		var ev events.SQSEvent
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), EventSource: "aws:sqs"})
		}
		resp, ds := h.HandleChecks(ctx, ev)
		now := time.Now()
		if len(resp.BatchItemFailures) > 0 {
			t.Fatalf("checks failed: %+v", ds)
		}
		for _, d := range ds {
			switch {
			case d.Key == live && d.Action == sweeper.Deleted:
				t.Fatalf("the live playlist was deleted: %+v", d)
			case slices.Contains(lastCopies, d.Key) && d.Action == sweeper.Deleted, strings.HasPrefix(d.Key, "failover/") && d.Action == sweeper.Deleted:
				t.Fatalf("a last live copy was deleted: %+v", d)
			case d.Action == sweeper.Kept:
				kept[d.Key] = d.Reason
			case d.Action == sweeper.Deleted:
				if d.Overdue < 0 {
					t.Fatalf("%s deleted %s before its deadline", d.Key, -d.Overdue)
				}
				mu.Lock()
				afterTD := now.Sub(uploaded[d.Key].Add(td * 3 / 2))
				mu.Unlock()
				deleted = append(deleted, deletion{d.Key, d.Overdue, afterTD})
			}
		}
		for _, m := range out.Messages {
			sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle})
		}
	}
	close(failoverDone)
	wg.Wait()
	if len(deleted) != len(stalled) {
		t.Fatalf("deleted %+v, want all of %v within 20 s", deleted, stalled)
	}
	for _, k := range lastCopies {
		if !strings.Contains(kept[k], "is stale too: keeping the last copy") {
			t.Errorf("%s: kept for %q, want kept as the last copy", k, kept[k])
		}
		if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Errorf("%s, a last copy, is gone: %v", k, err)
		}
	}
	for _, k := range stalled {
		if _, markers := s3test.Versions(t, s3c, bucket, k); len(markers) != 1 {
			t.Errorf("%s: %d delete markers, want 1", k, len(markers))
		}
	}
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(live)}); err != nil {
		t.Fatalf("the live (then ended) playlist is gone: %v", err)
	}
	var afterDeadline, afterTD []time.Duration
	for _, d := range deleted {
		t.Logf("%s: deleted %s after its deadline, %s after upload+1.5xTD", d.key, d.afterDeadline.Round(time.Millisecond), d.afterTD.Round(time.Millisecond))
		afterDeadline, afterTD = append(afterDeadline, d.afterDeadline), append(afterTD, d.afterTD)
	}
	t.Logf("decision delay at TD=1s: deadline->deletion %s..%s; upload+1.5xTD->deletion %s..%s",
		slices.Min(afterDeadline).Round(time.Millisecond), slices.Max(afterDeadline).Round(time.Millisecond),
		slices.Min(afterTD).Round(time.Millisecond), slices.Max(afterTD).Round(time.Millisecond))
}
