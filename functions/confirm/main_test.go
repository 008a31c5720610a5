package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/workflow"
)

func TestBuildNeedsTheTable(t *testing.T) {
	testenv.OfflineAWS(t, nil)
	if _, err := build(context.Background(), func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Fatalf("build = %v, want an error naming TABLE_NAME", err)
	}
}

// TestSampleEventProbesTheOrigin invokes the built function, through aws-lambda-go's JSON
// adapter, with events/confirm-stale.json pointed at an origin whose playlists still stand at
// the event's media sequence (stale mode does not read the table).
func TestSampleEventProbesTheOrigin(t *testing.T) {
	testenv.OfflineAWS(t, nil)
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:18234\n#EXTINF:6,\na.ts\n#EXTINF:6,\nb.ts\n")
	}))
	defer srv.Close()
	c, err := build(context.Background(), func(k string) string { return map[string]string{"TABLE_NAME": "cvs-state"}[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c.Concurrency = 1 // paths is not locked
	payload := strings.ReplaceAll(string(testenv.SampleEvent(t, "confirm-stale.json")), "https://origin-eu.example.com", srv.URL)
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
