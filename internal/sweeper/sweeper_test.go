package sweeper_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	awss3 "github.com/clustered-video-streams/cvs/internal/aws/s3"
	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/lambdaevent"
	"github.com/clustered-video-streams/cvs/internal/sweeper"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

const (
	bucket       = "cvs-encoder-example" // the bucket the sample events name
	key          = "primary/index_1.m3u8"
	sibling      = "failover/index_1.m3u8"
	sampleVID    = "UIORUnfndfhnw89493jJFJ.BCdN9Kzv" // the version the sample upload event names
	live         = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:100\n#EXTINF:6.006,\nseg100.ts\n#EXTINF:6.006,\nseg101.ts\n"
	liveNext     = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:101\n#EXTINF:6.006,\nseg101.ts\n#EXTINF:6.006,\nseg102.ts\n"
	ended        = live + "#EXT-X-ENDLIST\n"
	masterBody   = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1425600,RESOLUTION=640x360\nindex_1.m3u8\n"
	malformed    = "<html><body>502 Bad Gateway</body></html>\n"
	wantDelay    = 10 * time.Second // 1 s LastModified resolution + 1.5 x 6 s
	checkMessage = "059f36b4-87a3-44ab-83d2-661975830a7d"
)

// longLive is a live playlist with a target duration of an hour, a segment ahead of live and
// liveNext: uploaded once, it stays fresh (1.5 x TD = 90 min) for as long as any test's clock
// runs, the way a working encoder's copy is.
var longLive = hour("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:102\n#EXTINF:6.006,\nseg102.ts\n#EXTINF:6.006,\nseg103.ts\n")

// hour makes a playlist of target duration 6 s fresh for an hour by its upload time.
func hour(body string) string {
	return strings.ReplaceAll(strings.Replace(body, "TARGETDURATION:6", "TARGETDURATION:3600", 1), "6.006", "3600.0")
}

// message is a check message as sent: its body and delay.
type message struct {
	Body  string
	Delay time.Duration
}

// queue records the check messages the handler sends (a queue.Sender), whose delays the moto
// wire test in tests/ exercises for real through the SQS adapter.
type queue struct {
	mu   sync.Mutex
	sent []message
}

func (q *queue) Send(_ context.Context, body string, delay time.Duration) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, message{Body: body, Delay: delay})
	return "m", nil
}

func (q *queue) take(t *testing.T) message {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.sent) != 1 {
		t.Fatalf("%d messages sent, want 1", len(q.sent))
	}
	m := q.sent[0]
	q.sent = nil
	return m
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

type fixture struct {
	s3    *s3.Client
	q     *queue
	clock *clock
	log   *bytes.Buffer
	h     *sweeper.Handler
}

