package edgesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/google/go-cmp/cmp"

	awskvs "github.com/clustered-video-streams/cvs/internal/aws/kvs"
	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/local/kvsfake"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newFake starts the fake KeyValueStore and, at the end of the test, checks that every request
// it saw was SigV4A-signed and addressed as the service requires.
func newFake(t *testing.T) *kvsfake.Server {
	t.Helper()
	srv := kvsfake.New()
	t.Cleanup(func() {
		srv.Close()
		if v := srv.Violations(); len(v) > 0 {
			t.Errorf("requests the service would refuse: %v", v)
		}
	})
	return srv
}

// client is a real SDK client (SigV4A signing, endpoint rules, REST-JSON) with static dummy
// credentials, pointed at the fake.
func client(srv *kvsfake.Server) *kvs.Client {
	return kvs.New(kvs.Options{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   srv.HTTPClient(),
	})
}

func newSyncer(srv *kvsfake.Server, store Instances) *Syncer {
	return &Syncer{
		Store:       store,
		KVS:         awskvs.New(client(srv), kvsfake.ARN),
		SteeringTTL: 6,
		Sleep:       func(context.Context, time.Duration) error { return nil },
		Log:         quiet,
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newStore returns a memory store with cluster "news" in two regions, both open and fresh.
func newStore(t *testing.T) *memory.Store {
	t.Helper()
	store := memory.New(func() time.Time { return t0 })
	register(t, store, "news", "d1.cloudfront.net", "us-east-1")
	register(t, store, "news", "d2.cloudfront.net", "eu-west-1")
	return store
}

func register(t *testing.T, store state.Store, cluster, domain, region string) {
	t.Helper()
	ctx := context.Background()
	by := state.Change{By: "arn:aws:iam::123456789012:user/ops", Reason: "setup"}
	r := state.Registration{Cluster: cluster, Domain: domain, Region: region,
		DistributionPlaylistURL: "https://" + domain + "/live/index.m3u8", OriginPlaylistURL: "https://origin-" + region + ".example.com/live/index.m3u8"}
	if _, err := store.Register(ctx, r, by); err != nil {
		t.Fatalf("register %s/%s: %v", cluster, domain, err)
	}
	if _, err := store.RecordHealth(ctx, cluster, domain, state.HealthFresh, by); err != nil {
		t.Fatalf("health %s/%s: %v", cluster, domain, err)
	}
}

// wantEntries is what the store should hold for the given clusters of the state store.
func wantEntries(t *testing.T, store state.Store, ttl int, clusters ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range clusters {
		ins, err := store.Instances(context.Background(), c)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("instances %s: %v", c, err)
		}
		e, err := edgestate.Entries(c, ins, ttl)
		if err != nil {
			t.Fatalf("entries %s: %v", c, err)
		}
		maps.Copy(out, e)
	}
	return out
}

func TestSyncClusterWritesAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	srv := newFake(t)
	store := newStore(t)
	s := newSyncer(srv, store)

	out, err := s.SyncCluster(ctx, "news", nil)
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if diff := cmp.Diff(Outcome{Puts: 3, Attempts: 1}, out); diff != "" {
		t.Fatalf("first sync outcome (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantEntries(t, store, 6, "news"), srv.Items()); diff != "" {
		t.Fatalf("store (-want +got):\n%s", diff)
	}

	out, err = s.SyncCluster(ctx, "news", nil)
	if err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if out.Puts != 0 || out.Deletes != 0 || srv.Updates() != 1 {
		t.Fatalf("second sync wrote (%+v, %d updates in all), want nothing: it must be idempotent", out, srv.Updates())
	}

	if _, err := store.Close(ctx, "news", "d1.cloudfront.net", state.Change{By: "arn:aws:states:us-east-1:123456789012:execution:failover:x", Reason: "playlists stale for 9s"}); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := s.SyncCluster(ctx, "news", nil); err != nil {
		t.Fatalf("sync after close: %v", err)
	}
	got := srv.Items()
	v, err := edgestate.DecodeInstance(got["d1.cloudfront.net"])
	if err != nil || v.Open || v.Reason != "playlists stale for 9s" {
		t.Fatalf("d1 value %q (%v): want closed with the reason", got["d1.cloudfront.net"], err)
	}
	if want := `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["eu-west-1"]}`; got["steering_news"] != want {
		t.Fatalf("steering %s, want %s", got["steering_news"], want)
	}
}

func TestSyncClusterNeverWritesAnOlderVersion(t *testing.T) {
	ctx := context.Background()
	srv := newFake(t)
	store := newStore(t) // d1 and d2 at version 2 (registered, then fresh)
	newer := `{"open":false,"reason":"closed by a region with a newer view","cluster":"news","region":"us-east-1","version":9}`
	srv.Put("d1.cloudfront.net", newer)
	srv.Put("steering_news", `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["eu-west-1"]}`)

	out, err := newSyncer(srv, store).SyncCluster(ctx, "news", nil)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if diff := cmp.Diff(Outcome{Puts: 1, Skipped: 1, Attempts: 1}, out); diff != "" {
		t.Fatalf("outcome (-want +got):\n%s", diff)
	}
	got := srv.Items()
	if got["d1.cloudfront.net"] != newer {
		t.Fatalf("d1 = %s: a lagging view overwrote a newer version", got["d1.cloudfront.net"])
	}
	if got["steering_news"] != `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["eu-west-1"]}` {
		t.Fatalf("steering = %s: a lagging view must not rewrite it", got["steering_news"])
	}
	if _, ok := got["d2.cloudfront.net"]; !ok {
		t.Fatalf("d2 missing: instances the view is current for are still written")
	}
}

func TestSyncClusterDeletesRemovedInstances(t *testing.T) {
	ctx := context.Background()
	srv := newFake(t)
	store := newStore(t)
	srv.Put("d9.cloudfront.net", `{"open":true,"cluster":"news","version":4}`)
	srv.Put("d8.cloudfront.net", `{"open":true,"cluster":"sports","version":4}`)
	srv.Put("steering_gone", `{"VERSION":1,"TTL":6,"PATHWAY-PRIORITY":["us-east-1"]}`)
	srv.Put("d7.cloudfront.net", `{"open":true,"cluster":"gone","version":1}`)
	s := newSyncer(srv, store)

	out, err := s.SyncCluster(ctx, "news", []string{"d9.cloudfront.net", "d8.cloudfront.net", "d1.cloudfront.net"})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if out.Deletes != 1 {
		t.Fatalf("deletes %d, want 1 (d9 only)", out.Deletes)
	}
	got := srv.Items()
	if _, ok := got["d9.cloudfront.net"]; ok {
		t.Fatalf("d9 was removed from the cluster but is still in the store")
	}
	if _, ok := got["d8.cloudfront.net"]; !ok {
		t.Fatalf("d8 belongs to another cluster and must stay")
	}
	if _, ok := got["d1.cloudfront.net"]; !ok {
		t.Fatalf("d1 is still an instance and must stay")
	}

	// A cluster with no instances left loses its steering manifest.
	if _, err := s.SyncCluster(ctx, "gone", []string{"d7.cloudfront.net"}); err != nil {
		t.Fatalf("sync gone: %v", err)
	}
	got = srv.Items()
	if _, ok := got["steering_gone"]; ok {
		t.Fatalf("steering of an empty cluster is still in the store")
	}
	if _, ok := got["d7.cloudfront.net"]; ok {
		t.Fatalf("the last instance of an empty cluster is still in the store")
	}
}

func TestSyncClusterRetriesConflicts(t *testing.T) {
	ctx := context.Background()
	srv := newFake(t)
	store := newStore(t)
	var once sync.Once
	// Someone else writes between our reads and our update, once.
	srv.BeforeUpdate = func() { once.Do(func() { srv.Put("other", "x") }) }
	var waits []time.Duration
	s := newSyncer(srv, store)
	s.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }

	out, err := s.SyncCluster(ctx, "news", nil)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if out.Attempts != 2 || srv.Conflicts() != 1 || len(waits) != 1 {
		t.Fatalf("attempts %d, conflicts %d, waits %v: want one conflict, one backoff, then success", out.Attempts, srv.Conflicts(), waits)
	}
	want := wantEntries(t, store, 6, "news")
	want["other"] = "x"
	if diff := cmp.Diff(want, srv.Items()); diff != "" {
		t.Fatalf("store (-want +got):\n%s", diff)
	}
}

