package tests

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/google/go-cmp/cmp"

	awskvs "github.com/clustered-video-streams/cvs/internal/aws/kvs"
	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/edgesync"
	"github.com/clustered-video-streams/cvs/internal/local/kvsfake"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestEdgeSyncOnTheStateTableStream feeds the edge sync the real stream of a state table in
// DynamoDB Local, written by the real DynamoDB store: the detector's memory saves (which leave
// the version alone) cost no KeyValueStore call, while every store write (registration, health,
// close) bumps the version and reaches the edge. Every MODIFY of an instance on the stream is
// checked: an unchanged version means nothing but the detector's attributes changed.
func TestEdgeSyncOnTheStateTableStream(t *testing.T) {
	ctx := context.Background()
	d := testenv.DynamoDB(t)
	table, store := d.StateStore(t)
	stream := newStateStream(t, d, table)

	srv := kvsfake.New()
	t.Cleanup(srv.Close)
	count := &kvsCounter{base: srv.HTTPClient().Transport}
	syncs := &syncCounter{s: &edgesync.Syncer{
		Store: store, SteeringTTL: 6,
		KVS: awskvs.New(cloudfrontkeyvaluestore.New(cloudfrontkeyvaluestore.Options{
			Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
			BaseEndpoint: aws.String(srv.URL), HTTPClient: &http.Client{Transport: count},
		}), kvsfake.ARN),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
	h := &edgesync.Handler{Sync: syncs, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	const (
		d1 = "d111111abcdef8.cloudfront.net"
		d2 = "d222222abcdef8.cloudfront.net"
	)
	ops := state.Change{By: "arn:aws:iam::123456789012:user/ops", Reason: "test"}

	// step applies writes, hands the stream records they caused (want of them) to the edge
	// sync, and returns how many syncs and KeyValueStore requests that took.
	step := func(what string, want int, write func() error) (syncsMade, requests int) {
		t.Helper()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		recs := stream.next(t, want)
		checkVersions(t, what, recs)
		s0, r0 := syncs.n(), count.n()
		resp, err := h.Handle(ctx, events.DynamoDBEvent{Records: recs})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: Handle = %+v, %v", what, resp, err)
		}
		instances, err := store.Instances(ctx, "news")
		if err != nil {
			t.Fatal(err)
		}
		wantKVS, err := edgestate.Entries("news", instances, 6)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantKVS, srv.Items()); diff != "" {
			t.Errorf("%s: key value store (-want +got):\n%s", what, diff)
		}
		return syncs.n() - s0, count.n() - r0
	}

	// Two registrations: each an instance, its audit record and its domain's registry entry
	// (a domain belongs to one cluster), and the cluster registry entry once.
	if n, _ := step("register", 7, func() error {
		for i, d := range []string{d1, d2} {
			r := state.Registration{Cluster: "news", Domain: d, Region: []string{"us-east-1", "eu-west-1"}[i],
				DistributionPlaylistURL: "https://" + d + "/live/index.m3u8", OriginPlaylistURL: "https://origin.example.com/live/index.m3u8"}
			if _, err := store.Register(ctx, r, ops); err != nil {
				return err
			}
		}
		return nil
	}); n != 1 {
		t.Errorf("register: %d syncs, want 1 (one per cluster and batch)", n)
	}

	// A detector Run takes its leases and releases them: four saves, no version bump.
	if n, reqs := step("detector saves", 4, func() error {
		for _, d := range []string{d1, d2} {
			rev := int64(0)
			for _, doc := range []string{`{"v":1,"owner":"run-1"}`, `{"v":1,"seq":2}`} {
				var err error
				if rev, err = store.SaveDetector(ctx, "news", d, []byte(doc), rev); err != nil {
					return err
				}
			}
		}
		return nil
	}); n != 0 || reqs != 0 {
		t.Errorf("detector saves: %d syncs, %d KeyValueStore requests; want none", n, reqs)
	}

	// Health changes and a close are store writes: they bump the version and reach the edge.
	for _, tc := range []struct {
		what  string
		write func() error
	}{
		{"d2 fresh", func() error { _, err := store.RecordHealth(ctx, "news", d2, state.HealthFresh, ops); return err }},
		{"d1 stale", func() error { _, err := store.RecordHealth(ctx, "news", d1, state.HealthStale, ops); return err }},
		{"close d1", func() error { _, err := store.Close(ctx, "news", d1, ops); return err }},
	} {
		// The instance's MODIFY and its audit record's INSERT.
		if n, reqs := step(tc.what, 2, tc.write); n != 1 || reqs == 0 {
			t.Errorf("%s: %d syncs, %d KeyValueStore requests; want 1 sync", tc.what, n, reqs)
		}
	}
	v, err := edgestate.DecodeInstance(srv.Items()[d1])
	if err != nil || v.Open || v.Health != "stale" {
		t.Errorf("edge value of d1 %+v (%v), want closed and stale", v, err)
	}
}

// checkVersions fails the test for a MODIFY of an instance whose version stayed the same
// while something other than the detector's attributes changed: the edge sync would miss it.
func checkVersions(t *testing.T, what string, recs []events.DynamoDBEventRecord) {
	t.Helper()
	for _, r := range recs {
		if r.EventName != "MODIFY" || r.Change.NewImage["kind"].String() != dynamo.KindInstance {
			continue
		}
		before, after := maps.Clone(r.Change.OldImage), maps.Clone(r.Change.NewImage)
		if before[dynamo.AttrVersion].Number() != after[dynamo.AttrVersion].Number() {
			continue
		}
		for _, a := range []string{dynamo.AttrDetector, dynamo.AttrDetectorRev, dynamo.AttrDetectorAt} {
			delete(before, a)
			delete(after, a)
		}
		if !reflect.DeepEqual(before, after) {
			t.Errorf("%s: a MODIFY of %s at version %s changed more than the detector's memory:\nold %v\nnew %v",
				what, r.Change.Keys["domain"].String(), after[dynamo.AttrVersion].Number(), before, after)
		}
	}
}

// stateStream reads a table's DynamoDB stream from its start, as Lambda's event source does.
type stateStream struct {
	client   *dynamodbstreams.Client
	iterator *string
}

func newStateStream(t *testing.T, d *testenv.DynamoDBLocal, table string) *stateStream {
	t.Helper()
	ctx := context.Background()
	desc, err := d.Client("us-east-1").DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	c := dynamodbstreams.New(dynamodbstreams.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(d.Endpoint),
	})
	s, err := c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: desc.Table.LatestStreamArn})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.StreamDescription.Shards); n != 1 {
		t.Fatalf("the new table's stream has %d shards, want 1", n)
	}
	it, err := c.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: desc.Table.LatestStreamArn,
		ShardId: s.StreamDescription.Shards[0].ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	return &stateStream{client: c, iterator: it.ShardIterator}
}

