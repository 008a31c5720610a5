package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	awss3 "github.com/clustered-video-streams/cvs/internal/aws/s3"
	awssqs "github.com/clustered-video-streams/cvs/internal/aws/sqs"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/clustered-video-streams/cvs/internal/sweeper"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// TestSweeperDecisionDelay runs the sweeper in real time against moto's S3 and SQS, the check
// messages really delayed by SQS, and measures the decision delay: from a stale playlist's
// deadline (LastModified + 1 s + 1.5 x TD, TD = 1 s) to its deletion, and from the true staleness
// moment (upload finished + 1.5 x TD) to the deletion. The figures are logged, not asserted:
// wall time on a shared machine. What it asserts holds under any scheduling:
//   - three primary playlists stall after one upload while their failover copies are fresh for
//     the whole test (target duration one hour) and ahead: each is deleted once, never before
//     its deadline;
//   - a fourth rendition stalls on both encoders at the same media sequence, the failover copy
//     uploaded in a later second so that it looks fresh by upload time at the primary's deadline
//     (the reproduction of a deleted last copy): both copies stay;
//   - a fifth, with no copy elsewhere, is updated on every pass and ends with #EXT-X-ENDLIST: it
//     is never deleted, and neither is any failover copy.
//
// The deterministic counterparts, on an injected clock, are the sweeper package's tests.
func TestSweeperDecisionDelay(t *testing.T) {
	endpoint := testenv.Moto(t, "the sweeper real-time wire test")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cfg := motoclient.Config(endpoint)
	s3c, sqsc := motoclient.S3(endpoint), sqs.NewFromConfig(cfg)
	const bucket = "cvs-encoder-rt"
	motoclient.Bucket(t, s3c, bucket, true)
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("checks")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := sweeper.New(sweeper.Config{S3: awss3.New(s3c), Queue: awssqs.New(sqsc, aws.ToString(q.QueueUrl)), Bucket: bucket,
		Prefixes: []string{"primary/", "failover/"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const td = time.Second
	playlist := func(tdSeconds, seq int, ended bool) []byte {
		s := fmt.Sprintf("#EXTM3U\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXTINF:%d.0,\ns%d.ts\n", tdSeconds, seq, tdSeconds, seq)
		if ended {
			s += "#EXT-X-ENDLIST\n"
		}
		return []byte(s)
	}
	uploaded := map[string]time.Time{} // key -> when its last upload finished
	upload := func(key string, body []byte) {
		t.Helper()
		vid := motoclient.Put(t, s3c, bucket, key, body)
		uploaded[key] = time.Now()
		ev, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
			"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": key, "versionId": vid}}}}})
		if ds, err := h.HandleUploads(ctx, ev); err != nil || len(ds) != 1 {
			t.Fatalf("upload %s: %+v, %v", key, ds, err)
		}
	}

	stalled := []string{"primary/a_1.m3u8", "primary/b_1.m3u8", "primary/c_1.m3u8"}
	lastCopies := []string{"primary/d_1.m3u8", "failover/d_1.m3u8"} // both encoders stall at sequence 1
	const live = "primary/live_1.m3u8"
	for _, k := range stalled {
		upload(strings.Replace(k, "primary/", "failover/", 1), playlist(3600, 5, false))
	}
	upload(lastCopies[0], playlist(1, 1, false))
	// The failover copy in the next second of S3's clock: at the primary's deadline it is still
	// fresh by its LastModified, though it stalled as well.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	upload(lastCopies[1], playlist(1, 1, false))
	for i, k := range stalled {
		time.Sleep(time.Duration(i) * 300 * time.Millisecond) // different sub-second phases
		upload(k, playlist(1, 1, false))
	}

	type deletion struct {
		key                    string
		afterDeadline, afterTD time.Duration
	}
	var deleted []deletion
	kept := map[string]string{} // key -> the reason it was kept
	liveChecks := map[sweeper.Action]int{}
	for seq := 0; len(deleted) < len(stalled) || len(kept) < len(lastCopies); seq++ {
		if ctx.Err() != nil {
			t.Fatalf("after 3 min: deleted %+v, kept %v; want every stalled primary deleted and both last copies kept", deleted, kept)
		}
		upload(live, playlist(1, seq, false)) // about once a second: ReceiveMessage waits up to 1 s
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
			case d.Key == live:
				liveChecks[d.Action]++
				if d.Action == sweeper.Deleted {
					t.Fatalf("the live playlist, with no copy elsewhere, was deleted: %+v", d)
				}
			case d.Action == sweeper.Deleted && !slices.Contains(stalled, d.Key):
				t.Fatalf("a last live copy was deleted: %+v", d)
			case d.Action == sweeper.Kept:
				kept[d.Key] = d.Reason
			case d.Action == sweeper.Deleted:
				if d.Overdue < 0 {
					t.Fatalf("%s deleted %s before its deadline", d.Key, -d.Overdue)
				}
				deleted = append(deleted, deletion{d.Key, d.Overdue, now.Sub(uploaded[d.Key].Add(td * 3 / 2))})
			}
		}
		for _, m := range out.Messages {
			if _, err := sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	upload(live, playlist(1, 1000, true))
	for _, k := range lastCopies {
		if !strings.Contains(kept[k], "keeping the last copy") {
			t.Errorf("%s: kept for %q, want kept as the last copy", k, kept[k])
		}
		if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Errorf("%s, a last copy, is gone: %v", k, err)
		}
	}
	for _, k := range stalled {
		if _, markers := motoclient.Versions(t, s3c, bucket, k); len(markers) != 1 {
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
	for _, k := range lastCopies {
		t.Logf("%s kept: %s", k, kept[k])
	}
	t.Logf("decision delay at TD=1s: deadline->deletion %s..%s; upload+1.5xTD->deletion %s..%s; checks of the live playlist: %v",
		slices.Min(afterDeadline).Round(time.Millisecond), slices.Max(afterDeadline).Round(time.Millisecond),
		slices.Min(afterTD).Round(time.Millisecond), slices.Max(afterTD).Round(time.Millisecond), liveChecks)
}
