package metric_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/metric"
)

// TestTooLargeIsAnEMFLine: the line is one JSON object that CloudWatch's embedded metric
// format turns into PlaylistTooLarge = 1 in the product's namespace, with no dimension (the
// alarm in template.yaml watches that metric), and still says what happened for people.
func TestTooLargeIsAnEMFLine(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	metric.TooLarge(slog.New(slog.NewJSONHandler(&buf, nil)), at, "https://origin.example.com/v.m3u8", 1024, "detector: playlist left unjudged")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, buf.Bytes())
	}
	want := map[string]any{
		"Timestamp": float64(at.UnixMilli()),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "ClusteredVideoStreams",
			"Dimensions": []any{[]any{}},
			"Metrics":    []any{map[string]any{"Name": "PlaylistTooLarge", "Unit": "Count"}},
		}},
	}
	if diff := cmp.Diff(want, line["_aws"]); diff != "" {
		t.Errorf("_aws (-want +got):\n%s", diff)
	}
	if line["PlaylistTooLarge"] != float64(1) || line["level"] != "ERROR" || line["url"] != "https://origin.example.com/v.m3u8" ||
		line["limit_bytes"] != float64(1024) || line["msg"] != "detector: playlist left unjudged" {
		t.Errorf("line %s: want the metric's value 1, level ERROR, the URL, the limit and the message", buf.Bytes())
	}
}
