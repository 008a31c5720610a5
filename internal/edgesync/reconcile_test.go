package edgesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	kvstypes "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore/types"
	"github.com/google/go-cmp/cmp"

	awskvs "github.com/clustered-video-streams/cvs/internal/aws/kvs"
	"github.com/clustered-video-streams/cvs/internal/edgekv"
	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/local/kvsfake"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

func newReconciler(srv *kvsfake.Server, store Registry, authority Instances) *Reconciler {
	return &Reconciler{Sync: newSyncer(srv, store), Registry: store, Authority: authority, Log: quiet}
}

// syncAll writes every cluster of the store, as the stream path leaves the edge between changes.
func syncAll(t *testing.T, srv *kvsfake.Server, store Registry) {
	t.Helper()
	clusters, err := store.Clusters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := newSyncer(srv, store)
	for _, c := range clusters {
		if _, err := s.SyncCluster(context.Background(), c, nil); err != nil {
			t.Fatalf("sync %s: %v", c, err)
		}
	}
}

func writesOf(srv *kvsfake.Server) int { return srv.Requests()["UpdateKeys"] }

func TestReconcile(t *testing.T) {
	ctx := context.Background()
	by := state.Change{By: "arn:aws:states:us-east-1:123456789012:execution:failover:x", Reason: "playlists stale for 9s"}
	const orphan = `{"open":false,"reason":"stale","cluster":"news","region":"ap-southeast-2","version":4}`
	for _, tc := range []struct {
		name string
		// drift changes the state or the store after both were in sync.
		drift func(t *testing.T, srv *kvsfake.Server, store *memory.Store)
		// authority is what the control region holds (nil: no authority).
		authority func(t *testing.T, store *memory.Store) Instances
		// want adjusts the expected store, which starts as the state's entries.
		want func(want map[string]string)
		// wantReport is compared on the counting fields only.
		wantReport Report
	}{
		{
			name: "a close whose stream record was lost is repaired",
			drift: func(t *testing.T, _ *kvsfake.Server, store *memory.Store) {
				if _, err := store.Close(ctx, "news", "d1.cloudfront.net", by); err != nil {
					t.Fatal(err)
				}
			},
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 3, KeysRepaired: 2, Puts: 2, Updates: 1},
		},
		{
			name:       "a key deleted by hand is restored",
			drift:      func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) { srv.Delete("d2.cloudfront.net") },
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 3, KeysRepaired: 1, Puts: 1, Updates: 1},
		},
		{
			name: "a value edited by hand is restored",
			drift: func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) {
				srv.Put("steering_news", `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["ap-southeast-2"]}`)
			},
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 3, KeysRepaired: 1, Puts: 1, Updates: 1},
		},
		{
			name: "a cluster written while this region's edge sync was down is mirrored",
			drift: func(t *testing.T, _ *kvsfake.Server, store *memory.Store) {
				register(t, store, "sports", "sports-1.cloudfront.net", "us-east-1")
				register(t, store, "sports", "sports-2.cloudfront.net", "eu-west-1")
			},
			wantReport: Report{Clusters: 2, Instances: 4, KeysChecked: 6, KeysRepaired: 3, Puts: 3, Updates: 1},
		},
		{
			name:       "nothing drifted: reads only",
			drift:      func(*testing.T, *kvsfake.Server, *memory.Store) {},
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 3},
		},
		{
			name: "an entry newer than the state read is left alone, and so is the steering manifest",
			drift: func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) {
				srv.Put("d1.cloudfront.net", `{"open":false,"reason":"closed by a region with a newer view","cluster":"news","region":"us-east-1","version":9}`)
				srv.Put("steering_news", `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["eu-west-1"]}`)
				srv.Delete("d2.cloudfront.net")
			},
			want: func(want map[string]string) {
				want["d1.cloudfront.net"] = `{"open":false,"reason":"closed by a region with a newer view","cluster":"news","region":"us-east-1","version":9}`
				want["steering_news"] = `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["eu-west-1"]}`
			},
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 3, KeysRepaired: 1, Puts: 1, Skipped: 1, Updates: 1},
		},
		{
			name: "an entry of the same domain under another cluster is replaced whatever its version",
			drift: func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) {
				srv.Put("d1.cloudfront.net", `{"open":false,"cluster":"old-channel","version":40}`)
			},
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 3, KeysRepaired: 1, Puts: 1, Updates: 1},
		},
		{
			name:      "an unregistered instance's key is deleted once the control region confirms it gone",
			drift:     func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) { srv.Put("d9.cloudfront.net", orphan) },
			authority: func(_ *testing.T, store *memory.Store) Instances { return store },
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 4, KeysRepaired: 1, Deletes: 1, Updates: 1,
				StateReads: 3},
		},
		{
			name:  "without an authority an unregistered instance's key is kept and reported",
			drift: func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) { srv.Put("d9.cloudfront.net", orphan) },
			want:  func(want map[string]string) { want["d9.cloudfront.net"] = orphan },
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 4,
				OrphansKept: []string{"d9.cloudfront.net"}},
		},
		{
			name:  "a key the control region still has an instance for is kept (this view lags)",
			drift: func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) { srv.Put("d9.cloudfront.net", orphan) },
			authority: func(t *testing.T, _ *memory.Store) Instances {
				control := memory.New(func() time.Time { return t0 })
				register(t, control, "news", "d9.cloudfront.net", "ap-southeast-2")
				return control
			},
			want: func(want map[string]string) { want["d9.cloudfront.net"] = orphan },
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 4,
				OrphansKept: []string{"d9.cloudfront.net"}, StateReads: 3},
		},
		{
			name: "a cluster with no instances left loses its entries and steering manifest",
			drift: func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) {
				srv.Put("gone-1.cloudfront.net", `{"open":true,"cluster":"gone","version":2}`)
				srv.Put("steering_gone", `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["us-east-1"]}`)
			},
			authority: func(_ *testing.T, store *memory.Store) Instances { return store },
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 5, KeysRepaired: 2, Deletes: 2, Updates: 1,
				StateReads: 3},
		},
		{
			name: "an emptied cluster keeps its steering manifest while the control region lists an instance",
			drift: func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) {
				srv.Put("gone-1.cloudfront.net", `{"open":true,"cluster":"gone","version":2}`)
				srv.Put("steering_gone", `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["us-east-1"]}`)
			},
			authority: func(t *testing.T, _ *memory.Store) Instances {
				control := memory.New(func() time.Time { return t0 })
				register(t, control, "gone", "gone-2.cloudfront.net", "us-east-1")
				return control
			},
			want: func(want map[string]string) {
				want["steering_gone"] = `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["us-east-1"]}`
			},
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 5, KeysRepaired: 1, Deletes: 1, Updates: 1,
				OrphansKept: []string{"steering_gone"}, StateReads: 3},
		},
		{
			name: "keys edgesync did not write are left alone",
			drift: func(_ *testing.T, srv *kvsfake.Server, _ *memory.Store) {
				srv.Put("motd", "hello")
				srv.Put("d7.cloudfront.net", `{"open":false}`)
				srv.Put("steering_other", `not a manifest`)
			},
			authority: func(_ *testing.T, store *memory.Store) Instances { return store },
			want: func(want map[string]string) {
				want["motd"], want["d7.cloudfront.net"], want["steering_other"] = "hello", `{"open":false}`, `not a manifest`
			},
			wantReport: Report{Clusters: 1, Instances: 2, KeysChecked: 6, Foreign: 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t)
			store := newStore(t)
			syncAll(t, srv, store)
			tc.drift(t, srv, store)
			var authority Instances
			if tc.authority != nil {
				authority = tc.authority(t, store)
			}
			before := srv.Requests()
			rep, err := newReconciler(srv, store, authority).Reconcile(ctx)
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			clusters, _ := store.Clusters(ctx)
			want := wantEntries(t, store, 6, clusters...)
			if tc.want != nil {
				tc.want(want)
			}
			if diff := cmp.Diff(want, srv.Items()); diff != "" {
				t.Fatalf("key value store (-want +got):\n%s", diff)
			}
			// The reads are the same in every case: one Describe, one ListKeys page, one Clusters,
			// one Instances per cluster (and one authority read per cluster with orphans).
			wantReport := tc.wantReport
			wantReport.KVSReads = 2
			if wantReport.StateReads == 0 {
				wantReport.StateReads = 1 + wantReport.Clusters
			}
			if diff := cmp.Diff(wantReport, rep); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			after := srv.Requests()
			if got := after["UpdateKeys"] - before["UpdateKeys"]; got != rep.Updates {
				t.Errorf("the store saw %d UpdateKeys requests, the report says %d", got, rep.Updates)
			}
			if got := after["GetKey"] - before["GetKey"]; got != 0 {
				t.Errorf("%d GetKey requests: the reconcile reads the store by listing it", got)
			}
		})
	}
}

