package edgesync

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/google/go-cmp/cmp"

	awskvs "github.com/clustered-video-streams/cvs/internal/aws/kvs"
	"github.com/clustered-video-streams/cvs/internal/local/kvsfake"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

const (
	d1 = "d111111abcdef8.cloudfront.net" // us-east-1 in the sample events
	d2 = "d222222abcdef8.cloudfront.net" // eu-west-1
)

// loadEvent reads a sample event from events/, the file `sam local invoke -e` takes.
func loadEvent(t *testing.T, name string) events.DynamoDBEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return ev
}

func TestHandlerWithSampleEvents(t *testing.T) {
	ctx := context.Background()
	ops := state.Change{By: "arn:aws:iam::123456789012:user/ops", Reason: "new channel"}
	for _, tc := range []struct {
		name  string
		file  string
		setup func(t *testing.T, s *memory.Store) // the state table as of the event
		// wantFailures lists the sequence numbers reported failed.
		wantFailures []string
		wantWrites   bool
	}{
		{"a new instance is mirrored", "edgesync-insert.json", func(t *testing.T, s *memory.Store) {
			mustRegister(t, s, "news", d1, "us-east-1", ops)
		}, nil, true},
		{"a close is mirrored", "edgesync-modify-close.json", func(t *testing.T, s *memory.Store) {
			register(t, s, "news", d1, "us-east-1")
			register(t, s, "news", d2, "eu-west-1")
			if _, err := s.Close(ctx, "news", d1, state.Change{By: "arn:aws:states:us-east-1:123456789012:execution:cvs-failover:news-d111111abcdef8-42", Reason: "confirmed stale: playlists unchanged for 9.2s"}); err != nil {
				t.Fatal(err)
			}
		}, nil, true},
		{"a detector memory save is not synced", "edgesync-detector-save.json", func(t *testing.T, s *memory.Store) {
			mustRegister(t, s, "news", d1, "us-east-1", ops)
		}, nil, false},
		{"an audit record is ignored", "edgesync-audit.json", func(t *testing.T, s *memory.Store) {
			mustRegister(t, s, "news", d1, "us-east-1", ops)
		}, nil, false},
		{"a malformed record fails alone", "edgesync-malformed.json", func(t *testing.T, s *memory.Store) {
			register(t, s, "news", d1, "us-east-1")
			register(t, s, "news", d2, "eu-west-1")
		}, []string{"100000000000000000009"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t)
			store := memory.New(func() time.Time { return t0 })
			tc.setup(t, store)
			h := &Handler{Sync: newSyncer(srv, store), Log: quiet}

			resp, err := h.Handle(ctx, loadEvent(t, tc.file))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			var failed []string
			for _, f := range resp.BatchItemFailures {
				failed = append(failed, f.ItemIdentifier)
			}
			if diff := cmp.Diff(tc.wantFailures, failed); diff != "" {
				t.Fatalf("batch item failures (-want +got):\n%s", diff)
			}
			if !tc.wantWrites {
				if n := len(srv.Items()); n != 0 || srv.Updates() != 0 {
					t.Fatalf("%d items after %d updates, want nothing written", n, srv.Updates())
				}
				return
			}
			if diff := cmp.Diff(wantEntries(t, store, 6, "news"), srv.Items()); diff != "" {
				t.Fatalf("key value store (-want +got):\n%s", diff)
			}
		})
	}
}

func mustRegister(t *testing.T, s *memory.Store, cluster, domain, region string, c state.Change) {
	t.Helper()
	r := state.Registration{Cluster: cluster, Domain: domain, Region: region,
		DistributionPlaylistURL: "https://" + domain + "/live/index.m3u8", OriginPlaylistURL: "https://origin.example.com/live/index.m3u8"}
	if _, err := s.Register(context.Background(), r, c); err != nil {
		t.Fatal(err)
	}
}