// next returns the next want records, as Lambda hands them to the function. It polls the shard
// (a real server, which may hand out records in several reads) for at most 10 s.
func (s *stateStream) next(t *testing.T, want int) []events.DynamoDBEventRecord {
	t.Helper()
	var out []events.DynamoDBEventRecord
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want {
		got, err := s.client.GetRecords(context.Background(), &dynamodbstreams.GetRecordsInput{ShardIterator: s.iterator})
		if err != nil {
			t.Fatal(err)
		}
		s.iterator = got.NextShardIterator
		for _, r := range got.Records {
			out = append(out, lambdaRecord(t, r))
		}
		if len(got.Records) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d stream records after 10 s, want %d", len(out), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if len(out) != want {
		t.Fatalf("%d stream records, want %d", len(out), want)
	}
	return out
}

// lambdaRecord is a stream record as Lambda delivers it to the function.
func lambdaRecord(t *testing.T, r streamtypes.Record) events.DynamoDBEventRecord {
	t.Helper()
	var e events.DynamoDBEventRecord
	e.EventID, e.EventName, e.EventSource = aws.ToString(r.EventID), string(r.EventName), "aws:dynamodb"
	e.Change.SequenceNumber = aws.ToString(r.Dynamodb.SequenceNumber)
	e.Change.StreamViewType = string(r.Dynamodb.StreamViewType)
	e.Change.Keys = lambdaImage(t, r.Dynamodb.Keys)
	e.Change.OldImage = lambdaImage(t, r.Dynamodb.OldImage)
	e.Change.NewImage = lambdaImage(t, r.Dynamodb.NewImage)
	return e
}

func lambdaImage(t *testing.T, m map[string]streamtypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = lambdaValue(t, v)
	}
	return out
}

func lambdaValue(t *testing.T, v streamtypes.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *streamtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *streamtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *streamtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *streamtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *streamtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = lambdaValue(t, e)
		}
		return events.NewListAttribute(l)
	case *streamtypes.AttributeValueMemberM:
		return events.NewMapAttribute(lambdaImage(t, v.Value))
	}
	t.Fatalf("stream attribute of type %T", v)
	return events.DynamoDBAttributeValue{}
}

// syncCounter counts the cluster syncs the handler asks for.
type syncCounter struct {
	s     *edgesync.Syncer
	mu    sync.Mutex
	syncs int
}

func (c *syncCounter) SyncCluster(ctx context.Context, cluster string, removed []string) (edgesync.Outcome, error) {
	c.mu.Lock()
	c.syncs++
	c.mu.Unlock()
	return c.s.SyncCluster(ctx, cluster, removed)
}

func (c *syncCounter) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.syncs
}

// kvsCounter counts the requests sent to the KeyValueStore.
type kvsCounter struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs int
}

func (c *kvsCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *kvsCounter) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reqs
}