// TestReconcileOfManyClusters measures what a reconcile costs when nothing drifted (reads only)
// and checks that a store gone blank is rewritten in UpdateKeys batches within the service's
// limit of 50 keys, each against the ETag the last one returned.
func TestReconcileOfManyClusters(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{1, 10, 40} {
		t.Run(fmt.Sprintf("%d clusters of 2 instances", n), func(t *testing.T) {
			srv := newFake(t)
			store := memory.New(func() time.Time { return t0 })
			clusters := make([]string, n)
			for i := range clusters {
				clusters[i] = fmt.Sprintf("channel-%02d", i)
				register(t, store, clusters[i], clusters[i]+"-a.cloudfront.net", "us-east-1")
				register(t, store, clusters[i], clusters[i]+"-b.cloudfront.net", "eu-west-1")
			}
			keys := 3 * n
			r := newReconciler(srv, store, store)

			rep, err := r.Reconcile(ctx)
			if err != nil {
				t.Fatalf("first reconcile: %v", err)
			}
			if diff := cmp.Diff(wantEntries(t, store, 6, clusters...), srv.Items()); diff != "" {
				t.Fatalf("store after the first reconcile (-want +got):\n%s", diff)
			}
			wantUpdates := (keys + MaxKeysPerUpdate - 1) / MaxKeysPerUpdate
			if rep.Puts != keys || rep.Updates != wantUpdates || srv.Conflicts() != 0 {
				t.Fatalf("first reconcile: %d puts in %d requests (%d conflicts), want %d in %d", rep.Puts, rep.Updates, srv.Conflicts(), keys, wantUpdates)
			}

			before := srv.Requests()
			rep, err = r.Reconcile(ctx)
			if err != nil {
				t.Fatalf("second reconcile: %v", err)
			}
			after := srv.Requests()
			got := map[string]int{}
			for op, c := range after {
				if d := c - before[op]; d != 0 {
					got[op] = d
				}
			}
			wantPages := (keys + MaxListResults - 1) / MaxListResults
			if diff := cmp.Diff(map[string]int{"DescribeKeyValueStore": 1, "ListKeys": wantPages}, got); diff != "" {
				t.Errorf("requests of a reconcile with nothing drifted (-want +got):\n%s", diff)
			}
			if rep.KeysRepaired != 0 || rep.KeysChecked != keys || rep.StateReads != 1+n || rep.KVSReads != 1+wantPages {
				t.Errorf("report %+v: want nothing repaired, %d keys checked, %d state reads, %d KVS reads", rep, keys, 1+n, 1+wantPages)
			}
			t.Logf("%d clusters, %d keys in sync: %d KVS reads (%v), %d state store calls, 0 writes; first fill: %d UpdateKeys",
				n, keys, rep.KVSReads, got, rep.StateReads, wantUpdates)
		})
	}
}

