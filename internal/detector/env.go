package detector

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/origin"
)

// ConfigFromEnv reads a Config from environment variables (getenv is os.Getenv in Lambda):
//
//	REGION                 region whose instances to watch (default AWS_REGION)
//	TOPIC_ARN              the region's detector SNS topic (required)
//	POLL_FACTOR            poll interval as a fraction of the target duration (0.5)
//	MIN_POLL_INTERVAL      shortest poll interval, at least 500ms (500ms)
//	POLL_INTERVAL          fixed poll interval instead of the target-duration rule (unset)
//	MASTER_INTERVAL        how often the origin master is re-read (10s)
//	REQUEST_TIMEOUT        per-request timeout (unset: 3/4 of the target duration, 0.5s to 5s)
//	MAX_CONCURRENCY        requests in flight at most (64)
//	MAX_PLAYLISTS          playlists polled per instance at most (64)
//	RUN_FOR                how long one invocation polls (62s)
//	MARGIN                 stop this long before the invocation's deadline (5s)
//	COLD_TARGET_DURATION   target duration assumed before any playlist was read (6s)
//
// and the health rule's settings as health.PolicyFromEnv reads them for the Confirm task too
// (STALE_MULTIPLIER, MIN_FAILURES, VIDEO_TOLERANCE, AUDIO_TOLERANCE, MAX_PLAYLIST_BYTES): give
// both functions the same values.
//
// Durations are Go durations ("750ms", "2s"). Every malformed value is reported.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Region: getenv("REGION"), TopicARN: getenv("TOPIC_ARN")}
	if c.Region == "" {
		c.Region = getenv("AWS_REGION")
	}
	var problems []string
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: want a duration such as 750ms or 2s", name, v))
				return
			}
			*dst = d
		}
	}
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: want a whole number", name, v))
				return
			}
			*dst = n
		}
	}
	float := func(name string, dst *float64) {
		if v := getenv(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: want a number", name, v))
				return
			}
			*dst = f
		}
	}
	float("POLL_FACTOR", &c.PollFactor)
	dur("MIN_POLL_INTERVAL", &c.MinPoll)
	dur("POLL_INTERVAL", &c.PollInterval)
	dur("MASTER_INTERVAL", &c.MasterInterval)
	dur("REQUEST_TIMEOUT", &c.RequestTimeout)
	num("MAX_CONCURRENCY", &c.MaxConcurrency)
	num("MAX_PLAYLISTS", &c.MaxPlaylists)
	dur("RUN_FOR", &c.RunFor)
	dur("MARGIN", &c.Margin)
	dur("COLD_TARGET_DURATION", &c.ColdTargetDuration)
	// The health rule's settings, read as the Confirm task reads them.
	pol, err := health.PolicyFromEnv(getenv)
	if err != nil {
		problems = append(problems, health.Problems(err)...)
	}
	c.Tracker.Multiplier, c.Tracker.MinFailures, c.Tracker.MaxBody = pol.Tracker.Multiplier, pol.Tracker.MinFailures, pol.Tracker.MaxBody
	c.VideoTolerance, c.AudioTolerance = pol.VideoTolerance, pol.AudioTolerance
	if len(problems) > 0 {
		return c, &ConfigError{Problems: problems}
	}
	checked, err := c.withDefaults()
	if err != nil {
		return c, err
	}
	return checked, nil
}

// NewHTTPClient returns the client origins are polled with: keep-alive connections, up to
// maxConcurrency idle connections kept per origin host so that steady polling never reconnects,
// and no client-wide timeout (every request has its own).
func NewHTTPClient(maxConcurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(100, 2*maxConcurrency)
	t.MaxIdleConnsPerHost = max(2, maxConcurrency)
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// NewGetter returns the fetcher the detector uses on client: the caller's context bounds each
// request, bodies are read up to the tracker's limit.
func NewGetter(client origin.Doer, cfg Config) *origin.Fetcher {
	limit := cfg.Tracker.MaxBody
	if limit == 0 {
		limit = hls.DefaultMaxBody
	}
	return &origin.Fetcher{Client: client, Timeout: -1, MaxBytes: limit, UserAgent: "cvs-detector"}
}
