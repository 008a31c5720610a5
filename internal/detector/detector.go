// Package detector watches the origin playlists of every stream instance of one region and
// publishes a detector event (design.md 4.2) when an instance's health changes; README "How it
// works" describes its polling, its exactly-once publication and its overlapping runs.
package detector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/topic"
)

// Registry is what the detector needs of the state store: the instances to watch, and a place
// to record their health when it changes. state.Store has it.
type Registry interface {
	Clusters(ctx context.Context) ([]string, error)
	Instances(ctx context.Context, cluster string) ([]state.Instance, error)
	RecordHealth(ctx context.Context, cluster, domain string, h state.Health, c state.Change) (state.Instance, error)
}

// MemoryStore keeps the detector's memory of each instance between invocations: an opaque
// document and its revision, on the instance's item in the state table. The memory and dynamo
// state stores have it (LoadDetector, SaveDetector).
type MemoryStore interface {
	// LoadDetector returns the instance's memory and its revision; nil and 0 when there is none
	// yet. An unknown instance is state.ErrNotFound.
	LoadDetector(ctx context.Context, cluster, domain string) (data []byte, rev int64, err error)
	// SaveDetector replaces the memory if its revision is still prev (0: none yet) and returns
	// the new revision. Another revision is state.ErrVersionConflict, an unknown instance
	// state.ErrNotFound; nothing is written then.
	SaveDetector(ctx context.Context, cluster, domain string, data []byte, prev int64) (rev int64, err error)
}

// Getter fetches a URL; *origin.Fetcher has it. Non-2xx answers are *origin.StatusError and
// their bodies are never returned.
type Getter interface {
	Get(ctx context.Context, rawURL string, opts ...origin.Option) (*origin.Response, error)
}

// Defaults and limits of Config.
const (
	DefaultPollFactor       = 0.5
	MinPollInterval         = 500 * time.Millisecond
	DefaultColdPollInterval = time.Second
	DefaultMasterInterval   = 10 * time.Second
	DefaultRunFor           = 62 * time.Second
	DefaultMargin           = 5 * time.Second
	DefaultMaxConcurrency   = 64
	// DefaultMaxPlaylists is all an event can list: a ladder of 9 renditions in H.264, HEVC
	// and HEVC HDR (27 variants) with a few audio languages and codecs fits, where 32 did not.
	DefaultMaxPlaylists       = contract.MaxPlaylists
	DefaultColdTargetDuration = 6 * time.Second
	DefaultRetryInterval      = 2 * time.Second
	DefaultLeaseSlack         = 3 * time.Second
	// MaxRequestTimeout bounds the automatic per-request timeout.
	MaxRequestTimeout = 5 * time.Second
)

// Config tunes a Detector. The zero value of every field but Region and TopicARN means its
// default.
type Config struct {
	// Region is the region whose instances this detector watches (the instances' region
	// attribute); the others are left to their own region's detector.
	Region string
	// TopicARN is the region's detector SNS topic.
	TopicARN string
	// PollFactor times a playlist's target duration is its poll interval (default 0.5: RFC
	// 8216bis 6.3.4's reload interval for an unchanged playlist), never below MinPoll.
	PollFactor float64
	// MinPoll is the shortest poll interval, at least MinPollInterval (500 ms), the default.
	MinPoll time.Duration
	// PollInterval, when set, replaces the target-duration rule with a fixed interval (at least
	// MinPollInterval).
	PollInterval time.Duration
	// ColdPollInterval is the poll interval of a playlist whose target duration is not known yet.
	ColdPollInterval time.Duration
	// MasterInterval is how often the origin's master playlist is re-read to find variants
	// that were added or removed.
	MasterInterval time.Duration
	// RequestTimeout bounds each request. Zero: 3/4 of the playlist's target duration, between
	// 500 ms and MaxRequestTimeout (2 s while the target duration is unknown): below TD, so a
	// hanging origin cannot delay the next poll past the staleness deadline.
	RequestTimeout time.Duration
	// MaxConcurrency bounds the requests in flight across all instances.
	MaxConcurrency int
	// MaxPlaylists bounds the playlists polled per instance (at most contract.MaxPlaylists, the
	// default). Beyond it, the last ones are left out (every class keeps at least one), logged,
	// and counted in the events' omitted_playlists.
	MaxPlaylists int
	// RunFor is how long one Run polls at most; Margin is how long before the context's
	// deadline it stops at the latest, to save its memory. A Run stops at whichever comes first.
	RunFor time.Duration
	Margin time.Duration
	// Tracker tunes every playlist's tracker (staleness multiplier, body limit, failures it
	// takes to be unreachable).
	Tracker hls.TrackerConfig
	// ColdTargetDuration stands for the target duration of an instance none of whose playlists
	// was ever read, for the rule that makes it unreachable (multiplier x this, and MinFailures
	// failures).
	ColdTargetDuration time.Duration
	// VideoTolerance and AudioTolerance are how many video and audio playlists of an instance
	// may be stale or unreachable while the instance still counts as fresh (default 0: any one
	// makes the instance stale or unreachable).
	VideoTolerance int
	AudioTolerance int
	// RetryInterval is how long to wait before retrying a failed publish or health record.
	RetryInterval time.Duration
	// LeaseSlack is how long past its planned stop a Run's lease on an instance lasts, so a Run
	// that died without releasing it holds up the next one no longer than this.
	LeaseSlack time.Duration
}