// TestReconcileRacesTheStream: a stream write lands between the reconcile's reads and its
// batch write. The batch fails on the ETag, the reconcile syncs the cluster again from fresh
// reads, and whichever of the two writers has the newer version of the instance wins.
func TestReconcileRacesTheStream(t *testing.T) {
	ctx := context.Background()
	by := state.Change{By: "arn:aws:states:us-east-1:123456789012:execution:failover:x", Reason: "playlists stale"}
	for _, tc := range []struct {
		name string
		// reconcileIsCurrent: the reconcile reads the current state and the stream writer a
		// lagging replica; otherwise the other way round.
		reconcileIsCurrent bool
	}{
		{"the stream writes a newer version: it stays", false},
		{"the stream writes an older version: the reconcile replaces it", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t)
			current, lagging := newStore(t), newStore(t) // d1, d2 at version 2, open
			syncAll(t, srv, lagging)
			srv.Delete("d2.cloudfront.net") // drift, so the reconcile has something to write
			if _, err := current.Close(ctx, "news", "d1.cloudfront.net", by); err != nil {
				t.Fatal(err) // d1 at version 3, closed
			}
			reconcileView, streamView := lagging, current
			if tc.reconcileIsCurrent {
				reconcileView, streamView = current, lagging
				// The stream's older write must change something for the race to happen.
				srv.Delete("d1.cloudfront.net")
			}
			stream := newSyncer(srv, streamView)
			// Only the reconcile's first write lets the stream in (the stream's own write comes
			// through here too, from another request, while the first still waits).
			var fired atomic.Bool
			var streamErr error
			srv.BeforeUpdate = func() {
				if fired.CompareAndSwap(false, true) {
					_, streamErr = stream.SyncCluster(ctx, "news", nil)
				}
			}

			rep, err := newReconciler(srv, reconcileView, reconcileView).Reconcile(ctx)
			if err != nil || streamErr != nil {
				t.Fatalf("Reconcile: %v; stream sync: %v", err, streamErr)
			}
			if srv.Conflicts() == 0 || !cmp.Equal(rep.Resynced, []string{"news"}) {
				t.Fatalf("conflicts %d, resynced %v: the stream write did not land under the reconcile's batch", srv.Conflicts(), rep.Resynced)
			}
			if diff := cmp.Diff(wantEntries(t, current, 6, "news"), srv.Items()); diff != "" {
				t.Fatalf("store (-want: the newer state, +got):\n%s", diff)
			}
			v, err := edgestate.DecodeInstance(srv.Items()["d1.cloudfront.net"])
			if err != nil || v.Open || v.Version != 3 {
				t.Fatalf("d1 = %+v (%v), want version 3, closed", v, err)
			}
		})
	}
}

