// Package mastermerge regenerates a cluster's merged multi-region master playlist from every
// instance's origin master and publishes it to every region's master bucket and the master
// distribution; a failed fetch leaves the previous master in place.
package mastermerge

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/cdn"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/metric"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// Store is what the merge needs of the state store.
type Store interface {
	Instances(ctx context.Context, cluster string) ([]state.Instance, error)
}

// Fetcher gets a master playlist; *origin.Fetcher is one.
type Fetcher interface {
	Get(ctx context.Context, rawURL string, opts ...origin.Option) (*origin.Response, error)
}

// Target is one region's master playlist bucket.
type Target struct {
	Region string
	Bucket string
	S3     blob.Store // a store in the bucket's region
}

// Defaults for Config.
const (
	DefaultKeyFormat    = "{cluster}/index.m3u8"
	DefaultCacheControl = "max-age=10"
	// HashMetadata is the user metadata key of a written master: the hash of its content.
	HashMetadata = "cvs-master-sha256"
	contentType  = "application/vnd.apple.mpegurl"
)

// Config configures a Service.
type Config struct {
	Store   Store
	Fetcher Fetcher
	// Targets are every region's master playlist bucket; the merged master goes to all.
	Targets []Target
	// CloudFront and DistributionID name the master distribution to invalidate; with an empty
	// DistributionID nothing is invalidated (a local run).
	CloudFront     cdn.Invalidator
	DistributionID string
	// KeyFormat is the object key of a cluster's master, "{cluster}" replaced (default
	// DefaultKeyFormat).
	KeyFormat string
	// CacheControl of the written master (default DefaultCacheControl).
	CacheControl string
	// SteeringURI, when set and a request names none, adds content steering; "{cluster}" is
	// replaced.
	SteeringURI string
	Now         func() time.Time // nil: time.Now
	Logger      *slog.Logger     // nil: slog.Default()
}

// Service regenerates merged masters.
type Service struct {
	c   Config
	log *slog.Logger
}

