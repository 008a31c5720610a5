package edgesync

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/memory"
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
	s.KVS = kvs.New(kvs.Options{
		Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.HTTPClient(), RetryMaxAttempts: 1,
	})
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
