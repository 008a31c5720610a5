// Package encoderpair builds the master playlist of two encoders that write the same live stream
// to the primary/ and failover/ folders of one S3 bucket (seed 003): when either encoder uploads
// its master playlist, it writes one master that lists every variant, alternate rendition and
// I-frame variant of both as HLS redundant streams, losslessly (internal/hls does the merge).
package encoderpair

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/lambdaevent"
	"github.com/clustered-video-streams/cvs/internal/metric"
)

// Defaults for Config.
const (
	DefaultCacheControl = "max-age=5"
	// HashMetadata is the user metadata key (x-amz-meta-cvs-source-sha256) of the written master
	// that holds the hash of what it was merged from.
	HashMetadata = "cvs-source-sha256"
	// ContentType is what the merged master is served as (RFC 8216bis 4).
	ContentType = "application/vnd.apple.mpegurl"
	// formatVersion goes into the hash so that a change of this code rewrites every master once.
	formatVersion = "encoderpair/1"
	maxAttempts   = 3
)

// Layout says where the encoders' masters are and where the merged master goes. Sources are
// named by their folder: primary/index.m3u8 is the source "primary".
type Layout struct {
	PrimaryKey  string // for example primary/index.m3u8
	FailoverKey string // for example failover/index.m3u8
	OutputKey   string // for example index.m3u8
}

// Validate checks that the layout can be merged with relative URIs and that the output can never
// trigger a merge or be swept: the masters sit in two different folders below the output's
// folder, whose last segments (the sources' names) differ, and the output is in neither.
func (l Layout) Validate() error {
	outDir := dir(l.OutputKey)
	for _, k := range []struct{ name, key string }{{"primary", l.PrimaryKey}, {"failover", l.FailoverKey}, {"output", l.OutputKey}} {
		if k.key == "" || strings.HasSuffix(k.key, "/") || strings.HasPrefix(k.key, "/") {
			return fmt.Errorf("layout: %s key %q must be an object key, not empty or a folder", k.name, k.key)
		}
	}
	for _, k := range []string{l.PrimaryKey, l.FailoverKey} {
		d := dir(k)
		if d == outDir || !strings.HasPrefix(d, outDir) {
			return fmt.Errorf("layout: master %q must be in a folder below the output's folder %q", k, outDir)
		}
		if strings.HasPrefix(l.OutputKey, d) {
			return fmt.Errorf("layout: output %q must not be inside %q, where it would trigger a merge", l.OutputKey, d)
		}
		if err := hls.CheckMergeName(sourceName(k)); err != nil {
			return fmt.Errorf("layout: folder of %q: %w", k, err)
		}
	}
	if dir(l.PrimaryKey) == dir(l.FailoverKey) {
		return fmt.Errorf("layout: primary %q and failover %q must be in different folders", l.PrimaryKey, l.FailoverKey)
	}
	// The merge names each source by its folder's last segment and refuses a name used twice,
	// so such a layout would fail every merge.
	if p, f := sourceName(l.PrimaryKey), sourceName(l.FailoverKey); p == f {
		return fmt.Errorf("layout: primary folder %q and failover folder %q both name the source %q; their last segments must differ",
			dir(l.PrimaryKey), dir(l.FailoverKey), p)
	}
	return nil
}

// dir returns the folder of a key with its trailing slash, "" at the bucket root.
func dir(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i+1]
	}
	return ""
}

// sourceName names a master by its folder's last segment.
func sourceName(key string) string {
	return path.Base(path.Dir(key))
}

// Config configures a Handler.
type Config struct {
	S3     blob.Store
	Bucket string // the encoders' bucket; events about other buckets are ignored
	Layout Layout
	// CacheControl of the merged master; "" means DefaultCacheControl. Short, so a rewrite (the
	// failover master arriving) reaches players that load the master soon.
	CacheControl string
	// MaxBytes bounds a source master; 0 means hls.DefaultMaxBody.
	MaxBytes int64
	Logger   *slog.Logger // nil: slog.Default()
}