func (c Config) withDefaults() (Config, error) {
	c.PollFactor = cmp.Or(c.PollFactor, DefaultPollFactor)
	c.MinPoll = cmp.Or(c.MinPoll, MinPollInterval)
	c.ColdPollInterval = cmp.Or(c.ColdPollInterval, DefaultColdPollInterval)
	c.MasterInterval = cmp.Or(c.MasterInterval, DefaultMasterInterval)
	c.MaxConcurrency = cmp.Or(c.MaxConcurrency, DefaultMaxConcurrency)
	c.MaxPlaylists = cmp.Or(c.MaxPlaylists, DefaultMaxPlaylists)
	c.RunFor = cmp.Or(c.RunFor, DefaultRunFor)
	c.Margin = cmp.Or(c.Margin, DefaultMargin)
	c.ColdTargetDuration = cmp.Or(c.ColdTargetDuration, DefaultColdTargetDuration)
	c.RetryInterval = cmp.Or(c.RetryInterval, DefaultRetryInterval)
	c.LeaseSlack = cmp.Or(c.LeaseSlack, DefaultLeaseSlack)
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	pol, err := c.Policy().WithDefaults()
	if err != nil {
		p = append(p, health.Problems(err)...)
	}
	c.Tracker, c.VideoTolerance, c.AudioTolerance = pol.Tracker, pol.VideoTolerance, pol.AudioTolerance
	if c.Region == "" {
		bad("region is required")
	}
	if c.TopicARN == "" {
		bad("topic ARN is required")
	}
	if math.IsNaN(c.PollFactor) || c.PollFactor <= 0 || c.PollFactor > 10 {
		bad("poll factor %g is not in (0, 10]", c.PollFactor)
	}
	if c.MinPoll < MinPollInterval {
		bad("minimum poll interval %s is below %s", c.MinPoll, MinPollInterval)
	}
	if c.PollInterval != 0 && c.PollInterval < MinPollInterval {
		bad("poll interval %s is below %s", c.PollInterval, MinPollInterval)
	}
	if c.ColdPollInterval < MinPollInterval {
		bad("cold poll interval %s is below %s", c.ColdPollInterval, MinPollInterval)
	}
	if c.MasterInterval < MinPollInterval {
		bad("master interval %s is below %s", c.MasterInterval, MinPollInterval)
	}
	if c.RequestTimeout < 0 {
		bad("request timeout %s is negative", c.RequestTimeout)
	}
	if c.MaxConcurrency < 1 {
		bad("max concurrency %d is below 1", c.MaxConcurrency)
	}
	if c.MaxPlaylists < 1 || c.MaxPlaylists > contract.MaxPlaylists {
		bad("max playlists %d is not in [1, %d]", c.MaxPlaylists, contract.MaxPlaylists)
	}
	if c.RunFor < 0 || c.Margin < 0 || c.ColdTargetDuration < 0 || c.RetryInterval < 0 || c.LeaseSlack < 0 {
		bad("durations must not be negative")
	}
	if len(p) > 0 {
		return c, &ConfigError{Problems: p}
	}
	return c, nil
}

// Policy returns the health rule's settings in the configuration (the tracker's and the
// tolerances), which the Confirm task reads from the same environment variables.
func (c Config) Policy() health.Policy {
	return health.Policy{Tracker: c.Tracker, VideoTolerance: c.VideoTolerance, AudioTolerance: c.AudioTolerance}
}