func TestSyncClusterGivesUpAfterMaxAttempts(t *testing.T) {
	srv := newFake(t)
	n := 0
	srv.BeforeUpdate = func() { n++; srv.Put("other", fmt.Sprint(n)) } // the store changes every time
	s := newSyncer(srv, newStore(t))
	s.MaxAttempts = 3
	_, err := s.SyncCluster(context.Background(), "news", nil)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Attempts != 3 {
		t.Fatalf("err = %v, want a *ConflictError after 3 attempts", err)
	}
	if srv.Conflicts() != 3 {
		t.Fatalf("conflicts %d, want 3", srv.Conflicts())
	}
}

func TestSyncClusterReportsReadFailures(t *testing.T) {
	srv := newFake(t)
	srv.FailGet = func(key string) bool { return key == "d2.cloudfront.net" }
	s := newSyncer(srv, newStore(t))
	s.KVS = awskvs.New(kvs.New(kvs.Options{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		HTTPClient:       srv.HTTPClient(),
		RetryMaxAttempts: 1,
	}), kvsfake.ARN)
	_, err := s.SyncCluster(context.Background(), "news", nil)
	if err == nil || errors.As(err, new(*ConflictError)) {
		t.Fatalf("err = %v, want the read failure", err)
	}
	if srv.Updates() != 0 {
		t.Fatalf("%d updates after a failed read, want none", srv.Updates())
	}
}

