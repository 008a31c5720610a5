package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/clustered-video-streams/cvs/internal/encoderpair"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

var env = map[string]string{
	"ENCODER_BUCKET": "cvs-encoder-example", "PRIMARY_MASTER_KEY": "primary/index.m3u8", "FAILOVER_MASTER_KEY": "failover/index.m3u8",
	"MERGED_MASTER_KEY": "index.m3u8", "TABLE_NAME": "cvs-state", "MASTER_BUCKETS": "cvs-master-1-us-east-1.s3.us-east-1.amazonaws.com",
	"S3_FORCE_PATH_STYLE": "true",
}

func getenv(over map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return env[k]
	}
}

// TestBuild wires the function as Lambda would and invokes it with its sample events, every AWS
// service on moto.
func TestBuild(t *testing.T) {
	endpoint := testenv.Moto(t, "the merge function test")
	testenv.OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL": endpoint})
	ctx := context.Background()
	c := motoclient.S3(endpoint)
	motoclient.Bucket(t, c, "cvs-encoder-example", true)
	motoclient.Bucket(t, c, "cvs-master-1-us-east-1", true)
	master, err := os.ReadFile("../../internal/encoderpair/testdata/master.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	motoclient.Put(t, c, "cvs-encoder-example", "primary/index.m3u8", master)
	motoclient.Put(t, c, "cvs-encoder-example", "failover/index.m3u8", master)

	h, err := build(ctx, getenv(nil), io.Discard)
	if err != nil {
		t.Fatalf("build: %v", err)
	}

	t.Run("encoder upload writes the redundant master", func(t *testing.T) {
		out, err := h(ctx, testenv.SampleEvent(t, "merge-encoder-primary.json"))
		if err != nil {
			t.Fatal(err)
		}
		if o := out.(*encoderpair.Outcome); !o.Written || o.Variants != 6 || o.VariantGroups != 3 {
			t.Fatalf("outcome %+v, want 6 variants in 3 redundant groups written", o)
		}
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cvs-encoder-example"), Key: aws.String("index.m3u8")}); err != nil {
			t.Fatalf("no index.m3u8: %v", err)
		}
	})

	t.Run("cluster request regenerates the multi-region master", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(master) }))
		defer srv.Close()
		db := dynamodb.NewFromConfig(motoclient.Config(endpoint))
		if err := dynamo.CreateTable(ctx, db, "cvs-state"); err != nil {
			t.Fatal(err)
		}
		store, err := dynamo.New(dynamo.Config{Table: "cvs-state", ControlRegion: "us-east-1", Control: db})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Register(ctx, state.Registration{Cluster: "live-1", Domain: "d111111abcdef8.cloudfront.net", Region: "us-east-1",
			DistributionPlaylistURL: srv.URL + "/live-1/index.m3u8", OriginPlaylistURL: srv.URL + "/origin.m3u8"}, state.Change{By: "local:test", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		out, err := h(ctx, testenv.SampleEvent(t, "merge-cluster.json"))
		if err != nil {
			t.Fatal(err)
		}
		if r := out.(*regen.Result); !r.Written || r.ErrorKind != "" || r.Variants != 3 || r.Key != "live-1/index.m3u8" {
			t.Fatalf("result %+v, want the master written", r)
		}
	})

	t.Run("configuration errors", func(t *testing.T) {
		for name, over := range map[string]map[string]string{
			"no encoder bucket":          {"ENCODER_BUCKET": ""},
			"output in the primary dir":  {"MERGED_MASTER_KEY": "primary/merged.m3u8"},
			"bad master bucket":          {"MASTER_BUCKETS": "https://bucket/"},
			"no table":                   {"TABLE_NAME": ""},
			"key format without cluster": {"MASTER_KEY_FORMAT": "index.m3u8"},
			"size limit not in bytes":    {"MAX_PLAYLIST_BYTES": "16MiB"},
		} {
			if h, err := build(ctx, getenv(over), io.Discard); err == nil {
				t.Errorf("%s: build accepted it", name)
			} else if strings.TrimSpace(err.Error()) == "" {
				t.Errorf("%s: empty error", name)
			} else if h != nil {
				t.Errorf("%s: build returned a handler with its error %v", name, err)
			}
		}
	})
}
