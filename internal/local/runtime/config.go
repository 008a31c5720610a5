// Package runtime runs the whole product in one process for `cvsctl local`: per region a
// simulated live origin, the real detector, trigger, failover and failback workflows and an edge
// with the real copilot; shared, the state store, edge sync, the API and dashboard and a master
// distribution. Everything else is an in-process twin from internal/local.
package runtime

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Config is what `cvsctl local` is asked to run. Use DefaultConfig and change what is needed.
type Config struct {
	// Listen is the loopback host:port the servers listen on: port 0 gives each server a free
	// port, port P gives them P, P+1, ... in the order API, control, master, then each region's
	// origin and edge.
	Listen string
	// Regions is how many regions run, at least 2.
	Regions int
	// SegmentDuration is the origins' segment duration, a whole number of seconds.
	SegmentDuration time.Duration
	// DynamoDBEndpoint, when set, keeps the state in this DynamoDB (Local) instead of in memory,
	// in the table StateTableName, created when missing.
	DynamoDBEndpoint string
	// Repo is the repository whose functions/copilot/copilot.js and statemachines/ run.
	Repo string
	// User is who the API records as the operator ("local:<User>").
	User string

	// The Lambdas' settings from template.yaml's Parameters (see Parameters).
	EnableFailback       bool
	HoldDownSeconds      int
	StaleMultiplier      float64
	MinFailures          int
	VideoTolerance       int
	AudioTolerance       int
	MaxPlaylistBytes     int64
	SteeringTTLSeconds   int
	EdgeReconcileMinutes int
	StateTableName       string

	// DetectorRunFor is how long one detector run polls before handing its memory to the next
	// (Lambda: 62 s, once a minute); short, so that Ctrl-C never waits for one.
	DetectorRunFor time.Duration
}

// DefaultConfig returns the defaults: two regions, 2 s segments, the template's settings.
func DefaultConfig() Config {
	return Config{
		Listen:               "127.0.0.1:0",
		Regions:              2,
		SegmentDuration:      2 * time.Second,
		User:                 "operator",
		EnableFailback:       false,
		HoldDownSeconds:      300,
		StaleMultiplier:      1.5,
		MinFailures:          2,
		VideoTolerance:       0,
		AudioTolerance:       0,
		MaxPlaylistBytes:     16 << 20,
		SteeringTTLSeconds:   10,
		EdgeReconcileMinutes: 5,
		StateTableName:       "cvs-state",
		DetectorRunFor:       15 * time.Second,
	}
}

// Parameters maps each template.yaml Parameter that a local run has to the flag of
// `cvsctl local` that sets it; a test holds the flags' defaults to the template's.
var Parameters = map[string]string{
	"EnableFailback":       "failback",
	"HoldDownSeconds":      "hold-down-seconds",
	"StaleMultiplier":      "stale-multiplier",
	"MinFailures":          "min-failures",
	"VideoTolerance":       "video-tolerance",
	"AudioTolerance":       "audio-tolerance",
	"MaxPlaylistBytes":     "max-playlist-bytes",
	"SteeringTTLSeconds":   "steering-ttl-seconds",
	"EdgeReconcileMinutes": "edge-reconcile-minutes",
	"StateTableName":       "state-table-name",
}

// NotLocal says why each other template Parameter has no flag.
var NotLocal = map[string]string{
	"NotificationEmail":       "notifications are logged, no e-mail is sent",
	"EdgeKeyValueStoreArn":    "one in-process KeyValueStore serves every region",
	"ControlRegion":           "one state store serves every region",
	"StateReplicaRegions":     "one state store serves every region",
	"EncoderMasterName":       "no encoder bucket: the S3 playlist functions do not run locally",
	"MergedMasterKey":         "no encoder bucket: the S3 playlist functions do not run locally",
	"SweeperDryRun":           "no encoder bucket: the S3 playlist functions do not run locally",
	"EncoderDistributionId":   "no encoder bucket: the S3 playlist functions do not run locally",
	"MasterBucketPrefix":      "one local master bucket",
	"PeerMasterBucketDomains": "one local master bucket",
	"MasterDistributionId":    "one local master distribution",
}

// Check reports every problem with the configuration, in flag terms.
func (c Config) Check() error {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if err := checkListen(c.Listen); err != nil {
		bad("--listen %q: %v", c.Listen, err)
	}
	if c.Regions < 2 || c.Regions > len(regionNames) {
		bad("--regions %d: want 2 to %d", c.Regions, len(regionNames))
	}
	if c.SegmentDuration < time.Second || c.SegmentDuration > 10*time.Second || c.SegmentDuration%time.Second != 0 {
		bad("--segment-duration %s: want a whole number of seconds from 1s to 10s", c.SegmentDuration)
	}
	if c.HoldDownSeconds < 0 || c.HoldDownSeconds > 86400 {
		bad("--hold-down-seconds %d: want 0 to 86400", c.HoldDownSeconds)
	}
	if c.StaleMultiplier < 1 || c.StaleMultiplier > 10 {
		bad("--stale-multiplier %g: want 1 to 10", c.StaleMultiplier)
	}
	if c.MinFailures < 1 || c.MinFailures > 10 {
		bad("--min-failures %d: want 1 to 10", c.MinFailures)
	}
	if c.VideoTolerance < 0 || c.VideoTolerance > 63 || c.AudioTolerance < 0 || c.AudioTolerance > 63 {
		bad("--video-tolerance %d, --audio-tolerance %d: want 0 to 63", c.VideoTolerance, c.AudioTolerance)
	}
	if c.MaxPlaylistBytes < 65536 || c.MaxPlaylistBytes > 268435456 {
		bad("--max-playlist-bytes %d: want 65536 to 268435456", c.MaxPlaylistBytes)
	}
	if c.SteeringTTLSeconds < 1 || c.SteeringTTLSeconds > 300 {
		bad("--steering-ttl-seconds %d: want 1 to 300", c.SteeringTTLSeconds)
	}
	if c.EdgeReconcileMinutes < 2 || c.EdgeReconcileMinutes > 1440 {
		bad("--edge-reconcile-minutes %d: want 2 to 1440", c.EdgeReconcileMinutes)
	}
	if c.DynamoDBEndpoint != "" {
		if !strings.HasPrefix(c.DynamoDBEndpoint, "http://") && !strings.HasPrefix(c.DynamoDBEndpoint, "https://") {
			bad("--dynamodb-endpoint %q: want an http:// or https:// URL", c.DynamoDBEndpoint)
		}
		if len(c.StateTableName) < 3 || len(c.StateTableName) > 255 || strings.Trim(c.StateTableName, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" {
			bad("--state-table-name %q: want 3 to 255 letters, digits, _ . -", c.StateTableName)
		}
	}
	if c.DetectorRunFor < time.Second {
		bad("detector run of %s: want at least 1s", c.DetectorRunFor)
	}
	if c.User == "" {
		bad("no operator name")
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

// checkListen accepts a loopback host and a port: nothing here is signed or authenticated.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("port: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("not a loopback address: the local runtime serves an unsigned API")
	}
	return nil
}