func record(seq, name, cluster, domain, kind string) events.DynamoDBEventRecord {
	img := map[string]events.DynamoDBAttributeValue{
		"cluster": events.NewStringAttribute(cluster),
		"domain":  events.NewStringAttribute(domain),
	}
	if kind != "" {
		img["kind"] = events.NewStringAttribute(kind)
	}
	rec := events.DynamoDBEventRecord{EventID: "id-" + seq, EventName: name}
	rec.Change.SequenceNumber = seq
	rec.Change.Keys = map[string]events.DynamoDBAttributeValue{"cluster": img["cluster"], "domain": img["domain"]}
	if name == "REMOVE" {
		rec.Change.OldImage = img
	} else {
		rec.Change.NewImage = img
	}
	return rec
}

func TestHandlerBatches(t *testing.T) {
	ctx := context.Background()
	srv := newFake(t)
	store := newStore(t) // news: d1, d2 (cloudfront.net names of newStore)
	register(t, store, "sports", "sports-1.cloudfront.net", "us-east-1")
	register(t, store, "sports", "sports-2.cloudfront.net", "eu-west-1")
	srv.Put("gone.cloudfront.net", `{"open":true,"cluster":"news","version":3}`)
	// The store fails reads of one sports key: that cluster cannot be synced.
	srv.FailGet = func(key string) bool { return key == "sports-2.cloudfront.net" }
	s := newSyncer(srv, store)
	s.KVS = awskvs.New(kvs.New(kvs.Options{
		Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.HTTPClient(), RetryMaxAttempts: 1,
	}), kvsfake.ARN)
	h := &Handler{Sync: s, Log: quiet}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("1", "MODIFY", "news", "d1.cloudfront.net", "instance"),
		record("2", "MODIFY", "sports", "sports-1.cloudfront.net", "instance"),
		record("3", "INSERT", "news", "audit#0001#d1.cloudfront.net#0002", "audit"),
		record("4", "INSERT", "#clusters", "news", "cluster"),
		record("5", "REMOVE", "news", "gone.cloudfront.net", "instance"),
		record("6", "MODIFY", "news", "audit#0002#d1.cloudfront.net#0003", ""), // no kind: an older audit item
		record("7", "MODIFY", "news", "d2.cloudfront.net", ""),                 // no kind: an instance
		record("8", "TTL", "news", "d2.cloudfront.net", "instance"),
		record("9", "MODIFY", "news", "bad domain!", "instance"),
		record("10", "MODIFY", "sports", "sports-2.cloudfront.net", "instance"),
	}}
	resp, err := h.Handle(ctx, ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if diff := cmp.Diff([]string{"8", "9", "2", "10"}, failed); diff != "" {
		t.Fatalf("failures (-want +got):\n%s", diff)
	}
	got := srv.Items()
	if _, ok := got["gone.cloudfront.net"]; ok {
		t.Fatalf("the removed instance is still in the key value store")
	}
	want := wantEntries(t, store, 6, "news")
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"sports-1.cloudfront.net", "sports-2.cloudfront.net", "steering_sports"} {
		if _, ok := got[k]; ok {
			t.Fatalf("%s written although the sports sync failed before its update", k)
		}
	}
}

// countingTransport counts the requests a client sends, by KeyValueStore operation.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	ops  map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Method + " " + r.URL.Path
	switch {
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/keys/"):
		op = "GetKey"
	case r.Method == http.MethodGet:
		op = "DescribeKeyValueStore"
	case r.Method == http.MethodPost:
		op = "UpdateKeys"
	}
	c.mu.Lock()
	c.ops[op]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *countingTransport) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ops)
}

