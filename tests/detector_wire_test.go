package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	awssns "github.com/clustered-video-streams/cvs/internal/aws/sns"
	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/topic"
)

// dwPublisher is the SNS adapter over the real client, noting when each sequence's Publish
// returned.
type dwPublisher struct {
	*awssns.Publisher
	mu sync.Mutex
	at map[int64]time.Time
}

func (p *dwPublisher) Publish(ctx context.Context, m topic.Message) (string, error) {
	out, err := p.Publisher.Publish(ctx, m)
	if err == nil {
		var ev contract.DetectorEvent
		if json.Unmarshal([]byte(m.Body), &ev) == nil {
			p.mu.Lock()
			p.at[ev.Sequence] = time.Now()
			p.mu.Unlock()
		}
	}
	return out, err
}

// TestDetectorOnTheWire runs the detector in real time (TD = 2 s) against httptest origins that
// advance, stall, answer 404 or 503, end, gap and restart, with the state table in DynamoDB
// Local and the region's topic in moto_server, read back through an SQS queue subscribed to
// it. Two invocations overlap as EventBridge's would at a minute boundary (scaled down: the
// first stops at 10 s, the second starts at 7.5 s). It asserts what holds under any scheduling:
// every message on the topic is a detector event whose message attributes match it, a repeated
// sequence repeats the same event, each instance's events are transitions (never the same kind
// twice in a row) in increasing sequence, and the instance in another region gets none. Which
// events a loaded machine's wall clock lets through is measured, not asserted: how many
// instances got exactly the expected events, whether the table's health matches the last one,
// and the detection delays (stall -> stale event published). The exact events per scenario are
// asserted on a fake clock by the detector package's tests (TestOriginScenarios,
// TestOverlappingRuns).
func TestDetectorOnTheWire(t *testing.T) {
	d := testenv.DynamoDB(t)
	moto := testenv.Moto(t, "the detector wire test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const region = "eu-west-1"
	creds := credentials.NewStaticCredentialsProvider("AKIDLOCALDUMMY", "dummy", "")
	snsClient := sns.New(sns.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(moto)})
	sqsClient := sqs.New(sqs.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(moto)})
	topic, err := snsClient.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("cvs-detector")})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cvs-trigger")})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snsClient.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(qa.Attributes["QueueArn"])}); err != nil {
		t.Fatal(err)
	}
	store, err := dynamo.New(dynamo.Config{Table: d.StateTable(t), ControlRegion: region, Control: d.Client(region)})
	if err != nil {
		t.Fatal(err)
	}

	const td = 2 * time.Second
	type instance struct {
		name   string
		cue    func(o *detectortest.Origin, t0 time.Time) time.Time // returns the last change to time, or zero
		want   []state.Health
		region string
		origin *detectortest.Origin
		last   time.Time
	}
	F, S, U, E := state.HealthFresh, state.HealthStale, state.HealthUnreachable, state.HealthEnded
	instances := []*instance{
		{name: "stall", cue: func(o *detectortest.Origin, t0 time.Time) time.Time {
			return o.Stall("", t0.Add(3300*time.Millisecond))
		}, want: []state.Health{F, S}},
		{name: "stall-audio", cue: func(o *detectortest.Origin, t0 time.Time) time.Time {
			return o.Stall("aen", t0.Add(4100*time.Millisecond))
		}, want: []state.Health{F, S}},
		{name: "notfound", cue: func(o *detectortest.Origin, t0 time.Time) time.Time {
			o.Fail("", http.StatusNotFound, t0.Add(3700*time.Millisecond), time.Time{})
			return time.Time{}
		}, want: []state.Health{F, U}},
		{name: "blip", cue: func(o *detectortest.Origin, t0 time.Time) time.Time {
			o.Fail("v720", http.StatusServiceUnavailable, t0.Add(4*time.Second), t0.Add(4600*time.Millisecond))
			return time.Time{}
		}, want: []state.Health{F}},
		{name: "ended", cue: func(o *detectortest.Origin, t0 time.Time) time.Time {
			o.End("", t0.Add(3*time.Second))
			return time.Time{}
		}, want: []state.Health{F, E}},
		{name: "gap", cue: func(o *detectortest.Origin, t0 time.Time) time.Time {
			o.Gap("", t0.Add(3500*time.Millisecond))
			return o.LastChange("v720", t0.Add(3500*time.Millisecond+td)) // the segment under way is the last with media
		}, want: []state.Health{F, S}},
		{name: "restart", cue: func(o *detectortest.Origin, t0 time.Time) time.Time {
			o.Restart("", t0.Add(4*time.Second))
			return time.Time{}
		}, want: []state.Health{F}},
		{name: "elsewhere", region: "us-east-1", cue: func(o *detectortest.Origin, t0 time.Time) time.Time { return time.Time{} }},
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for k := range 10 {
		at := 2500*time.Millisecond + time.Duration(k)*630*time.Millisecond
		instances = append(instances, &instance{name: fmt.Sprintf("delay-%d", k), want: []state.Health{F, S},
			cue: func(o *detectortest.Origin, t0 time.Time) time.Time { return o.Stall("", t0.Add(at)) }})
	}
	for _, in := range instances {
		in.origin = detectortest.NewOrigin(td, 6, detectortest.StandardVariants()...)
		in.origin.Shift(time.Duration(rng.Int64N(int64(td))))
		srv := httptest.NewServer(in.origin)
		t.Cleanup(srv.Close)
		r := in.region
		if r == "" {
			r = region
		}
		if _, err := store.Register(ctx, state.Registration{Cluster: "news", Domain: in.name + ".cloudfront.test", Region: r,
			DistributionPlaylistURL: "https://" + in.name + ".cloudfront.test/master.m3u8", OriginPlaylistURL: srv.URL + "/master.m3u8"},
			state.Change{By: "local:test"}); err != nil {
			t.Fatal(err)
		}
	}

	pub := &dwPublisher{Publisher: awssns.New(snsClient), at: map[int64]time.Time{}}
	newDetector := func() *detector.Detector {
		cfg := detector.Config{Region: region, TopicARN: aws.ToString(topic.TopicArn), Margin: time.Second}
		det, err := detector.New(cfg, detector.Deps{Registry: store, Memory: store, Publisher: pub,
			Getter: detector.NewGetter(detector.NewHTTPClient(16), cfg),
			Log:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		return det
	}
	t0 := time.Now()
	for _, in := range instances {
		in.last = in.cue(in.origin, t0)
	}
	var wg sync.WaitGroup
	defer wg.Wait() // the runs end before the test does, whatever fails first
	sums := make([]detector.Summary, 2)
	runErrs := make([]error, 2)
	for i, run := range []struct {
		start, deadline time.Duration
	}{{0, 10 * time.Second}, {7500 * time.Millisecond, 17 * time.Second}} {
		det := newDetector() // here: newDetector may call t.Fatal, which only the test's goroutine may
		wg.Go(func() {
			time.Sleep(time.Until(t0.Add(run.start)))
			rctx, cancel := context.WithDeadline(ctx, t0.Add(run.deadline))
			defer cancel()
			sums[i], runErrs[i] = det.Run(rctx, detector.Invocation{Owner: fmt.Sprintf("run-%d", i+1), By: "local:detector"})
		})
	}
	wg.Wait()
	for i, s := range sums {
		// A run's error (a slow DynamoDB Local timing out, say) depends on the machine's load.
		t.Logf("run %d: %d instances, %d watched, %d polls, %d published, %d errors, stopped at +%s, error %v",
			i+1, s.Instances, s.Watched, s.Polls, s.Published, s.Errors, s.StoppedAt.Sub(t0).Round(time.Millisecond), runErrs[i])
	}

	// Everything that reached the trigger's queue.
	type received struct {
		ev    contract.DetectorEvent
		attrs map[string]string
	}
	byDomain := map[string][]received{}
	for {
		out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			var envelope struct {
				Message           string
				MessageAttributes map[string]struct{ Type, Value string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &envelope); err != nil {
				t.Fatal(err)
			}
			ev, err := contract.ParseDetectorEvent([]byte(envelope.Message))
			if err != nil {
				t.Fatalf("message on the topic is no detector event: %v", err)
			}
			attrs := map[string]string{}
			for k, v := range envelope.MessageAttributes {
				attrs[k] = v.Value
			}
			byDomain[ev.Domain] = append(byDomain[ev.Domain], received{ev, attrs})
			if _, err := sqsClient.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: queue.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}

	var delays, detections []time.Duration
	var exact, healthMatch, repeats int
	for _, in := range instances {
		domain := in.name + ".cloudfront.test"
		got := byDomain[domain]
		if in.region != "" {
			if len(got) != 0 {
				t.Errorf("%s: %d events for an instance in %s, want none from the %s detector", in.name, len(got), in.region, region)
			}
			continue
		}
		sort.SliceStable(got, func(i, j int) bool { return got[i].ev.Sequence < got[j].ev.Sequence })
		var kinds []state.Health
		var distinct []received
		for i, r := range got {
			want := map[string]string{"event": string(r.ev.Event), "cluster": "news", "region": region}
			if diff := cmp.Diff(want, r.attrs); diff != "" {
				t.Errorf("%s: message attributes (-want +got):\n%s", in.name, diff)
			}
			if i > 0 && r.ev.Sequence == got[i-1].ev.Sequence {
				// At least once per transition: a repeat is allowed, but only of the same event.
				repeats++
				if r.ev.Event != got[i-1].ev.Event || r.ev.Cluster != got[i-1].ev.Cluster || r.ev.Domain != got[i-1].ev.Domain {
					t.Errorf("%s: sequence %d carries %s and %s", in.name, r.ev.Sequence, got[i-1].ev.Event, r.ev.Event)
				}
				continue
			}
			if n := len(distinct); n > 0 && distinct[n-1].ev.Event == r.ev.Event {
				t.Errorf("%s: %s at sequence %d follows %s at %d: events are published on transitions only",
					in.name, r.ev.Event, r.ev.Sequence, distinct[n-1].ev.Event, distinct[n-1].ev.Sequence)
			}
			distinct = append(distinct, r)
			kinds = append(kinds, r.ev.Event)
		}
		if diff := cmp.Diff(in.want, kinds); diff != "" {
			t.Logf("%s: events differ from the unloaded expectation (-want +got):\n%s", in.name, diff)
		} else {
			exact++
		}
		if len(kinds) > 0 {
			inst, err := store.Instance(ctx, "news", domain)
			if err != nil {
				t.Fatal(err)
			}
			if inst.Health == kinds[len(kinds)-1] {
				healthMatch++
			} else {
				t.Logf("%s: health in the table %s, last event %s", in.name, inst.Health, kinds[len(kinds)-1])
			}
		}
		if !in.last.IsZero() && len(distinct) == 2 && distinct[1].ev.Event == state.HealthStale {
			pub.mu.Lock()
			at := pub.at[distinct[1].ev.Sequence]
			pub.mu.Unlock()
			delay, detected := at.Sub(in.last), distinct[1].ev.DetectedAt.Sub(in.last)
			delays, detections = append(delays, delay), append(detections, detected)
			t.Logf("%-12s stale detected %s and published %s after the last change (published at +%s)", in.name,
				detected.Round(time.Millisecond), delay.Round(time.Millisecond), at.Sub(t0).Round(time.Millisecond))
		}
	}
	t.Logf("%d of %d instances in %s published exactly the expected events; %d with the table's health matching the last event; %d repeated deliveries",
		exact, len(instances)-1, region, healthMatch, repeats)
	if len(delays) > 0 {
		slices.Sort(delays)
		slices.Sort(detections)
		over := 0
		for _, d := range delays {
			if d > 3*td/2+td/2 {
				over++
			}
		}
		t.Logf("real time, TD %s, poll interval %s: %d stalls, stall -> stale event published: min %s median %s max %s; %d over 1.5 x TD + interval (%s); stall -> detected_at: min %s median %s max %s",
			td, td/2, len(delays), delays[0].Round(time.Millisecond), delays[len(delays)/2].Round(time.Millisecond),
			delays[len(delays)-1].Round(time.Millisecond), over, 3*td/2+td/2,
			detections[0].Round(time.Millisecond), detections[len(detections)/2].Round(time.Millisecond), detections[len(detections)-1].Round(time.Millisecond))
	}
}