// Handler merges the two encoders' masters.
type Handler struct {
	c   Config
	log *slog.Logger
}

// New checks c and returns a Handler.
func New(c Config) (*Handler, error) {
	if c.S3 == nil || c.Bucket == "" {
		return nil, errors.New("encoderpair: S3 store and bucket are required")
	}
	if err := c.Layout.Validate(); err != nil {
		return nil, fmt.Errorf("encoderpair: %w", err)
	}
	if c.CacheControl == "" {
		c.CacheControl = DefaultCacheControl
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = hls.DefaultMaxBody
	}
	h := &Handler{c: c, log: c.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h, nil
}

// Outcome says what one merge did.
type Outcome struct {
	// Written is true when the merged master was (re)written.
	Written bool `json:"written"`
	// Reason says why not, or what was written: "merged", "unchanged", "no source master".
	Reason string `json:"reason"`
	// Sources names the masters merged, in order.
	Sources []string `json:"sources,omitempty"`
	// Hash is the hash of the sources, kept in the output's metadata.
	Hash string `json:"hash,omitempty"`
	// Counts from the merge (see hls.MergeResult).
	Variants      int      `json:"variants,omitempty"`
	VariantGroups int      `json:"variant_groups,omitempty"`
	IFrames       int      `json:"iframes,omitempty"`
	Renditions    int      `json:"renditions,omitempty"`
	Warnings      []string `json:"warnings,omitempty"`
}

// HandleEvent handles an S3 (or SNS-wrapped S3) notification: when it reports a new primary or
// failover master in the bucket, it merges once; other objects are ignored. A payload that is not
// such a notification is an error matching lambdaevent.ErrShape and changes nothing.
func (h *Handler) HandleEvent(ctx context.Context, payload []byte) (*Outcome, error) {
	objs, err := lambdaevent.S3Objects(payload)
	if err != nil {
		h.log.ErrorContext(ctx, "encoderpair: refused event", "err", err.Error())
		return nil, fmt.Errorf("encoderpair: %w", err)
	}
	var trigger *lambdaevent.Object
	for i, o := range objs {
		if o.Created() && o.Bucket == h.c.Bucket && (o.Key == h.c.Layout.PrimaryKey || o.Key == h.c.Layout.FailoverKey) {
			trigger = &objs[i]
			continue
		}
		h.log.InfoContext(ctx, "encoderpair: ignored object", "bucket", o.Bucket, "key", o.Key, "event", o.EventName)
	}
	if trigger == nil {
		return &Outcome{Reason: "no master in the event"}, nil
	}
	h.log.InfoContext(ctx, "encoderpair: master uploaded", "bucket", trigger.Bucket, "key", trigger.Key, "etag", trigger.ETag)
	return h.Merge(ctx)
}

// Merge reads both masters and writes the merged master when what it is merged from changed.
//
// A missing failover (or primary) master is not waited for: the other one is written alone, so
// viewers can start playing the moment one encoder runs; the missing master's upload triggers a
// rewrite with the redundant pairs. Writes are conditional on the output's ETag, so of two
// concurrent merges the one that read older masters cannot overwrite the newer result.
func (h *Handler) Merge(ctx context.Context) (*Outcome, error) {
	for attempt := 1; ; attempt++ {
		out, err := h.mergeOnce(ctx)
		if errors.Is(err, errConflict) && attempt < maxAttempts {
			h.log.InfoContext(ctx, "encoderpair: output changed while merging; merging again", "attempt", attempt)
			continue
		}
		if err != nil {
			h.log.ErrorContext(ctx, "encoderpair: merge failed; the previous master stays", "err", err.Error())
			return nil, err
		}
		h.log.InfoContext(ctx, "encoderpair: "+out.Reason, "written", out.Written, "output", h.c.Layout.OutputKey,
			"sources", out.Sources, "variants", out.Variants, "groups", out.VariantGroups, "warnings", out.Warnings)
		return out, nil
	}
}

// errConflict: the output changed between reading it and writing it.
var errConflict = errors.New("output changed concurrently")

func (h *Handler) mergeOnce(ctx context.Context) (*Outcome, error) {
	l := h.c.Layout
	outDir := dir(l.OutputKey)
	var sources []hls.MergeSource
	var missing []string
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%s\x00", formatVersion, l.OutputKey)
	for _, key := range []string{l.PrimaryKey, l.FailoverKey} {
		body, err := h.get(ctx, key)
		if err != nil {
			return nil, err
		}
		if body == nil {
			missing = append(missing, key)
			continue
		}
		rel := strings.TrimPrefix(key, outDir)
		sources = append(sources, hls.MergeSource{Name: sourceName(key), URL: rel, Body: body})
		fmt.Fprintf(sum, "%s\x00%d\x00", rel, len(body))
		sum.Write(body)
	}
	if len(sources) == 0 {
		return &Outcome{Reason: "no source master"}, nil
	}
	hash := hex.EncodeToString(sum.Sum(nil))
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.Name
	}

	prevETag, prevHash, err := h.head(ctx, l.OutputKey)
	if err != nil {
		return nil, err
	}
	if prevHash == hash {
		return &Outcome{Reason: "unchanged", Sources: names, Hash: hash}, nil
	}
	res, err := hls.Merge(sources, hls.MergeOptions{Relative: true})
	if err != nil {
		return nil, fmt.Errorf("merge %s: %w", strings.Join(names, " and "), err)
	}
	// The merged master must read back as a master before it replaces a working one.
	if _, err := hls.ParseMaster(res.Playlist); err != nil {
		return nil, fmt.Errorf("merged master does not parse: %w", err)
	}
	out := &Outcome{Written: true, Reason: "merged", Sources: names, Hash: hash, Variants: res.Variants,
		VariantGroups: res.VariantGroups, IFrames: res.IFrames, Renditions: res.Renditions}
	for _, w := range res.Warnings {
		out.Warnings = append(out.Warnings, w.String())
	}
	for _, m := range missing {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s is missing: wrote the other encoder's variants alone; its upload rewrites the master with redundant pairs", m))
	}
	o := blob.PutOptions{ContentType: ContentType, CacheControl: h.c.CacheControl, Metadata: map[string]string{HashMetadata: hash}}
	if prevETag == "" {
		o.IfAbsent = true
	} else {
		o.IfMatch = prevETag
	}
	if _, err := h.c.S3.Put(ctx, h.c.Bucket, l.OutputKey, res.Playlist, o); err != nil {
		if errors.Is(err, blob.ErrConditionFailed) {
			return nil, errConflict
		}
		return nil, err
	}
	return out, nil
}

// get reads a master, or returns nil when it does not exist.
func (h *Handler) get(ctx context.Context, key string) ([]byte, error) {
	_, body, err := h.c.S3.Get(ctx, h.c.Bucket, key, blob.GetOptions{MaxBytes: h.c.MaxBytes})
	switch {
	case errors.Is(err, blob.ErrNotFound):
		return nil, nil
	case errors.Is(err, blob.ErrTooLarge):
		metric.TooLarge(h.log, time.Now(), "s3://"+h.c.Bucket+"/"+key, h.c.MaxBytes, "encoderpair: master over the size limit; the previous merged master stays")
	}
	return body, err
}

// head returns the output's ETag and source hash, both "" when it does not exist.
func (h *Handler) head(ctx context.Context, key string) (etag, hash string, err error) {
	obj, err := h.c.S3.Head(ctx, h.c.Bucket, key)
	if errors.Is(err, blob.ErrNotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	return obj.ETag, obj.Metadata[HashMetadata], nil
}