func TestReconcileReportsWhatItCouldNotDo(t *testing.T) {
	ctx := context.Background()
	t.Run("a cluster whose instances cannot be read keeps its keys", func(t *testing.T) {
		srv := newFake(t)
		store := newStore(t)
		register(t, store, "sports", "sports-1.cloudfront.net", "us-east-1")
		syncAll(t, srv, store)
		srv.Delete("d1.cloudfront.net")
		before := srv.Items()
		failing := &failingRegistry{Registry: store, cluster: "sports"}
		rep, err := newReconciler(srv, failing, store).Reconcile(ctx)
		var re *ReconcileError
		if !errors.As(err, &re) || !cmp.Equal(re.Failed, []string{"sports"}) {
			t.Fatalf("err = %v, want a *ReconcileError naming sports", err)
		}
		got := srv.Items()
		for _, k := range []string{"sports-1.cloudfront.net", "steering_sports"} {
			if got[k] != before[k] {
				t.Errorf("%s = %q, want it left as %q", k, got[k], before[k])
			}
		}
		if rep.Puts != 1 || got["d1.cloudfront.net"] == "" {
			t.Errorf("report %+v: the readable cluster must still be repaired", rep)
		}
	})
	t.Run("an unreadable store is an error and nothing is written", func(t *testing.T) {
		srv := newFake(t)
		store := newStore(t)
		r := newReconciler(srv, store, store)
		r.Sync.KVS = awskvs.New(client(srv), "arn:aws:cloudfront::123456789012:key-value-store/00000000-0000-0000-0000-000000000000")
		_, err := r.Reconcile(ctx)
		var notFound *kvstypes.ResourceNotFoundException
		if !errors.As(err, &notFound) || !errors.Is(err, edgekv.ErrNotFound) || writesOf(srv) != 0 {
			t.Fatalf("err = %v after %d writes, want ResourceNotFoundException and none", err, writesOf(srv))
		}
	})
}