func newFixture(t *testing.T, endpoint string, versioned bool, mod func(*sweeper.Config)) *fixture {
	t.Helper()
	motoclient.Reset(t, endpoint)
	f := &fixture{s3: motoclient.S3(endpoint), q: &queue{}, clock: &clock{now: time.Now()}, log: &bytes.Buffer{}}
	motoclient.Bucket(t, f.s3, bucket, versioned)
	c := sweeper.Config{S3: awss3.New(f.s3), Queue: f.q, Bucket: bucket, Prefixes: []string{"primary/", "failover/"},
		Now: f.clock.Now, Logger: slog.New(slog.NewJSONHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&c)
	}
	h, err := sweeper.New(c)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", "sweeper-"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload puts body as k and returns the sample upload event rewritten for it, and the object's
// LastModified.
func (f *fixture) upload(t *testing.T, k, body string) ([]byte, time.Time) {
	t.Helper()
	vid := motoclient.Put(t, f.s3, bucket, k, []byte(body))
	in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}
	if vid != "" {
		in.VersionId = aws.String(vid)
	}
	head, err := f.s3.HeadObject(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	ev := bytes.ReplaceAll(sample(t, "upload"), []byte(sampleVID), []byte(vid))
	ev = bytes.ReplaceAll(ev, []byte(key), []byte(k))
	return ev, aws.ToTime(head.LastModified)
}

// schedule runs the upload event at the given time and returns the check it queued.
func (f *fixture) schedule(t *testing.T, ev []byte, at time.Time) (message, sweeper.Check) {
	t.Helper()
	f.clock.Set(at)
	ds, err := f.h.HandleUploads(context.Background(), ev)
	if err != nil || len(ds) != 1 || ds[0].Action != sweeper.Scheduled {
		t.Fatalf("HandleUploads = %+v, %v; want one scheduled check", ds, err)
	}
	m := f.q.take(t)
	var c sweeper.Check
	if err := json.Unmarshal([]byte(m.Body), &c); err != nil {
		t.Fatal(err)
	}
	return m, c
}

// deliver runs a check message as SQS would deliver it (the sample SQS event with its body).
func (f *fixture) deliver(t *testing.T, m message, at time.Time) (events.SQSEventResponse, sweeper.Decision) {
	t.Helper()
	var ev events.SQSEvent
	if err := json.Unmarshal(sample(t, "check"), &ev); err != nil {
		t.Fatal(err)
	}
	ev.Records[0].Body = m.Body
	f.clock.Set(at)
	resp, ds := f.h.HandleChecks(context.Background(), ev)
	if len(ds) != 1 {
		t.Fatalf("HandleChecks decisions = %+v, want one", ds)
	}
	return resp, ds[0]
}

// liveSibling uploads the other encoder's copy of k, fresh for the whole test: the copy players
// switch to once k is deleted.
func (f *fixture) liveSibling(t *testing.T, k string) {
	t.Helper()
	other := strings.Replace(k, "primary/", "failover/", 1)
	if other == k {
		t.Fatalf("%s is not under primary/", k)
	}
	motoclient.Put(t, f.s3, bucket, other, []byte(longLive))
}

func (f *fixture) exists(t *testing.T, k string) bool {
	t.Helper()
	_, err := f.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
	if err != nil && !strings.Contains(err.Error(), "NotFound") {
		t.Fatal(err)
	}
	return err == nil
}

func TestSweeper(t *testing.T) {
	endpoint := testenv.Moto(t, "the sweeper wire test")
	ctx := context.Background()

	t.Run("stale playlist is deleted behind a delete marker", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		f.liveSibling(t, key)
		ev, lm := f.upload(t, key, live)
		m, c := f.schedule(t, ev, lm)
		if got := m.Delay; got != wantDelay {
			t.Errorf("delay = %s, want %s", got, wantDelay)
		}
		if got, want := c.Deadline, lm.Add(wantDelay); !got.Equal(want) {
			t.Errorf("deadline = %s, want %s", got, want)
		}
		resp, d := f.deliver(t, m, c.Deadline)
		if d.Action != sweeper.Deleted || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("decision %+v, failures %v; want deleted", d, resp.BatchItemFailures)
		}
		if f.exists(t, key) {
			t.Fatal("stale playlist still served")
		}
		versions, markers := motoclient.Versions(t, f.s3, bucket, key)
		if len(versions) != 1 || len(markers) != 1 || !aws.ToBool(markers[0].IsLatest) {
			t.Fatalf("%d versions and %d delete markers, want the old version kept under one current marker", len(versions), len(markers))
		}
	})

	t.Run("fresh playlist survives", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		ev, lm := f.upload(t, key, live)
		m, c := f.schedule(t, ev, lm)
		f.upload(t, key, liveNext) // the next segment, on time
		if _, d := f.deliver(t, m, c.Deadline); d.Action != sweeper.Fresh {
			t.Fatalf("decision %+v, want fresh", d)
		}
		if !f.exists(t, key) {
			t.Fatal("fresh playlist deleted")
		}
	})

	t.Run("late but in-threshold upload survives", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		ev, lm := f.upload(t, key, live)
		m1, c1 := f.schedule(t, ev, lm)
		// The next upload comes late (its event handled 1.4 x TD after the first upload) but
		// before the first one's deadline.
		ev2, _ := f.upload(t, key, liveNext)
		m2, c2 := f.schedule(t, ev2, lm.Add(8400*time.Millisecond))
		if _, d := f.deliver(t, m1, c1.Deadline); d.Action != sweeper.Fresh {
			t.Fatalf("first check: %+v, want fresh", d)
		}
		// The second upload's check, should it arrive before its deadline, waits for it.
		if _, d := f.deliver(t, m2, c2.Deadline.Add(-500*time.Millisecond)); d.Action != sweeper.Requeued || d.Delay != time.Second {
			t.Fatalf("early second check: %+v, want requeued for 1 s", d)
		}
		f.q.take(t)
		if !f.exists(t, key) {
			t.Fatal("in-threshold playlist deleted")
		}
	})

	t.Run("ended playlist survives", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		ev, lm := f.upload(t, key, ended)
		f.clock.Set(lm)
		ds, err := f.h.HandleUploads(ctx, ev)
		if err != nil || len(ds) != 1 || ds[0].Action != sweeper.Ended {
			t.Fatalf("HandleUploads = %+v, %v; want ended", ds, err)
		}
		f.clock.Set(lm.Add(time.Hour))
		if res, err := f.h.Sweep(ctx); err != nil || res.Examined != 1 || res.Decisions[0].Action != sweeper.Ended {
			t.Fatalf("Sweep = %+v, %v; want the ended playlist examined and kept", res, err)
		}
		if !f.exists(t, key) || len(f.q.sent) != 0 {
			t.Fatal("ended playlist deleted or scheduled")
		}
	})

	t.Run("master playlist survives", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		ev, lm := f.upload(t, "primary/index.m3u8", masterBody)
		f.clock.Set(lm)
		ds, err := f.h.HandleUploads(ctx, ev)
		if err != nil || len(ds) != 1 || ds[0].Action != sweeper.Ignored || !strings.Contains(ds[0].Reason, "master") {
			t.Fatalf("HandleUploads = %+v, %v; want the master ignored", ds, err)
		}
		f.clock.Set(lm.Add(time.Hour))
		if _, err := f.h.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if !f.exists(t, "primary/index.m3u8") {
			t.Fatal("master deleted")
		}
	})

	t.Run("malformed playlist is logged and left alone", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		ev, lm := f.upload(t, key, malformed)
		f.clock.Set(lm)
		ds, err := f.h.HandleUploads(ctx, ev)
		if err != nil || len(ds) != 1 || ds[0].Action != sweeper.Malformed {
			t.Fatalf("HandleUploads = %+v, %v; want malformed", ds, err)
		}
		f.clock.Set(lm.Add(time.Hour))
		if _, err := f.h.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if !f.exists(t, key) || len(f.q.sent) != 0 {
			t.Fatal("malformed playlist deleted or scheduled")
		}
		if !strings.Contains(f.log.String(), `"level":"WARN","msg":"sweeper: malformed"`) {
			t.Errorf("no warning logged:\n%s", f.log)
		}
	})

	t.Run("re-upload after deletion is served again", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		f.liveSibling(t, key)
		ev, lm := f.upload(t, key, live)
		m, c := f.schedule(t, ev, lm)
		if _, d := f.deliver(t, m, c.Deadline); d.Action != sweeper.Deleted {
			t.Fatalf("decision %+v, want deleted", d)
		}
		ev2, lm2 := f.upload(t, key, liveNext) // the encoder comes back
		if !f.exists(t, key) {
			t.Fatal("re-uploaded playlist not served")
		}
		if _, c2 := f.schedule(t, ev2, lm2); c2.ETag == c.ETag {
			t.Fatal("the new upload's check names the old version")
		}
	})

	t.Run("unversioned bucket is refused", func(t *testing.T) {
		f := newFixture(t, endpoint, false, nil)
		f.liveSibling(t, key)
		ev, lm := f.upload(t, key, live)
		m, c := f.schedule(t, ev, lm)
		resp, d := f.deliver(t, m, c.Deadline)
		if d.Action != sweeper.Refused || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != checkMessage {
			t.Fatalf("decision %+v, failures %v; want refused and retried", d, resp.BatchItemFailures)
		}
		if !f.exists(t, key) {
			t.Fatal("deleted from an unversioned bucket")
		}
		f.clock.Set(lm.Add(time.Hour))
		_, err := f.h.Sweep(ctx)
		var unversioned *sweeper.UnversionedBucketError
		if !errors.As(err, &unversioned) || !f.exists(t, key) {
			t.Fatalf("Sweep err = %v, want UnversionedBucketError and nothing deleted", err)
		}
	})

	t.Run("dry run logs and deletes nothing", func(t *testing.T) {
		f := newFixture(t, endpoint, true, func(c *sweeper.Config) { c.DryRun = true })
		f.liveSibling(t, key)
		ev, lm := f.upload(t, key, live)
		m, c := f.schedule(t, ev, lm)
		if _, d := f.deliver(t, m, c.Deadline.Add(time.Second)); d.Action != sweeper.WouldDel || d.Overdue != time.Second {
			t.Fatalf("decision %+v, want would delete, 1s overdue", d)
		}
		if !f.exists(t, key) || !strings.Contains(f.log.String(), `"msg":"sweeper: would delete"`) {
			t.Fatalf("dry run deleted, or did not log:\n%s", f.log)
		}
	})

	t.Run("an upload racing the deletion survives", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		racer := &racingS3{Store: awss3.New(f.s3), client: f.s3, t: t}
		h, err := sweeper.New(sweeper.Config{S3: racer, Queue: f.q, Bucket: bucket, Prefixes: []string{"primary/", "failover/"}, Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		f.h = h
		f.liveSibling(t, key)
		ev, lm := f.upload(t, key, live)
		m, c := f.schedule(t, ev, lm)
		if _, d := f.deliver(t, m, c.Deadline); d.Action != sweeper.Fresh || !racer.raced {
			t.Fatalf("decision %+v (raced %v), want fresh", d, racer.raced)
		}
		if !f.exists(t, key) {
			t.Fatal("the racing upload was deleted")
		}
	})

	t.Run("segments, other prefixes and other buckets are ignored", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		f.liveSibling(t, key)
		for _, k := range []string{"primary/seg100.ts", "archive/index_1.m3u8", "index.m3u8"} {
			ev, _ := f.upload(t, k, live)
			ds, err := f.h.HandleUploads(ctx, ev)
			if err != nil || len(ds) != 1 || ds[0].Action != sweeper.Ignored {
				t.Errorf("%s: %+v, %v; want ignored", k, ds, err)
			}
		}
		ev, _ := f.upload(t, key, live)
		ds, err := f.h.HandleUploads(ctx, bytes.ReplaceAll(ev, []byte(bucket), []byte("someone-else")))
		if err != nil || len(ds) != 1 || ds[0].Action != sweeper.Ignored {
			t.Errorf("other bucket: %+v, %v; want ignored", ds, err)
		}
		f.clock.Add(time.Hour)
		res, err := f.h.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"primary/seg100.ts", "archive/index_1.m3u8", "index.m3u8"} {
			if !f.exists(t, k) {
				t.Errorf("%s deleted by the sweep", k)
			}
		}
		if res.Examined != 2 || f.exists(t, key) || !f.exists(t, sibling) {
			t.Errorf("sweep examined %d, want only %s (stale, deleted) and its live sibling (kept)", res.Examined, key)
		}
		if len(f.q.sent) != 0 {
			t.Errorf("%d checks queued for ignored objects", len(f.q.sent))
		}
	})

	t.Run("backstop sweep deletes what a missed event left, keeps the fresh", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		_, lm := f.upload(t, key, live)
		f.upload(t, sibling, longLive)
		// 20 s later: the primary is past 1.5 x TD, but the sweep only reads playlists older
		// than 30 s.
		f.clock.Set(lm.Add(20 * time.Second))
		if res, err := f.h.Sweep(ctx); err != nil || res.Examined != 0 {
			t.Fatalf("early sweep = %+v, %v; want nothing examined", res, err)
		}
		f.clock.Set(lm.Add(31 * time.Second))
		res, err := f.h.Sweep(ctx)
		if err != nil || res.Examined != 2 {
			t.Fatalf("Sweep = %+v, %v; want both examined", res, err)
		}
		want := map[string]sweeper.Action{key: sweeper.Deleted, sibling: sweeper.Fresh}
		for _, d := range res.Decisions {
			if d.Action != want[d.Key] || d.Action == sweeper.Deleted && d.Overdue != 21*time.Second {
				t.Errorf("%+v: want %s (deleted 21 s past the deadline)", d, want[d.Key])
			}
		}
	})

	// Never both copies: a stale playlist is deleted only while another prefix holds a live
	// copy players can switch to; otherwise a stall (recoverable when an encoder returns) beats
	// a 404 everywhere.
	t.Run("last copy", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			sibling string // the failover copy's body; "" for none
			want    sweeper.Action
			reason  string
		}{
			{"both stale: neither is deleted", live, sweeper.Kept, "sibling failover/index_1.m3u8 is stale too: keeping the last copy"},
			{"sibling fresh: the stale one is deleted", longLive, sweeper.Deleted, ""},
			{"sibling fresh one segment ahead: the stale one is deleted", hour(liveNext), sweeper.Deleted, ""},
			// Both encoders stalled a second apart at the same media sequence: the later one
			// looks fresh by upload time, but players switched to it would stall there too.
			{"sibling fresh by time at the same media sequence: kept", hour(live), sweeper.Kept, "failover/index_1.m3u8 is not ahead"},
			{"sibling fresh by time, behind: kept", hour(strings.ReplaceAll(live, "SEQUENCE:100", "SEQUENCE:90")), sweeper.Kept, "is not ahead"},
			{"sibling restarted with a reset media sequence: kept", hour(strings.ReplaceAll(live, "SEQUENCE:100", "SEQUENCE:0")), sweeper.Kept, "is not ahead"},
			{"sibling ahead only with gaps: kept", hour(strings.Replace(liveNext, "#EXTINF:6.006,\nseg102.ts", "#EXT-X-GAP\n#EXTINF:6.006,\nseg102.ts", 1)), sweeper.Kept, "is not ahead"},
			{"sibling missing: kept", "", sweeper.Kept, "sibling failover/index_1.m3u8 is missing: keeping the last copy"},
			{"sibling ended: kept, players would stop there", ended, sweeper.Kept, "sibling failover/index_1.m3u8 has ended (#EXT-X-ENDLIST)"},
			{"sibling malformed: kept", malformed, sweeper.Kept, "sibling failover/index_1.m3u8 is not a media playlist"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t, endpoint, true, nil)
				// The sibling first, so that it is no younger than the primary (S3 times have
				// whole seconds): one second past the primary's deadline, a stale sibling is
				// past its own.
				var evS []byte
				if tc.sibling != "" {
					evS, _ = f.upload(t, sibling, tc.sibling)
				}
				ev, lm := f.upload(t, key, live)
				m, c := f.schedule(t, ev, lm)
				resp, d := f.deliver(t, m, c.Deadline.Add(time.Second))
				if d.Action != tc.want || !strings.Contains(d.Reason, tc.reason) || len(resp.BatchItemFailures) != 0 {
					t.Fatalf("decision %+v, failures %v; want %s because %q", d, resp.BatchItemFailures, tc.want, tc.reason)
				}
				if got := f.exists(t, key); got != (tc.want == sweeper.Kept) {
					t.Fatalf("%s exists = %v after %s", key, got, d.Action)
				}
				if tc.want == sweeper.Kept && !strings.Contains(f.log.String(), `"level":"WARN","msg":"sweeper: kept"`) {
					t.Errorf("keeping the last copy logged no warning:\n%s", f.log)
				}
				if tc.sibling == live {
					// The sibling's own check: the primary is stale too, so it stays as well.
					f.q.mu.Lock()
					f.q.sent = nil
					f.q.mu.Unlock()
					mS, _ := f.schedule(t, evS, lm)
					if _, dS := f.deliver(t, mS, c.Deadline.Add(time.Second)); dS.Action != sweeper.Kept || !f.exists(t, sibling) || !f.exists(t, key) {
						t.Fatalf("sibling's check: %+v; want both copies kept", dS)
					}
					// And the backstop sweep, an hour on, deletes neither.
					f.q.mu.Lock()
					f.q.sent = nil
					f.q.mu.Unlock()
					f.clock.Set(lm.Add(time.Hour))
					res, err := f.h.Sweep(ctx)
					if err != nil || res.Examined != 2 || res.Decisions[0].Action != sweeper.Kept || res.Decisions[1].Action != sweeper.Kept {
						t.Fatalf("Sweep = %+v, %v; want both kept", res, err)
					}
					if !f.exists(t, key) || !f.exists(t, sibling) {
						t.Fatal("the sweep deleted a last copy")
					}
				}
			})
		}
	})

	t.Run("a kept copy is checked again and deleted once its sibling is back", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		f.upload(t, sibling, live)
		ev, lm := f.upload(t, key, live)
		m, c := f.schedule(t, ev, lm)
		if _, d := f.deliver(t, m, c.Deadline.Add(time.Second)); d.Action != sweeper.Kept || d.Delay != 9*time.Second {
			t.Fatalf("decision %+v, want kept and checked again in 1.5 x TD = 9 s", d)
		}
		again := f.q.take(t)
		if again.Delay != 9*time.Second {
			t.Fatalf("recheck delay %s, want 9s", again.Delay)
		}
		// Still both stale at the recheck: kept, and checked again.
		if _, d := f.deliver(t, again, c.Deadline.Add(10*time.Second)); d.Action != sweeper.Kept {
			t.Fatalf("recheck: %+v, want kept", d)
		}
		again = f.q.take(t)
		if n := strings.Count(f.log.String(), `"level":"WARN","msg":"sweeper: kept"`); n != 1 {
			t.Errorf("%d warnings about the kept copy, want 1 (rechecks log at info):\n%s", n, f.log)
		}
		// The failover encoder comes back: the next recheck deletes the stale primary.
		f.upload(t, sibling, longLive)
		_, d := f.deliver(t, again, c.Deadline.Add(19*time.Second))
		if d.Action != sweeper.Deleted || d.Overdue != 19*time.Second || f.exists(t, key) {
			t.Fatalf("decision %+v, want deleted 19 s past the deadline", d)
		}
		if len(f.q.sent) != 0 {
			t.Fatalf("%d messages after the deletion, want none", len(f.q.sent))
		}
	})

	t.Run("the sample recheck waits for recheck_at, past its deadline", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		var ev events.SQSEvent
		if err := json.Unmarshal(sample(t, "recheck"), &ev); err != nil {
			t.Fatal(err)
		}
		recheckAt := time.Date(2026, 11, 21, 10, 0, 26, 0, time.UTC) // the sample's recheck_at, 10 s past its deadline
		f.clock.Set(recheckAt.Add(-time.Second))
		if _, ds := f.h.HandleChecks(ctx, ev); len(ds) != 1 || ds[0].Action != sweeper.Requeued || ds[0].Delay != time.Second {
			t.Fatalf("decisions %+v, want requeued for the 1 s left until recheck_at", ds)
		}
		f.q.take(t)
		f.clock.Set(recheckAt)
		if _, ds := f.h.HandleChecks(ctx, ev); len(ds) != 1 || ds[0].Action != sweeper.Gone {
			t.Fatalf("decisions %+v, want the check run (the playlist is gone in this empty bucket)", ds)
		}
	})

	t.Run("rechecks stop after RecheckFor; the backstop sweep takes over", func(t *testing.T) {
		f := newFixture(t, endpoint, true, func(c *sweeper.Config) { c.RecheckFor = time.Minute })
		f.upload(t, sibling, live)
		ev, lm := f.upload(t, key, live)
		m, c := f.schedule(t, ev, lm)
		_, d := f.deliver(t, m, c.Deadline.Add(time.Minute))
		if d.Action != sweeper.Kept || d.Delay != 0 || !strings.Contains(d.Reason, "backstop sweep") || len(f.q.sent) != 0 {
			t.Fatalf("decision %+v with %d messages, want kept and left to the sweep", d, len(f.q.sent))
		}
	})

	t.Run("check of a long target duration is requeued within SQS's 900 s", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		long := strings.Replace(live, "TARGETDURATION:6", "TARGETDURATION:1000", 1)
		ev, lm := f.upload(t, key, strings.ReplaceAll(long, "6.006", "999.9"))
		m, c := f.schedule(t, ev, lm)
		if m.Delay != 900*time.Second || !c.Deadline.Equal(lm.Add(1501*time.Second)) {
			t.Fatalf("delay %s, deadline %s; want 900s and LastModified+1501s", m.Delay, c.Deadline)
		}
		_, d := f.deliver(t, m, lm.Add(901*time.Second))
		if d.Action != sweeper.Requeued || d.Delay != 600*time.Second {
			t.Fatalf("decision %+v, want requeued for 600 s", d)
		}
		f.q.take(t)
	})

	t.Run("a message that is no check is dropped", func(t *testing.T) {
		good := string(sample(t, "check"))
		var env struct{ Records []struct{ Body string } }
		if err := json.Unmarshal([]byte(good), &env); err != nil || len(env.Records) == 0 {
			t.Fatalf("events/sweeper-check.json: %v", err)
		}
		check := env.Records[0].Body
		for name, body := range map[string]string{
			"unknown keys":     `{"hello":"world"}`,
			"a trailing brace": check + "}",
			"the key twice":    strings.Replace(check, `"key":`, `"key":"other.m3u8","key":`, 1),
			"key in capitals":  strings.Replace(check, `"key":`, `"KEY":"other.m3u8","key":`, 1),
		} {
			if body == check {
				t.Fatalf("%s: the sample check has no \"key\"", name)
			}
			f := newFixture(t, endpoint, true, nil)
			_, d := f.deliver(t, message{Body: body}, time.Now())
			if d.Action != sweeper.Undecodable {
				t.Fatalf("%s: decision %+v, want bad message", name, d)
			}
		}
	})

	t.Run("Invoke dispatches each sample event", func(t *testing.T) {
		f := newFixture(t, endpoint, true, nil)
		ev, lm := f.upload(t, key, live)
		f.clock.Set(lm)
		if out, err := f.h.Invoke(ctx, ev); err != nil || len(out.([]sweeper.Decision)) != 1 {
			t.Fatalf("upload: %v, %v", out, err)
		}
		if out, err := f.h.Invoke(ctx, sample(t, "check")); err != nil {
			t.Fatalf("check: %v, %v", out, err)
		} else if _, ok := out.(events.SQSEventResponse); !ok {
			t.Fatalf("check answered %T, want SQSEventResponse", out)
		}
		if out, err := f.h.Invoke(ctx, sample(t, "sweep")); err != nil {
			t.Fatalf("sweep: %v, %v", out, err)
		} else if _, ok := out.(*sweeper.SweepResult); !ok {
			t.Fatalf("sweep answered %T", out)
		}
		if _, err := f.h.Invoke(ctx, []byte(`{"cluster":"live-1"}`)); !errors.Is(err, lambdaevent.ErrShape) {
			t.Fatalf("foreign event: %v, want ErrShape", err)
		}
	})
}

