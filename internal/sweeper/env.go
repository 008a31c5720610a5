package sweeper

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/hls"
)

// ConfigFromEnv reads the settings part of a Config from environment variables (getenv is
// os.Getenv in Lambda), as template.yaml's SweeperFunction sets them:
//
//	BUCKET           the bucket swept
//	PREFIXES         the folders swept, comma-separated (primary/,failover/)
//	STALE_MULTIPLIER staleness multiplier, health.MultiplierFromEnv (unset: hls.DefaultMultiplier)
//	SWEEP_MIN_AGE    a Go duration such as 30s (unset: DefaultSweepMinAge)
//	DRY_RUN          "true" logs and deletes nothing (unset: false)
//	MAX_PLAYLIST_BYTES the playlist size limit, as hls.MaxBodyFromEnv reads it (unset: hls.DefaultMaxBody)
//
// The caller adds the clients and the logger; New checks the values. Every malformed value is
// reported, joined in one error.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Bucket: getenv("BUCKET")}
	if p := getenv("PREFIXES"); p != "" {
		c.Prefixes = strings.Split(p, ",")
	}
	var problems []error
	m, err := health.MultiplierFromEnv(getenv)
	if err != nil {
		problems = append(problems, err)
	}
	c.Multiplier = m
	if v := getenv("SWEEP_MIN_AGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("SWEEP_MIN_AGE=%q: want a duration such as 30s", v))
		}
		c.SweepMinAge = d
	}
	if v := getenv("DRY_RUN"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("DRY_RUN=%q: want true or false", v))
		}
		c.DryRun = b
	}
	if getenv(hls.EnvMaxBody) != "" {
		n, err := hls.MaxBodyFromEnv(getenv)
		if err != nil {
			problems = append(problems, err)
		}
		c.MaxBytes = n
	}
	return c, errors.Join(problems...)
}