type failingRegistry struct {
	Registry
	cluster string
}

func (f *failingRegistry) Instances(ctx context.Context, cluster string) ([]state.Instance, error) {
	if cluster == f.cluster {
		return nil, errors.New("injected read failure")
	}
	return f.Registry.Instances(ctx, cluster)
}

// TestSyncClusterBatchesLargeClusters: the stream path shares the batched write, so a cluster
// with more entries than one UpdateKeys takes is written in several requests.
func TestSyncClusterBatchesLargeClusters(t *testing.T) {
	srv := newFake(t)
	store := memory.New(func() time.Time { return t0 })
	for i := range 60 {
		register(t, store, "big", fmt.Sprintf("big-%02d.cloudfront.net", i), fmt.Sprintf("region-%02d", i))
	}
	out, err := newSyncer(srv, store).SyncCluster(context.Background(), "big", nil)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if out.Puts != 61 || writesOf(srv) != 2 {
		t.Fatalf("%d puts in %d requests, want 61 in 2", out.Puts, writesOf(srv))
	}
	if diff := cmp.Diff(wantEntries(t, store, 6, "big"), srv.Items()); diff != "" {
		t.Fatalf("store (-want +got):\n%s", diff)
	}
}

// TestFakeEnforcesTheUpdateLimit: the fake refuses what the service refuses, so the batching
// tests above can fail.
func TestFakeEnforcesTheUpdateLimit(t *testing.T) {
	srv := newFake(t)
	c := client(srv)
	desc, err := c.DescribeKeyValueStore(context.Background(), &kvs.DescribeKeyValueStoreInput{KvsARN: aws.String(kvsfake.ARN)})
	if err != nil {
		t.Fatal(err)
	}
	in := &kvs.UpdateKeysInput{KvsARN: aws.String(kvsfake.ARN), IfMatch: desc.ETag}
	for i := range MaxKeysPerUpdate + 1 {
		in.Puts = append(in.Puts, kvstypes.PutKeyRequestListItem{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
	}
	_, err = c.UpdateKeys(context.Background(), in)
	var invalid *kvstypes.ValidationException
	if !errors.As(err, &invalid) || len(srv.Items()) != 0 {
		t.Fatalf("51 puts: err %v, %d items; want a ValidationException and nothing written", err, len(srv.Items()))
	}
}

func TestFunctionDispatchesOnTheEvent(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		payload []byte
		check   func(t *testing.T, out any, err error, srv *kvsfake.Server, store *memory.Store)
	}{
		{"a scheduled event reconciles", loadSample(t, "edgesync-reconcile.json"),
			func(t *testing.T, out any, err error, srv *kvsfake.Server, store *memory.Store) {
				rep, ok := out.(Report)
				if err != nil || !ok || rep.Puts != 3 {
					t.Fatalf("Invoke = %#v, %v; want a Report of 3 puts", out, err)
				}
				if diff := cmp.Diff(wantEntries(t, store, 6, "news"), srv.Items()); diff != "" {
					t.Fatalf("store (-want +got):\n%s", diff)
				}
			}},
		{"a stream batch syncs its clusters", loadSample(t, "edgesync-insert.json"),
			func(t *testing.T, out any, err error, srv *kvsfake.Server, _ *memory.Store) {
				resp, ok := out.(events.DynamoDBEventResponse)
				if err != nil || !ok || len(resp.BatchItemFailures) != 0 || writesOf(srv) != 1 {
					t.Fatalf("Invoke = %#v, %v after %d writes; want a batch response without failures, one write", out, err, writesOf(srv))
				}
			}},
		{"another service's records are refused", []byte(`{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}`), refused},
		{"another EventBridge event is refused", []byte(`{"source":"aws.s3","detail-type":"Object Created","detail":{}}`), refused},
		{"a payload that is not JSON is refused", []byte(`Records`), refused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t)
			store := memory.New(func() time.Time { return t0 })
			register(t, store, "news", d1, "us-east-1")
			register(t, store, "news", d2, "eu-west-1")
			var logs strings.Builder
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			s := newSyncer(srv, store)
			f := &Function{Stream: &Handler{Sync: s, Log: log}, Reconcile: &Reconciler{Sync: s, Registry: store, Authority: store, Log: log}, Log: log}
			out, err := f.Invoke(ctx, tc.payload)
			tc.check(t, out, err, srv, store)
			if err != nil && !strings.Contains(logs.String(), "refusing the event") {
				t.Errorf("the refusal was not logged: %s", logs.String())
			}
		})
	}
}

