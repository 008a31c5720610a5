package sweeper_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/sweeper"
)

func TestConfigFromEnv(t *testing.T) {
	const queue = "https://sqs.us-east-1.amazonaws.com/123456789012/cvs-sweeper-checks"
	base := map[string]string{"BUCKET": "cvs-encoder-example", "PREFIXES": "primary/,failover/", "CHECK_QUEUE_URL": queue,
		"STALE_MULTIPLIER": "1.5", "SWEEP_MIN_AGE": "30s", "DRY_RUN": "false"}
	full := sweeper.Config{Bucket: "cvs-encoder-example", Prefixes: []string{"primary/", "failover/"},
		Multiplier: 1.5, SweepMinAge: 30 * time.Second}
	with := func(f func(*sweeper.Config)) sweeper.Config {
		c := full
		f(&c)
		return c
	}
	tests := []struct {
		name string
		over map[string]string
		want sweeper.Config
		errs []string // each must appear in the error; nil means no error
	}{
		{name: "template settings", want: full},
		{name: "dry run", over: map[string]string{"DRY_RUN": "true"}, want: with(func(c *sweeper.Config) { c.DryRun = true })},
		{name: "playlist size limit", over: map[string]string{"MAX_PLAYLIST_BYTES": "33554432"}, want: with(func(c *sweeper.Config) { c.MaxBytes = 32 << 20 })},
		{name: "playlist size limit not in bytes", over: map[string]string{"MAX_PLAYLIST_BYTES": "32MiB"}, errs: []string{`MAX_PLAYLIST_BYTES="32MiB"`}},
		{name: "unset numbers mean the defaults", over: map[string]string{"STALE_MULTIPLIER": "", "SWEEP_MIN_AGE": "", "DRY_RUN": ""},
			want: with(func(c *sweeper.Config) { c.Multiplier, c.SweepMinAge = 0, 0 })},
		{name: "no prefixes", over: map[string]string{"PREFIXES": ""}, want: with(func(c *sweeper.Config) { c.Prefixes = nil })},
		{name: "three prefixes", over: map[string]string{"PREFIXES": "a/,b/,c/"}, want: with(func(c *sweeper.Config) { c.Prefixes = []string{"a/", "b/", "c/"} })},
		{name: "bad multiplier", over: map[string]string{"STALE_MULTIPLIER": "x"}, errs: []string{`STALE_MULTIPLIER="x"`}},
		{name: "min age without a unit", over: map[string]string{"SWEEP_MIN_AGE": "30"}, errs: []string{`SWEEP_MIN_AGE="30"`}},
		{name: "dry run neither true nor false", over: map[string]string{"DRY_RUN": "yes"}, errs: []string{`DRY_RUN="yes"`}},
		{name: "every problem reported", over: map[string]string{"STALE_MULTIPLIER": "x", "SWEEP_MIN_AGE": "y", "DRY_RUN": "z"},
			errs: []string{"STALE_MULTIPLIER", "SWEEP_MIN_AGE", "DRY_RUN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sweeper.ConfigFromEnv(func(k string) string {
				if v, ok := tt.over[k]; ok {
					return v
				}
				return base[k]
			})
			if tt.errs != nil {
				if err == nil {
					t.Fatalf("ConfigFromEnv = %+v, want an error naming %q", got, tt.errs)
				}
				for _, want := range tt.errs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ConfigFromEnv (-want +got):\n%s", diff)
			}
		})
	}
}