// ConfigError lists what is wrong with a Config.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("detector config: %v", e.Problems)
}

// Detector watches one region's instances. Use New; Run once per scheduled invocation.
type Detector struct {
	cfg       Config
	registry  Registry
	memory    MemoryStore
	publisher topic.Publisher
	getter    Getter
	log       *slog.Logger
	sem       chan struct{}
}

// Deps are a Detector's dependencies. Log may be nil (slog.Default()).
type Deps struct {
	Registry  Registry
	Memory    MemoryStore
	Publisher topic.Publisher // the detector topic: internal/aws/sns in Lambda, internal/local/sns here
	Getter    Getter
	Log       *slog.Logger
}

// New checks the configuration and returns a Detector.
func New(cfg Config, deps Deps) (*Detector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Registry == nil || deps.Memory == nil || deps.Publisher == nil || deps.Getter == nil {
		return nil, errors.New("detector: registry, memory, publisher and getter are required")
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	return &Detector{cfg: cfg, registry: deps.Registry, memory: deps.Memory, publisher: deps.Publisher,
		getter: deps.Getter, log: log, sem: make(chan struct{}, cfg.MaxConcurrency)}, nil
}

// Config returns the configuration in effect, defaults filled in.
func (d *Detector) Config() Config { return d.cfg }

// Invocation names one Run: Owner identifies it in leases (the Lambda request ID), By is who
// health records name (the function's ARN).
type Invocation struct {
	Owner string
	By    string
}

// Summary is what one Run did.
type Summary struct {
	Instances int `json:"instances"`
	// Watched counts the instances this Run polled; the others were leased to an overlapping
	// Run until this one stopped, or failed (Errors).
	Watched   int `json:"watched"`
	Polls     int `json:"polls"`
	Published int `json:"published"`
	Errors    int `json:"errors"`
	// Health is each watched instance's health at the end, "cluster/domain" -> health.
	Health map[string]state.Health `json:"health"`
	// StoppedAt is when polling stopped.
	StoppedAt time.Time `json:"stopped_at"`
}

// Run watches every instance of the region until RunFor has passed or the context's deadline
// minus Margin, whichever is first, then saves each instance's memory and returns. It fails
// only when it cannot list the instances; problems with one instance are logged and counted.
func (d *Detector) Run(ctx context.Context, inv Invocation) (Summary, error) {
	if inv.Owner == "" || inv.By == "" {
		return Summary{}, errors.New("detector run: invocation owner and by are required")
	}
	start := time.Now()
	stopAt := start.Add(d.cfg.RunFor)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-d.cfg.Margin).Before(stopAt) {
		stopAt = dl.Add(-d.cfg.Margin)
	}
	if !stopAt.After(start) {
		return Summary{}, fmt.Errorf("detector run: the deadline leaves no time to poll after the %s margin", d.cfg.Margin)
	}
	instances, err := d.instances(ctx)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Instances: len(instances), Health: map[string]state.Health{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, in := range instances {
		wg.Go(func() {
			w := newWatcher(d, in, inv, stopAt)
			res := w.run(ctx)
			mu.Lock()
			defer mu.Unlock()
			if res.watched {
				sum.Watched++
				sum.Health[in.Cluster+"/"+in.Domain] = res.health
			}
			sum.Polls += res.polls
			sum.Published += res.published
			sum.Errors += res.errors
		})
	}
	wg.Wait()
	sum.StoppedAt = stopAt
	d.log.Info("detector: run done", "region", d.cfg.Region, "instances", sum.Instances, "watched", sum.Watched,
		"polls", sum.Polls, "published", sum.Published, "errors", sum.Errors)
	return sum, nil
}

// instances lists the registered instances of the detector's region.
func (d *Detector) instances(ctx context.Context) ([]state.Instance, error) {
	clusters, err := d.registry.Clusters(ctx)
	if err != nil {
		return nil, fmt.Errorf("detector: list clusters: %w", err)
	}
	var out []state.Instance
	for _, c := range clusters {
		all, err := d.registry.Instances(ctx, c)
		if errors.Is(err, state.ErrNotFound) {
			continue // the cluster lost its last instance since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("detector: list instances of %s: %w", c, err)
		}
		for _, in := range all {
			if in.Region == d.cfg.Region {
				out = append(out, in)
			}
		}
	}
	return out, nil
}