func refused(t *testing.T, out any, err error, srv *kvsfake.Server, _ *memory.Store) {
	t.Helper()
	var invalid *InvalidEventError
	if !errors.As(err, &invalid) || out != nil {
		t.Fatalf("Invoke = %#v, %v; want an *InvalidEventError", out, err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d key value store requests for a refused event, want none", n)
	}
}

// loadSample reads a sample event from events/ as the raw payload Lambda hands the function.
func loadSample(t *testing.T, name string) json.RawMessage {
	t.Helper()
	return testenv.SampleEvent(t, name)
}

// BenchmarkReconcileInSync measures a reconcile that finds nothing to repair, through the real
// SDK client (SigV4A signing) and the fake store on loopback, with the memory state store.
func BenchmarkReconcileInSync(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			srv := kvsfake.New()
			defer srv.Close()
			store := memory.New(func() time.Time { return t0 })
			ctx := context.Background()
			for i := range n {
				c := fmt.Sprintf("channel-%03d", i)
				for j, region := range []string{"us-east-1", "eu-west-1"} {
					r := state.Registration{Cluster: c, Domain: fmt.Sprintf("%s-%d.cloudfront.net", c, j), Region: region,
						DistributionPlaylistURL: "https://d.example.com/live/index.m3u8", OriginPlaylistURL: "https://o.example.com/live/index.m3u8"}
					if _, err := store.Register(ctx, r, state.Change{By: "bench", Reason: "setup"}); err != nil {
						b.Fatal(err)
					}
				}
			}
			r := newReconciler(srv, store, store)
			if _, err := r.Reconcile(ctx); err != nil {
				b.Fatal(err)
			}
			before := srv.Requests()
			b.ResetTimer()
			for b.Loop() {
				rep, err := r.Reconcile(ctx)
				if err != nil || rep.KeysRepaired != 0 {
					b.Fatalf("reconcile: %+v, %v", rep, err)
				}
			}
			b.StopTimer()
			after := srv.Requests()
			b.ReportMetric(float64(after["DescribeKeyValueStore"]+after["ListKeys"]-before["DescribeKeyValueStore"]-before["ListKeys"])/float64(b.N), "kvs-reads/op")
			b.ReportMetric(float64(after["UpdateKeys"]-before["UpdateKeys"])/float64(b.N), "writes/op")
		})
	}
}