// racingS3 uploads a new version of the playlist right before forwarding Delete, as an encoder
// that comes back at that instant would.
type racingS3 struct {
	blob.Store
	client *s3.Client
	t      *testing.T
	raced  bool
}

func (r *racingS3) Delete(ctx context.Context, bucket, key string, o blob.DeleteOptions) (blob.Deleted, error) {
	motoclient.Put(r.t, r.client, bucket, key, []byte(liveNext))
	r.raced = true
	return r.Store.Delete(ctx, bucket, key, o)
}

func TestNewRefusesBadConfig(t *testing.T) {
	base := sweeper.Config{S3: awss3.New(&s3.Client{}), Queue: &queue{}, Bucket: bucket, Prefixes: []string{"primary/", "failover/"}}
	for _, tc := range []struct {
		name string
		mod  func(*sweeper.Config)
	}{
		{"no prefixes", func(c *sweeper.Config) { c.Prefixes = nil }},
		{"one prefix: every copy would be the last", func(c *sweeper.Config) { c.Prefixes = []string{"primary/"} }},
		{"prefix without slash sweeps other folders", func(c *sweeper.Config) { c.Prefixes = []string{"primary", "failover/"} }},
		{"empty prefix sweeps the whole bucket", func(c *sweeper.Config) { c.Prefixes = []string{"", "failover/"} }},
		{"the same prefix twice", func(c *sweeper.Config) { c.Prefixes = []string{"primary/", "primary/"} }},
		{"nested prefixes make siblings ambiguous", func(c *sweeper.Config) { c.Prefixes = []string{"live/", "live/failover/"} }},
		{"multiplier below one deletes live playlists", func(c *sweeper.Config) { c.Multiplier = 0.9 }},
		{"no queue", func(c *sweeper.Config) { c.Queue = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			if _, err := sweeper.New(c); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := sweeper.New(base); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
}
