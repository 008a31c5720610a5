package queue_test

import (
	"testing"
	"time"

	"github.com/clustered-video-streams/cvs/internal/queue"
)

func TestDelaySeconds(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    time.Duration
		want int32
		ok   bool
	}{
		{"no delay", 0, 0, true},
		{"a nanosecond waits a second", 1, 1, true},
		{"a whole second", time.Second, 1, true},
		{"a second and a millisecond wait two", time.Second + time.Millisecond, 2, true},
		{"the longest", queue.MaxDelay, 900, true},
		{"past the longest", queue.MaxDelay + 1, 0, false},
		{"negative", -1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := queue.DelaySeconds(tc.d)
			if got != tc.want || (err == nil) != tc.ok {
				t.Fatalf("DelaySeconds(%s) = %d, %v; want %d, ok=%v", tc.d, got, err, tc.want, tc.ok)
			}
		})
	}
}