func TestFakeRefusesUnsignedRequests(t *testing.T) {
	srv := kvsfake.New()
	defer srv.Close()
	resp, err := srv.HTTPClient().Get(srv.URL + "/key-value-stores/" + kvsfake.ARN)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(srv.Violations()) != 1 {
		t.Fatalf("unsigned request: status %d, violations %v; want 403 and one violation", resp.StatusCode, srv.Violations())
	}
}

// TestConcurrentWritersConverge runs three writers (three regions' edgesync) against one
// store. First all three sync the same cluster with their updates lined up on the same ETag,
// so two of them must hit ConflictException and retry. Then the state changes while the three
// sync different clusters at once; once each has processed the final records, the store holds
// exactly what the final state says.
func TestConcurrentWritersConverge(t *testing.T) {
	ctx := context.Background()
	srv := newFake(t)
	store := newStore(t)
	for _, c := range []string{"sports", "weather", "music"} {
		register(t, store, c, c+"-1.cloudfront.net", "us-east-1")
		register(t, store, c, c+"-2.cloudfront.net", "eu-west-1")
		register(t, store, c, c+"-3.cloudfront.net", "ap-southeast-2")
	}
	clusters := []string{"news", "sports", "weather", "music"}
	writers := make([]*Syncer, 3)
	for i := range writers {
		writers[i] = newSyncer(srv, store)
		writers[i].Sleep = func(context.Context, time.Duration) error { return nil }
	}

	// Round 1: line the three writers' first updates up on one ETag.
	arrived := make(chan struct{}, 3)
	release := make(chan struct{})
	var mu sync.Mutex
	lined := 0
	srv.BeforeUpdate = func() {
		mu.Lock()
		first := lined < 3
		lined++
		mu.Unlock()
		if !first {
			return
		}
		arrived <- struct{}{}
		<-release
	}
	go func() {
		for range 3 {
			<-arrived
		}
		close(release)
	}()
	runAll(t, writers, func(s *Syncer) error { _, err := s.SyncCluster(ctx, "news", nil); return err })
	if got := srv.Conflicts(); got != 2 {
		t.Fatalf("round 1: %d conflicts, want 2 (three writers, one ETag)", got)
	}
	srv.BeforeUpdate = nil

	// Round 2: the state changes while every writer syncs every cluster, in different orders.
	by := state.Change{By: "arn:aws:states:us-east-1:123456789012:execution:failover:x", Reason: "playlists stale"}
	changes := []func() error{
		func() error { _, err := store.Close(ctx, "sports", "sports-1.cloudfront.net", by); return err },
		func() error {
			_, err := store.RecordHealth(ctx, "weather", "weather-2.cloudfront.net", state.HealthStale, by)
			return err
		},
		func() error { _, err := store.Close(ctx, "news", "d2.cloudfront.net", by); return err },
		func() error { _, err := store.Close(ctx, "music", "music-3.cloudfront.net", by); return err },
		func() error {
			_, err := store.Open(ctx, "sports", "sports-1.cloudfront.net", state.Change{By: "ops", Reason: "recovered"})
			return err
		},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	wg.Go(func() {
		for _, change := range changes {
			if err := change(); err != nil {
				errs <- err
			}
		}
	})
	for i, w := range writers {
		wg.Go(func() {
			for j := range clusters {
				c := clusters[(i+j)%len(clusters)]
				if _, err := w.SyncCluster(ctx, c, nil); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("round 2: %v", err)
	}
	// The stream delivers the last changes to every writer: each syncs every cluster once more.
	runAll(t, writers, func(s *Syncer) error {
		for _, c := range clusters {
			if _, err := s.SyncCluster(ctx, c, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if diff := cmp.Diff(wantEntries(t, store, 6, clusters...), srv.Items()); diff != "" {
		t.Fatalf("store did not converge (-want +got):\n%s", diff)
	}
	t.Logf("%d updates, %d ETag conflicts in all", srv.Updates(), srv.Conflicts())
}

// TestLaggingReplicaCannotUndoANewerWrite: region C's replica still has an instance open
// (version 2) when regions A and B have written it closed (version 3). C's late sync leaves
// the closed entry and the steering manifest alone; when C's replica catches up, all agree.
func TestLaggingReplicaCannotUndoANewerWrite(t *testing.T) {
	ctx := context.Background()
	srv := newFake(t)
	current, lagging := newStore(t), newStore(t)
	if _, err := current.Close(ctx, "news", "d1.cloudfront.net", state.Change{By: "sfn", Reason: "stale"}); err != nil {
		t.Fatal(err)
	}
	a, b, c := newSyncer(srv, current), newSyncer(srv, current), newSyncer(srv, lagging)
	runAll(t, []*Syncer{a, b}, func(s *Syncer) error { _, err := s.SyncCluster(ctx, "news", nil); return err })
	want := wantEntries(t, current, 6, "news")

	out, err := c.SyncCluster(ctx, "news", nil)
	if err != nil {
		t.Fatalf("lagging sync: %v", err)
	}
	if out.Skipped != 1 || out.Puts != 0 {
		t.Fatalf("lagging sync %+v, want d1 skipped and nothing written", out)
	}
	if diff := cmp.Diff(want, srv.Items()); diff != "" {
		t.Fatalf("the lagging replica changed the store (-want +got):\n%s", diff)
	}

	if _, err := lagging.Close(ctx, "news", "d1.cloudfront.net", state.Change{By: "sfn", Reason: "stale"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SyncCluster(ctx, "news", nil); err != nil {
		t.Fatalf("caught-up sync: %v", err)
	}
	if diff := cmp.Diff(want, srv.Items()); diff != "" {
		t.Fatalf("after catching up (-want +got):\n%s", diff)
	}
}

func runAll(t *testing.T, writers []*Syncer, f func(*Syncer) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(writers))
	for i, w := range writers {
		wg.Go(func() { errs[i] = f(w) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
}