// New checks c and returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Fetcher == nil || len(c.Targets) == 0 {
		return nil, errors.New("mastermerge: store, fetcher and at least one target bucket are required")
	}
	for _, t := range c.Targets {
		if t.S3 == nil || t.Bucket == "" || t.Region == "" {
			return nil, fmt.Errorf("mastermerge: target %+v needs a region, a bucket and a client", t)
		}
	}
	if c.DistributionID != "" && c.CloudFront == nil {
		return nil, errors.New("mastermerge: a distribution to invalidate needs a CloudFront invalidator")
	}
	c.KeyFormat = cmp.Or(c.KeyFormat, DefaultKeyFormat)
	if !strings.Contains(c.KeyFormat, "{cluster}") || strings.HasPrefix(c.KeyFormat, "/") {
		return nil, fmt.Errorf("mastermerge: key format %q must contain {cluster} and not start with /", c.KeyFormat)
	}
	c.CacheControl = cmp.Or(c.CacheControl, DefaultCacheControl)
	if c.Now == nil {
		c.Now = time.Now
	}
	s := &Service{c: c, log: c.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

var clusterRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Regenerate fetches every instance's master, merges them and writes the result to every
// target bucket, then invalidates it. Buckets that already hold the same master are not
// rewritten, and when none changed nothing is invalidated.
func (s *Service) Regenerate(ctx context.Context, req regen.Request) (*regen.Result, error) {
	res := &regen.Result{Cluster: req.Cluster, Sources: []regen.SourceReport{}}
	fail := func(kind regen.ErrorKind, format string, args ...any) (*regen.Result, error) {
		res.ErrorKind, res.Error = kind, fmt.Sprintf(format, args...)
		s.log.ErrorContext(ctx, "mastermerge: failed; the previous master stays", "cluster", req.Cluster, "kind", kind, "err", res.Error)
		return res, &regen.Error{Kind: kind, Message: res.Error, Result: res}
	}
	if !clusterRE.MatchString(req.Cluster) {
		return fail(regen.KindInvalid, "cluster %q is not a cluster name", clip(req.Cluster))
	}
	res.Key = strings.ReplaceAll(s.c.KeyFormat, "{cluster}", req.Cluster)
	steering := req.SteeringURI
	if steering == "" && s.c.SteeringURI != "" {
		steering = strings.ReplaceAll(s.c.SteeringURI, "{cluster}", req.Cluster)
	}
	if steering != "" {
		if u, err := url.Parse(steering); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fail(regen.KindInvalid, "steering_uri %q is not an absolute http(s) URL", clip(steering))
		}
	}
	insts, err := s.c.Store.Instances(ctx, req.Cluster)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, fmt.Errorf("instances of %s: %w", req.Cluster, err)
	}
	if len(insts) == 0 {
		return fail(regen.KindNotFound, "cluster %q has no instances", req.Cluster)
	}
	slices.SortFunc(insts, func(a, b state.Instance) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Domain, b.Domain))
	})

	sources, warnings := s.fetch(ctx, insts, res)
	var failed []string
	for _, r := range res.Sources {
		if r.Error != "" {
			failed = append(failed, fmt.Sprintf("%s (origin %s): %s", r.Name, r.Origin, r.Error))
		}
	}
	if len(failed) > 0 {
		return fail(regen.KindSource, "could not fetch %d of %d regional masters, nothing written: %s", len(failed), len(insts), strings.Join(failed, "; "))
	}
	merged, err := hls.Merge(sources, hls.MergeOptions{SteeringURI: steering})
	if err != nil {
		var se *hls.MergeSourceError
		if errors.As(err, &se) {
			for i := range res.Sources {
				if res.Sources[i].Name == se.Source {
					res.Sources[i].Error = se.Err.Error()
				}
			}
		}
		return fail(regen.KindSource, "merge failed, nothing written: %v", err)
	}
	res.Warnings = warnings
	for _, w := range merged.Warnings {
		res.Warnings = append(res.Warnings, w.String())
	}
	res.Variants, res.VariantGroups, res.IFrames, res.Renditions = merged.Variants, merged.VariantGroups, merged.IFrames, merged.Renditions
	sum := sha256.Sum256(merged.Playlist)
	res.SHA256 = hex.EncodeToString(sum[:])

	s.write(ctx, res, merged.Playlist)
	var writeErrs []string
	for _, t := range res.Targets {
		if t.Error != "" {
			writeErrs = append(writeErrs, fmt.Sprintf("%s (s3://%s): %s", t.Region, t.Bucket, t.Error))
		}
	}
	if res.Written && s.c.DistributionID != "" {
		id, err := s.invalidate(ctx, res.Key)
		if err != nil {
			writeErrs = append(writeErrs, fmt.Sprintf("invalidation of /%s on %s: %v", res.Key, s.c.DistributionID, err))
		}
		res.InvalidationID = id
	}
	if len(writeErrs) > 0 {
		return fail(regen.KindWrite, "master written only in part: %s", strings.Join(writeErrs, "; "))
	}
	s.log.InfoContext(ctx, "mastermerge: done", "cluster", req.Cluster, "key", res.Key, "written", res.Written,
		"sha256", res.SHA256, "invalidation", res.InvalidationID, "variants", res.Variants, "warnings", res.Warnings)
	return res, nil
}

