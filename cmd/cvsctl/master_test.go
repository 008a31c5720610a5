package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	awss3 "github.com/clustered-video-streams/cvs/internal/aws/s3"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/mastermerge"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// TestMasterCommand runs cvsctl master against the local API serving the real merge service:
// regional distributions on httptest, the master bucket on moto.
func TestMasterCommand(t *testing.T) {
	endpoint := testenv.Moto(t, "the cvsctl master test")
	dummyAWS(t, opsKeyID, opsSecret)
	region, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "hls", "testdata", "master", "seed002-region.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var euDown atomic.Bool
	dist := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if euDown.Load() && strings.HasPrefix(r.URL.Path, "/origin/eu-west-1/") {
			http.NotFound(w, r)
			return
		}
		w.Write(region)
	}))
	defer dist.Close()
	store := memory.New(nil)
	for _, in := range []struct{ domain, region string }{{opsD1, "us-east-1"}, {opsD2, "eu-west-1"}} {
		if _, err := store.Register(context.Background(), state.Registration{Cluster: opsCluster, Domain: in.domain, Region: in.region,
			DistributionPlaylistURL: dist.URL + "/" + in.region + "/index.m3u8", OriginPlaylistURL: dist.URL + "/origin/" + in.region + "/index.m3u8"},
			state.Change{By: "local:seed", Reason: "seed"}); err != nil {
			t.Fatal(err)
		}
	}
	s3c := motoclient.S3(endpoint)
	motoclient.Bucket(t, s3c, "cvs-master-1-us-east-1", true)
	svc, err := mastermerge.New(mastermerge.Config{Store: store, Fetcher: &origin.Fetcher{},
		Targets: []mastermerge.Target{{Region: "us-east-1", Bucket: "cvs-master-1-us-east-1", S3: awss3.New(s3c)}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Options{Store: store, Caller: api.LocalCaller("nobody"), Master: svc, Logger: quietLog()}))
	defer srv.Close()

	runSteps(t, srv.Client(), srv.URL, []step{
		{name: "regenerates", args: []string{"master", "live-1"},
			wantStdout: `^master live-1/live-1/index\.m3u8: us-east-1 written \(s3://cvs-master-1-us-east-1\); no invalidation; 6 variants in 3 redundant groups, 2 I-frame variants, 0 renditions from 2 regions\n$`},
		{name: "again: unchanged", args: []string{"master", "live-1"}, wantStdout: `us-east-1 unchanged`},
		{name: "json", args: []string{"master", "--json", "live-1"}, wantStdout: `"sha256": "[0-9a-f]{64}"`},
		{name: "unknown cluster", args: []string{"master", "live-9"}, wantCode: exitNotFound, wantStderr: `not_found`},
		{name: "no cluster", args: []string{"master"}, wantCode: exitUsage, wantStderr: `wrong number of arguments`},
	})
	euDown.Store(true)
	runSteps(t, srv.Client(), srv.URL, []step{
		{name: "a region down is named", args: []string{"master", "live-1"}, wantCode: exitFailure,
			wantStderr: `upstream_failed \(HTTP 502\): could not fetch 1 of 2 regional masters, nothing written: eu-west-1 \(origin http://127\.0\.0\.1:\d+/origin/eu-west-1/index\.m3u8\): GET \S+: HTTP 404`},
	})
}
