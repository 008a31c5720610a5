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
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

func TestBuildNeedsTheTable(t *testing.T) {
	testenv.OfflineAWS(t, nil)
	if _, err := build(context.Background(), func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Fatalf("build = %v, want an error naming TABLE_NAME", err)
	}
}

func TestBuildRefusesMalformedSettings(t *testing.T) {
	testenv.OfflineAWS(t, nil)
	env := map[string]string{"TABLE_NAME": "cvs-state", "STALE_MULTIPLIER": "lots", "AUDIO_TOLERANCE": "-1"}
	_, err := build(context.Background(), func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `STALE_MULTIPLIER="lots"`) {
		t.Fatalf("build = %v, want an error naming STALE_MULTIPLIER", err)
	}
	env["STALE_MULTIPLIER"] = "1.5"
	if _, err := build(context.Background(), func(k string) string { return env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "tolerances must not be negative") {
		t.Fatalf("build = %v, want the negative tolerance refused", err)
	}
}

// TestBuildJudgesByTheDetectorsSettings: Confirm reads STALE_MULTIPLIER, MIN_FAILURES,
// VIDEO_TOLERANCE and AUDIO_TOLERANCE as the detector does, and applies them as the detector
// decides an instance's health, so it never confirms what the detector would not have sent.
func TestBuildJudgesByTheDetectorsSettings(t *testing.T) {
	testenv.OfflineAWS(t, nil)
	// events/confirm-stale.json: both playlists at media sequence 18234, live edge seg18238.ts,
	// target duration 6 s, last changed at 12:00:00; Confirm probes 20 s later.
	stalled := "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:18234\n#EXTINF:6,\nseg18237.ts\n#EXTINF:6,\nseg18238.ts\n"
	advanced := "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:18235\n#EXTINF:6,\nseg18238.ts\n#EXTINF:6,\nseg18239.ts\n"
	tests := []struct {
		name      string
		env       map[string]string
		answers   map[string]string // by path
		confirmed bool
	}{
		{"one stale variant of two is stale by default", nil,
			map[string]string{"/news/720p.m3u8": stalled, "/news/360p.m3u8": advanced}, true},
		{"one stale variant within VIDEO_TOLERANCE=1 is not", map[string]string{"VIDEO_TOLERANCE": "1"},
			map[string]string{"/news/720p.m3u8": stalled, "/news/360p.m3u8": advanced}, false},
		{"two stale variants are beyond VIDEO_TOLERANCE=1", map[string]string{"VIDEO_TOLERANCE": "1"},
			map[string]string{"/news/720p.m3u8": stalled, "/news/360p.m3u8": stalled}, true},
		{"AUDIO_TOLERANCE does not cover video", map[string]string{"AUDIO_TOLERANCE": "1"},
			map[string]string{"/news/720p.m3u8": stalled, "/news/360p.m3u8": advanced}, true},
		{"STALE_MULTIPLIER=4 is not stale 20 s after the last change", map[string]string{"STALE_MULTIPLIER": "4"},
			map[string]string{"/news/720p.m3u8": stalled, "/news/360p.m3u8": stalled}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, tt.answers[r.URL.Path])
			}))
			defer srv.Close()
			env := map[string]string{"TABLE_NAME": "cvs-state"}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := build(context.Background(), func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			c.Now = func() time.Time { return time.Date(2025, 3, 1, 12, 0, 20, 0, time.UTC) }
			payload := strings.ReplaceAll(string(testenv.SampleEvent(t, "confirm-stale.json")), "https://origin-eu.example.com", srv.URL)
			out, err := lambda.NewHandler(c.Confirm).Invoke(context.Background(), []byte(payload))
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			var got contract.ConfirmOutput
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if got.Confirmed != tt.confirmed {
				t.Errorf("confirmed = %v, want %v: %s", got.Confirmed, tt.confirmed, got.Reason)
			}
		})
	}
}

// TestSampleEventProbesTheOrigin invokes the built function, through aws-lambda-go's JSON
// adapter, with events/confirm-stale.json pointed at an origin whose playlists still stand at
// the event's live edge (stale mode does not read the table).
func TestSampleEventProbesTheOrigin(t *testing.T) {
	testenv.OfflineAWS(t, nil)
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:18234\n#EXTINF:6,\nseg18237.ts\n#EXTINF:6,\nseg18238.ts\n")
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
	var got contract.ConfirmOutput
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Confirmed || got.Health != "stale" || len(paths) != 2 {
		t.Errorf("output %s after GET %v, want confirmed stale after one GET per playlist", out, paths)
	}
}
