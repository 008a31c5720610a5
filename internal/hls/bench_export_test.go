package hls

import (
	"bytes"
	"os"
	"testing"
)

// benchMediaFile is the body BenchmarkTrackerObserve starts from, exported for the peers that
// `make bench` runs on the same input (hls.js in Node, Python's m3u8).
const benchMediaFile = "testdata/bench/media-10-segments.m3u8"

// TestBenchMediaFileMatchesBenchmark keeps the exported body equal to benchPlaylist(1000);
// go test -run TestBenchMediaFile -update rewrites it.
func TestBenchMediaFileMatchesBenchmark(t *testing.T) {
	want := benchPlaylist(1000)
	if *mergeUpdate {
		if err := os.WriteFile(benchMediaFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(benchMediaFile)
	if err != nil {
		t.Fatalf("%v (go test -run TestBenchMediaFile -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from benchPlaylist(1000); go test -run TestBenchMediaFile -update rewrites it", benchMediaFile)
	}
}
