// Package metric writes the product's CloudWatch metrics as embedded metric format (EMF) log
// lines, which CloudWatch Logs turns into metrics, so no function needs cloudwatch:PutMetricData;
// template.yaml's alarms watch them.
package metric

import (
	"context"
	"log/slog"
	"time"
)

// Namespace is the CloudWatch namespace of every metric here.
const Namespace = "ClusteredVideoStreams"

// PlaylistTooLarge counts playlist bodies over the size limit (hls.EnvMaxBody): a
// configuration error, which PlaylistTooLargeAlarm in template.yaml sends to the operators.
const PlaylistTooLarge = "PlaylistTooLarge"

// TooLarge logs, at error level, a playlist body at url over limit bytes, with the
// PlaylistTooLarge metric (a count of 1) embedded in the line. what says who read it and what
// it does about it, in the caller's terms.
func TooLarge(log *slog.Logger, now time.Time, url string, limit int64, what string) {
	log.Log(context.Background(), slog.LevelError, what,
		"url", url, "limit_bytes", limit,
		"error", "playlist larger than the size limit: a configuration error; raise MAX_PLAYLIST_BYTES (template parameter MaxPlaylistBytes)",
		slog.Any("_aws", emf{Timestamp: now.UnixMilli(), CloudWatchMetrics: []directive{{
			Namespace: Namespace, Dimensions: [][]string{{}}, Metrics: []definition{{Name: PlaylistTooLarge, Unit: "Count"}}}}}),
		PlaylistTooLarge, 1)
}

// emf is the "_aws" member of an EMF log line (CloudWatch's embedded metric format
// specification): the metric's value is the line's member of the same name.
type emf struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

type definition struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}