// TestDetectorSaveCausesNoKVSCall: the detector saves its memory on the instance item about
// twice a minute without bumping the version; such a MODIFY reaches the edge sync, which must
// not read or write the KeyValueStore for it.
func TestDetectorSaveCausesNoKVSCall(t *testing.T) {
	ctx := context.Background()
	ev := loadEvent(t, "edgesync-detector-save.json")

	// The sample is what it says: the images differ in the detector's attributes only.
	before, after := maps.Clone(ev.Records[0].Change.OldImage), maps.Clone(ev.Records[0].Change.NewImage)
	for _, a := range []string{"detector", "detector_rev"} {
		if reflect.DeepEqual(before[a], after[a]) {
			t.Errorf("sample: %s did not change", a)
		}
		delete(before, a)
		delete(after, a)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("sample: the images differ in more than the detector's attributes:\nold %v\nnew %v", before, after)
	}

	srv := newFake(t)
	store := memory.New(func() time.Time { return t0 })
	register(t, store, "news", d1, "us-east-1")
	register(t, store, "news", d2, "eu-west-1")
	count := &countingTransport{base: srv.HTTPClient().Transport, ops: map[string]int{}}
	s := newSyncer(srv, store)
	s.KVS = awskvs.New(kvs.New(kvs.Options{
		Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL), HTTPClient: &http.Client{Transport: count},
	}), kvsfake.ARN)
	// The cluster is in sync, as it is between changes.
	if _, err := s.SyncCluster(ctx, "news", nil); err != nil {
		t.Fatal(err)
	}
	synced := count.counts()

	var logs strings.Builder
	h := &Handler{Sync: s, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	resp, err := h.Handle(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want no failures", resp, err)
	}
	if diff := cmp.Diff(synced, count.counts()); diff != "" {
		t.Errorf("KeyValueStore requests for a detector save (-before +after):\n%s", diff)
	}
	if !strings.Contains(logs.String(), `"unchanged":1`) {
		t.Errorf("batch log %s does not count the record as unchanged", logs.String())
	}

	// What the record cost before it was skipped: a sync of an in-sync cluster of 2 instances.
	start := count.counts()
	if _, err := s.SyncCluster(ctx, "news", nil); err != nil {
		t.Fatal(err)
	}
	cost := count.counts()
	for op := range cost {
		cost[op] -= start[op]
	}
	t.Logf("a sync of an in-sync cluster of 2 instances, now skipped per detector save: %v (plus one state table Query)", cost)
	if cost["UpdateKeys"] != 0 {
		t.Errorf("an in-sync cluster was written: %v", cost)
	}
}

func TestClassifyModify(t *testing.T) {
	num := events.NewNumberAttribute
	modify := func(before, after map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
		rec := record("1", "MODIFY", "news", d1, "instance")
		for k, v := range before {
			if rec.Change.OldImage == nil {
				rec.Change.OldImage = map[string]events.DynamoDBAttributeValue{}
			}
			rec.Change.OldImage[k] = v
		}
		for k, v := range after {
			rec.Change.NewImage[k] = v
		}
		return rec
	}
	v := func(n string) map[string]events.DynamoDBAttributeValue {
		return map[string]events.DynamoDBAttributeValue{"version": num(n)}
	}
	remove := record("1", "REMOVE", "news", d1, "instance")
	remove.Change.OldImage["version"], remove.Change.NewImage = num("4"), v("4")
	tests := []struct {
		name string
		rec  events.DynamoDBEventRecord
		want string
	}{
		{"same version: nothing the edge reads changed", modify(v("4"), v("4")), "unchanged"},
		{"version bumped", modify(v("4"), v("5")), "instance"},
		{"same version written differently", modify(v("4"), v("4.0")), "instance"},
		{"no old image (a NEW_IMAGE stream)", modify(nil, v("4")), "instance"},
		{"no version in the old image", modify(map[string]events.DynamoDBAttributeValue{"health": events.NewStringAttribute("fresh")}, v("1")), "instance"},
		{"version not a number", modify(map[string]events.DynamoDBAttributeValue{"version": events.NewStringAttribute("4")}, map[string]events.DynamoDBAttributeValue{"version": events.NewStringAttribute("4")}), "instance"},
		{"a remove is never unchanged", remove, "instance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := classify(tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			if k.kind != tt.want {
				t.Errorf("kind %q, want %q", k.kind, tt.want)
			}
		})
	}
}
