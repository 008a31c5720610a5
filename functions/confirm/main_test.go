package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/workflow"
)

// offlineAWS points the SDK's default chain at dummy credentials, so that nothing reads the
// machine's AWS configuration or reaches AWS.
func offlineAWS(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_ACCESS_KEY_ID": "AKIDLOCALDUMMY", "AWS_SECRET_ACCESS_KEY": "dummy", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
}

func TestBuildNeedsTheTable(t *testing.T) {
	offlineAWS(t)
	if _, err := build(context.Background(), func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Fatalf("build = %v, want an error naming TABLE_NAME", err)
	}
}

// TestSampleEventProbesTheOrigin invokes the built function, through aws-lambda-go's JSON
// adapter, with events/confirm-stale.json pointed at an origin whose playlists still stand at
// the event's media sequence (stale mode does not read the table).
func TestSampleEventProbesTheOrigin(t *testing.T) {
	offlineAWS(t)
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:18234\n#EXTINF:6,\na.ts\n#EXTINF:6,\nb.ts\n")
	}))
	defer srv.Close()
	c, err := build(context.Background(), func(k string) string { return map[string]string{"TABLE_NAME": "cvs-state"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	c.Concurrency = 1 // paths is not locked
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "events", "confirm-stale.json"))
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.ReplaceAll(string(b), "https://origin-eu.example.com", srv.URL)
	out, err := lambda.NewHandler(c.Confirm).Invoke(context.Background(), []byte(payload))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var got workflow.ConfirmOutput
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Confirmed || got.Health != "stale" || len(paths) != 2 {
		t.Errorf("output %s after GET %v, want confirmed stale after one GET per playlist", out, paths)
	}
}