// fetch reads every instance's master from its origin at once, and makes it the master viewers
// get through the distribution: relative URIs resolve against the distribution's master URL (or
// where an origin redirect led, mapped onto the distribution), and absolute URIs that name the
// origin are rewritten to the distribution (see viewerMap). The origin, not the distribution:
// the copilot answers 404 for a closed distribution, and a closed region must stay in the master.
// Failures are recorded in res.Sources; warnings come back in source order.
func (s *Service) fetch(ctx context.Context, insts []state.Instance, res *regen.Result) ([]hls.MergeSource, []string) {
	names := map[string]int{}
	res.Sources = make([]regen.SourceReport, len(insts))
	for i, in := range insts {
		name := cmp.Or(in.Region, "region")
		names[name]++
		if n := names[name]; n > 1 {
			name += "-" + strconv.Itoa(n) // two instances in one region stay two pathways
		}
		res.Sources[i] = regen.SourceReport{Name: name, Domain: in.Domain, URL: in.DistributionPlaylistURL, Origin: in.OriginPlaylistURL, Closed: !in.Open}
	}
	sources := make([]hls.MergeSource, len(insts))
	warnings := make([][]string, len(insts))
	var wg sync.WaitGroup
	for i := range insts {
		wg.Go(func() {
			r := &res.Sources[i]
			m, err := newViewerMap(r.Origin, r.URL)
			if err != nil {
				r.Error = err.Error()
				return
			}
			resp, err := s.c.Fetcher.Get(ctx, r.Origin)
			if tooLarge := (*origin.TooLargeError)(nil); errors.As(err, &tooLarge) {
				metric.TooLarge(s.log, s.c.Now(), r.Origin, tooLarge.Limit, "mastermerge: master over the size limit; the previous master stays")
			}
			if err != nil {
				r.Error = err.Error()
				return
			}
			r.Bytes = len(resp.Body)
			base := r.URL
			if resp.URL != r.Origin {
				// Relative URIs are relative to where the master really was.
				if mapped, _, ok := m.mapURI(resp.URL); ok {
					base = mapped
				} else {
					warnings[i] = append(warnings[i], fmt.Sprintf("%s: the origin redirected to %s, which the distribution does not serve by any known path; "+
						"relative URIs resolved against %s", r.Name, clip(resp.URL), r.URL))
				}
			}
			// Variables first (QUERYPARAM from where the master was read): a {$name} that holds
			// the origin's host must be mapped to the distribution like any other URI.
			expanded, err := hls.ExpandMasterVariables(resp.Body, resp.URL)
			if err != nil {
				r.Error = err.Error()
				return
			}
			body, w := viewerMaster(r.Name, expanded, m)
			warnings[i] = append(warnings[i], w...)
			sources[i] = hls.MergeSource{Name: r.Name, URL: base, Body: body}
		})
	}
	wg.Wait()
	var closed []string
	for _, r := range res.Sources {
		if r.Closed {
			closed = append(closed, r.Name)
		}
	}
	if len(closed) > 0 {
		s.log.InfoContext(ctx, "mastermerge: closed instances stay listed, read from their origins", "cluster", insts[0].Cluster, "closed", closed)
	}
	return sources, slices.Concat(warnings...)
}

// write puts the master into every target bucket that does not hold it yet.
func (s *Service) write(ctx context.Context, res *regen.Result, body []byte) {
	res.Targets = make([]regen.TargetReport, len(s.c.Targets))
	var wg sync.WaitGroup
	for i, t := range s.c.Targets {
		wg.Go(func() {
			r := regen.TargetReport{Region: t.Region, Bucket: t.Bucket}
			defer func() { res.Targets[i] = r }()
			head, err := t.S3.Head(ctx, t.Bucket, res.Key)
			switch {
			case err == nil && head.Metadata[HashMetadata] == res.SHA256:
				r.Unchanged = true
				return
			case err != nil && !errors.Is(err, blob.ErrNotFound):
				r.Error = err.Error()
				return
			}
			if _, err := t.S3.Put(ctx, t.Bucket, res.Key, body, blob.PutOptions{
				ContentType: contentType, CacheControl: s.c.CacheControl, Metadata: map[string]string{HashMetadata: res.SHA256},
			}); err != nil {
				r.Error = err.Error()
				return
			}
			r.Written = true
		})
	}
	wg.Wait()
	for _, t := range res.Targets {
		res.Written = res.Written || t.Written
	}
}

func (s *Service) invalidate(ctx context.Context, key string) (string, error) {
	return s.c.CloudFront.Invalidate(ctx, cdn.Invalidation{
		DistributionID:  s.c.DistributionID,
		Paths:           []string{"/" + key},
		CallerReference: fmt.Sprintf("cvs-master-%d", s.c.Now().UnixNano()),
	})
}

// clip keeps echoed input short.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// ParseTargets reads a comma-separated list of master bucket regional domain names
// (BUCKET.s3.REGION.amazonaws.com, what CloudFormation's RegionalDomainName gives), skipping
// empty entries, and gives each a client for its region.
func ParseTargets(list string, client func(region string) blob.Store) ([]Target, error) {
	var out []Target
	seen := map[string]bool{}
	for _, d := range strings.Split(list, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		bucket, rest, ok := strings.Cut(d, ".s3.")
		region, ok2 := strings.CutSuffix(rest, ".amazonaws.com")
		if !ok || !ok2 || bucket == "" || region == "" || strings.Contains(region, ".") {
			return nil, fmt.Errorf("master bucket %q is not BUCKET.s3.REGION.amazonaws.com", d)
		}
		if seen[bucket] {
			continue
		}
		seen[bucket] = true
		out = append(out, Target{Region: region, Bucket: bucket, S3: client(region)})
	}
	if len(out) == 0 {
		return nil, errors.New("no master bucket given")
	}
	return out, nil
}
