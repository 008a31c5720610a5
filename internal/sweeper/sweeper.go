// Package sweeper deletes stale live media playlists from a versioned S3 origin so that players
// get 404 and switch to the redundant copy, but never the last live copy of a rendition (README
// "S3 playlist functions").
package sweeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/lambdaevent"
	"github.com/clustered-video-streams/cvs/internal/metric"
	"github.com/clustered-video-streams/cvs/internal/queue"
	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// Defaults and limits.
const (
	// MaxDelay is SQS's largest DelaySeconds; longer waits are sent again when they arrive early.
	MaxDelay = 900 * time.Second
	// lastModifiedResolution: S3's LastModified has whole seconds, so an upload may have finished
	// up to this much after the time it reports; every deadline adds it, never to delete early.
	lastModifiedResolution = time.Second
	DefaultSweepMinAge     = 30 * time.Second
	DefaultVersioningTTL   = 5 * time.Minute
	DefaultMaxSweep        = 5000
	// DefaultRecheckFor is how long past its deadline a stale playlist kept as the last live
	// copy is checked again every 1.5 x target duration; after that the backstop sweep looks.
	DefaultRecheckFor = 15 * time.Minute
)

// Config configures a Handler.
type Config struct {
	// S3 holds the bucket; Queue takes the delayed checks.
	S3    blob.Store
	Queue queue.Sender
	// Bucket is the one bucket swept; events about others are ignored.
	Bucket string
	// Prefixes are the folders swept, each ending in '/', for example primary/ and failover/:
	// at least two, none inside another. The same name under each is one rendition's copies.
	Prefixes []string
	// Multiplier times the playlist's target duration is how long it may stay unchanged; 0
	// means hls.DefaultMultiplier. It must be at least 1.
	Multiplier float64
	// RecheckFor is how long past its deadline a kept last copy is checked again (0: default).
	RecheckFor time.Duration
	// DryRun logs what would be deleted and deletes nothing.
	DryRun bool
	// SweepMinAge: the backstop sweep reads only playlists unchanged for longer (0: default).
	SweepMinAge time.Duration
	// MaxSweep bounds how many playlists one sweep reads (0: default).
	MaxSweep int
	// VersioningTTL is how long a bucket's versioning status is trusted (0: default).
	VersioningTTL time.Duration
	// MaxBytes bounds a playlist read (0: hls.DefaultMaxBody).
	MaxBytes int64
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: slog.Default()
}

// Handler schedules, checks and sweeps.
type Handler struct {
	c   Config
	log *slog.Logger

	mu          sync.Mutex
	versionedAt time.Time // when versioning was last seen Enabled
}

// New checks c and returns a Handler.
func New(c Config) (*Handler, error) {
	switch {
	case c.S3 == nil || c.Queue == nil || c.Bucket == "":
		return nil, errors.New("sweeper: S3 store, check queue and bucket are required")
	case len(c.Prefixes) < 2:
		return nil, errors.New("sweeper: at least two prefixes are required: a stale playlist is deleted only while another prefix holds a fresh copy")
	case c.Multiplier != 0 && (c.Multiplier < 1 || math.IsNaN(c.Multiplier) || c.Multiplier > 10):
		return nil, fmt.Errorf("sweeper: multiplier %v must be between 1 and 10", c.Multiplier)
	}
	for i, p := range c.Prefixes {
		if p == "" || !strings.HasSuffix(p, "/") || strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("sweeper: prefix %q must be a folder such as primary/", p)
		}
		for _, q := range c.Prefixes[:i] {
			if strings.HasPrefix(p, q) || strings.HasPrefix(q, p) {
				return nil, fmt.Errorf("sweeper: prefixes %q and %q overlap, so a playlist's copies under each are ambiguous", q, p)
			}
		}
	}
	if c.Multiplier == 0 {
		c.Multiplier = hls.DefaultMultiplier
	}
	if c.SweepMinAge <= 0 {
		c.SweepMinAge = DefaultSweepMinAge
	}
	if c.MaxSweep <= 0 {
		c.MaxSweep = DefaultMaxSweep
	}
	if c.RecheckFor <= 0 {
		c.RecheckFor = DefaultRecheckFor
	}
	if c.VersioningTTL <= 0 {
		c.VersioningTTL = DefaultVersioningTTL
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = hls.DefaultMaxBody
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	h := &Handler{c: c, log: c.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h, nil
}

// Action is what the sweeper did with one playlist.
type Action string

// Actions.
const (
	Scheduled   Action = "scheduled"    // an upload: its check is queued
	Requeued    Action = "requeued"     // a check that arrived before its deadline, queued again
	Ignored     Action = "ignored"      // not a media playlist under the prefixes (segment, other bucket, master, ...)
	Ended       Action = "ended"        // #EXT-X-ENDLIST: never stale
	Malformed   Action = "malformed"    // not a playlist: logged, left alone
	Fresh       Action = "fresh"        // changed since, or not yet past its deadline
	Gone        Action = "gone"         // no longer there
	Deleted     Action = "deleted"      // stale: a delete marker now hides it
	WouldDel    Action = "would delete" // stale, in dry-run mode
	Refused     Action = "refused"      // stale, but the bucket is not versioned
	Kept        Action = "kept"         // stale, but no other prefix has a fresh copy: the last live copy stays
	Undecodable Action = "bad message"  // a check message that does not decode: dropped
)

// Decision is the outcome for one playlist.
type Decision struct {
	Key    string `json:"key"`
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
	// Overdue is how long after the deadline a deletion happened, by the handler's clock.
	Overdue time.Duration `json:"overdue,omitempty"`
	// Delay is the DelaySeconds of a scheduled or requeued check.
	Delay time.Duration `json:"delay,omitempty"`
}

// Check is the body of a delayed check message: one version of one playlist and when it goes
// stale if nothing replaces it.
type Check struct {
	Bucket           string    `json:"bucket"`
	Key              string    `json:"key"`
	VersionID        string    `json:"version_id,omitempty"`
	ETag             string    `json:"etag"`
	LastModified     time.Time `json:"last_modified"`
	TargetDurationMS int64     `json:"target_duration_ms"`
	Deadline         time.Time `json:"deadline"`
	// RecheckAt, when set, is the next look at a stale playlist kept as the last live copy.
	RecheckAt time.Time `json:"recheck_at,omitzero"`
}

// due is when the check may run.
func (c Check) due() time.Time {
	if c.RecheckAt.After(c.Deadline) {
		return c.RecheckAt
	}
	return c.Deadline
}

// UnversionedBucketError refuses a deletion from a bucket without versioning: there a deletion
// would lose the playlist for good.
type UnversionedBucketError struct {
	Bucket string
	Status string // what GetBucketVersioning said: "", "Suspended"
}

func (e *UnversionedBucketError) Error() string {
	status := e.Status
	if status == "" {
		status = "never enabled"
	}
	return fmt.Sprintf("refused to delete from s3://%s: versioning is %s; the sweeper deletes only where a delete marker keeps the old version", e.Bucket, status)
}

// Invoke runs the handler on any of its Lambda events: an S3 (or SNS-wrapped S3) notification
// schedules checks, an SQS event runs them (answering partial batch failures), an EventBridge
// scheduled event runs the backstop sweep.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	env, err := lambdaevent.Classify(payload)
	if err != nil {
		h.log.ErrorContext(ctx, "sweeper: refused event", "err", err.Error())
		return nil, fmt.Errorf("sweeper: %w", err)
	}
	switch env.Kind {
	case lambdaevent.EventBridge:
		return h.Sweep(ctx)
	case lambdaevent.SQS:
		ev, err := lambdaevent.SQSBatch(payload)
		if err != nil {
			return nil, fmt.Errorf("sweeper: %w", err)
		}
		resp, _ := h.HandleChecks(ctx, ev)
		return resp, nil
	default:
		return h.HandleUploads(ctx, payload)
	}
}

// HandleUploads schedules a check for every media playlist upload in an S3 (or SNS-wrapped S3)
// notification. An error is returned only for a payload of the wrong shape or a failure to read
// S3 or send to the queue (the event is then retried).
func (h *Handler) HandleUploads(ctx context.Context, payload []byte) ([]Decision, error) {
	objs, err := lambdaevent.S3Objects(payload)
	if err != nil {
		h.log.ErrorContext(ctx, "sweeper: refused event", "err", err.Error())
		return nil, fmt.Errorf("sweeper: %w", err)
	}
	var out []Decision
	var errs []error
	for _, o := range objs {
		if !o.Created() || !h.watched(o.Bucket, o.Key) {
			out = append(out, h.note(ctx, Decision{Key: o.Key, Action: Ignored, Reason: "not a playlist upload under the swept prefixes"}))
			continue
		}
		d, err := h.schedule(ctx, o.Key, o.VersionID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

// watched reports whether a key is a playlist the sweeper looks after.
func (h *Handler) watched(bucket, key string) bool {
	if bucket != h.c.Bucket || !strings.HasSuffix(strings.ToLower(key), ".m3u8") {
		return false
	}
	for _, p := range h.c.Prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// playlist is one version of a playlist as read.
type playlist struct {
	versionID, etag string
	lastModified    time.Time
	media           *hls.Media
}

// read reads and classifies one version of a playlist (the current one when versionID is "").
// A decision is returned when it is not a live media playlist.
func (h *Handler) read(ctx context.Context, key, versionID string) (*playlist, *Decision, error) {
	obj, body, err := h.c.S3.Get(ctx, h.c.Bucket, key, blob.GetOptions{VersionID: versionID, MaxBytes: h.c.MaxBytes})
	switch {
	case errors.Is(err, blob.ErrNotFound):
		return nil, &Decision{Key: key, Action: Gone, Reason: "no longer in the bucket"}, nil
	case errors.Is(err, blob.ErrTooLarge):
		metric.TooLarge(h.log, h.c.Now(), "s3://"+h.c.Bucket+"/"+key, h.c.MaxBytes, "sweeper: playlist over the size limit left unjudged (never deleted)")
		return nil, &Decision{Key: key, Action: Malformed, Reason: err.Error() + ": a configuration error (MAX_PLAYLIST_BYTES), never deleted"}, nil
	case err != nil:
		return nil, nil, err
	}
	p := &playlist{versionID: obj.VersionID, etag: strings.Trim(obj.ETag, `"`), lastModified: obj.LastModified}
	media, err := hls.ParseMedia(body)
	if err != nil {
		if _, merr := hls.ParseMaster(body); merr == nil {
			return nil, &Decision{Key: key, Action: Ignored, Reason: "master playlist: never swept"}, nil
		}
		return nil, &Decision{Key: key, Action: Malformed, Reason: err.Error()}, nil
	}
	if media.Ended {
		return nil, &Decision{Key: key, Action: Ended, Reason: "#EXT-X-ENDLIST: the stream ended, not failed"}, nil
	}
	p.media = media
	return p, nil, nil
}

// deadline is when a playlist last modified at lm with target duration td goes stale.
func (h *Handler) deadline(lm time.Time, td time.Duration) time.Time {
	return lm.Add(lastModifiedResolution + hls.StaleAfter(h.c.Multiplier, td))
}

func (h *Handler) schedule(ctx context.Context, key, versionID string) (Decision, error) {
	p, d, err := h.read(ctx, key, versionID)
	if err != nil {
		return Decision{}, err
	}
	if d != nil {
		return h.note(ctx, *d), nil
	}
	c := Check{Bucket: h.c.Bucket, Key: key, VersionID: p.versionID, ETag: p.etag, LastModified: p.lastModified,
		TargetDurationMS: p.media.JudgedTargetDuration.Milliseconds(), Deadline: h.deadline(p.lastModified, p.media.JudgedTargetDuration)}
	return h.send(ctx, c, Scheduled)
}

// send queues a check for when it is due, or for MaxDelay from now when that is sooner.
func (h *Handler) send(ctx context.Context, c Check, action Action) (Decision, error) {
	delay, err := h.enqueue(ctx, c)
	if err != nil {
		return Decision{}, err
	}
	return h.note(ctx, Decision{Key: c.Key, Action: action, Reason: "check at " + c.due().UTC().Format(time.RFC3339), Delay: delay}), nil
}

func (h *Handler) enqueue(ctx context.Context, c Check) (time.Duration, error) {
	delay := delaySeconds(c.due().Sub(h.c.Now()))
	body, err := json.Marshal(c)
	if err != nil {
		return 0, fmt.Errorf("encode check of %s: %w", c.Key, err)
	}
	if _, err := h.c.Queue.Send(ctx, string(body), time.Duration(delay)*time.Second); err != nil {
		return 0, fmt.Errorf("queue the check of s3://%s/%s: %w", c.Bucket, c.Key, err)
	}
	return time.Duration(delay) * time.Second, nil
}

// delaySeconds rounds a wait up to whole seconds (a check must never come early) within SQS's
// 0..900.
func delaySeconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	if d >= MaxDelay {
		return int32(MaxDelay / time.Second)
	}
	return int32((d + time.Second - 1) / time.Second)
}

// HandleChecks runs the checks of an SQS batch. Messages whose check failed for a reason that
// may pass (S3 errors, an unversioned bucket an operator may fix) are reported as batch item
// failures, so SQS delivers them again and finally moves them to the dead-letter queue.
func (h *Handler) HandleChecks(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, []Decision) {
	var resp events.SQSEventResponse
	var out []Decision
	for _, m := range ev.Records {
		var c Check
		if err := strictjson.Decode([]byte(m.Body), &c); err != nil || c.Key == "" || c.Bucket == "" || c.Deadline.IsZero() {
			out = append(out, h.note(ctx, Decision{Key: c.Key, Action: Undecodable, Reason: fmt.Sprintf("message %s is not a check: %v", m.MessageId, err)}))
			continue
		}
		d, err := h.check(ctx, c)
		if err != nil {
			h.log.ErrorContext(ctx, "sweeper: check failed; SQS will retry it", "key", c.Key, "message_id", m.MessageId, "err", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			var unversioned *UnversionedBucketError
			if errors.As(err, &unversioned) {
				out = append(out, Decision{Key: c.Key, Action: Refused, Reason: err.Error()})
			}
			continue
		}
		out = append(out, d)
	}
	return resp, out
}

// check decides one check message.
func (h *Handler) check(ctx context.Context, c Check) (Decision, error) {
	if c.Bucket != h.c.Bucket || !h.watched(c.Bucket, c.Key) {
		return h.note(ctx, Decision{Key: c.Key, Action: Ignored, Reason: "not a playlist under the swept prefixes of " + h.c.Bucket}), nil
	}
	if now := h.c.Now(); now.Before(c.due()) {
		return h.send(ctx, c, Requeued)
	}
	head, err := h.c.S3.Head(ctx, c.Bucket, c.Key)
	if errors.Is(err, blob.ErrNotFound) {
		return h.note(ctx, Decision{Key: c.Key, Action: Gone, Reason: "no longer in the bucket"}), nil
	}
	if err != nil {
		return Decision{}, err
	}
	cur := playlist{versionID: head.VersionID, etag: strings.Trim(head.ETag, `"`), lastModified: head.LastModified}
	if changed(c, cur) {
		return h.note(ctx, Decision{Key: c.Key, Action: Fresh, Reason: "replaced since the upload this check is for"}), nil
	}
	// The version checked: how far it got tells whether a sibling is ahead of it.
	p, d, err := h.read(ctx, c.Key, c.VersionID)
	if err != nil {
		return Decision{}, err
	}
	if d != nil {
		return h.note(ctx, *d), nil
	}
	dec, err := h.remove(ctx, c, p.media)
	if err != nil || dec.Action != Kept {
		return dec, err
	}
	return h.recheck(ctx, c, dec)
}

// recheck queues another look at a playlist kept as the last live copy, 1.5 x its target
// duration on (at least a second), so that it goes soon after another copy comes back; past
// RecheckFor it leaves it to the backstop sweep.
func (h *Handler) recheck(ctx context.Context, c Check, d Decision) (Decision, error) {
	now := h.c.Now()
	if !now.Before(c.Deadline.Add(h.c.RecheckFor)) {
		d.Reason += fmt.Sprintf("; stale for over %s, so the backstop sweep looks again", h.c.RecheckFor)
		return h.note(ctx, d), nil
	}
	first := c.RecheckAt.IsZero()
	every := max(hls.StaleAfter(h.c.Multiplier, time.Duration(c.TargetDurationMS)*time.Millisecond), time.Second)
	c.RecheckAt = now.Add(every)
	delay, err := h.enqueue(ctx, c)
	if err != nil {
		return Decision{}, err
	}
	d.Delay = delay
	if !first {
		// Warned at the first check; each recheck after it is routine.
		return h.noteAt(ctx, slog.LevelInfo, d), nil
	}
	return h.note(ctx, d), nil
}

// changed reports whether the current object is another upload than the one checked.
func changed(c Check, cur playlist) bool {
	if c.VersionID != "" && cur.versionID != "" && c.VersionID != cur.versionID {
		return true
	}
	return c.ETag != cur.etag || !c.LastModified.Equal(cur.lastModified)
}

// remove deletes a stale playlist, stale being the version checked: only while another prefix
// holds a fresh copy that is ahead of it (see liveCopy), only from a versioned bucket, and only if
// it is still the version checked (If-Match on its ETag), so a fresh upload racing the deletion
// survives. Without such a copy elsewhere the decision is Kept and nothing is deleted. remove
// does not log Kept: the caller does.
func (h *Handler) remove(ctx context.Context, c Check, stale *hls.Media) (Decision, error) {
	overdue := h.c.Now().Sub(c.Deadline)
	reason := fmt.Sprintf("unchanged since %s, past %s (%.1f x target duration %s)", c.LastModified.UTC().Format(time.RFC3339),
		c.Deadline.UTC().Format(time.RFC3339), h.c.Multiplier, time.Duration(c.TargetDurationMS)*time.Millisecond)
	live, why, err := h.liveCopy(ctx, c.Key, stale)
	if err != nil {
		return Decision{}, err
	}
	if live == "" {
		return Decision{Key: c.Key, Action: Kept, Reason: why + "; " + reason}, nil
	}
	reason += "; players switch to " + live
	if err := h.versioned(ctx, c.Bucket); err != nil {
		return Decision{}, err
	}
	if h.c.DryRun {
		return h.note(ctx, Decision{Key: c.Key, Action: WouldDel, Reason: reason, Overdue: overdue}), nil
	}
	out, err := h.c.S3.Delete(ctx, c.Bucket, c.Key, blob.DeleteOptions{IfMatch: c.ETag})
	switch {
	case errors.Is(err, blob.ErrConditionFailed):
		return h.note(ctx, Decision{Key: c.Key, Action: Fresh, Reason: "replaced while being deleted"}), nil
	case errors.Is(err, blob.ErrNotFound):
		return h.note(ctx, Decision{Key: c.Key, Action: Gone, Reason: "no longer in the bucket"}), nil
	case err != nil:
		return Decision{}, err
	}
	d := Decision{Key: c.Key, Action: Deleted, Reason: reason, Overdue: h.c.Now().Sub(c.Deadline)}
	h.log.InfoContext(ctx, "sweeper: deleted stale playlist", "bucket", c.Bucket, "key", c.Key, "version_id", c.VersionID,
		"delete_marker", out.VersionID, "overdue_ms", d.Overdue.Milliseconds(), "reason", reason)
	return d, nil
}

// versioned returns *UnversionedBucketError unless the bucket's versioning is Enabled. An
// Enabled answer is trusted for VersioningTTL.
func (h *Handler) versioned(ctx context.Context, bucket string) error {
	now := h.c.Now()
	h.mu.Lock()
	fresh := !h.versionedAt.IsZero() && now.Sub(h.versionedAt) < h.c.VersioningTTL
	h.mu.Unlock()
	if fresh {
		return nil
	}
	status, err := h.c.S3.Versioning(ctx, bucket)
	if err != nil {
		return err
	}
	if status != blob.Enabled {
		return &UnversionedBucketError{Bucket: bucket, Status: string(status)}
	}
	h.mu.Lock()
	h.versionedAt = now
	h.mu.Unlock()
	return nil
}

// SweepResult sums up a backstop sweep.
type SweepResult struct {
	Examined  int        `json:"examined"`
	Decisions []Decision `json:"decisions"`
	Truncated bool       `json:"truncated,omitempty"`
}

// Sweep is the backstop for missed upload events: it reads every playlist under the prefixes
// unchanged for longer than SweepMinAge and deletes the stale ones, exactly as a check would.
func (h *Handler) Sweep(ctx context.Context) (*SweepResult, error) {
	res := &SweepResult{}
	var errs []error
	now := h.c.Now()
	for _, prefix := range h.c.Prefixes {
		for o, err := range h.c.S3.List(ctx, h.c.Bucket, prefix) {
			if err != nil {
				return res, fmt.Errorf("sweep: %w", err)
			}
			if !h.watched(h.c.Bucket, o.Key) || now.Sub(o.LastModified) < h.c.SweepMinAge {
				continue
			}
			if res.Examined == h.c.MaxSweep {
				res.Truncated = true
				h.log.WarnContext(ctx, "sweeper: sweep stopped at its limit", "max", h.c.MaxSweep)
				return res, errors.Join(errs...)
			}
			res.Examined++
			d, err := h.sweepOne(ctx, o.Key)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			res.Decisions = append(res.Decisions, d)
		}
	}
	h.log.InfoContext(ctx, "sweeper: sweep done", "examined", res.Examined, "decisions", len(res.Decisions), "errors", len(errs))
	return res, errors.Join(errs...)
}

// liveCopy looks for a copy of key under the other prefixes that players gain something by
// switching to: the same name, a live media playlist (no #EXT-X-ENDLIST) not yet past its own
// deadline (LastModified + the margin + the multiplier times its own target duration), the very
// rule that makes key stale, and ahead of stale (see ahead). It returns the first such copy, or
// "" and why none will do. A read that fails is an error: uncertainty never deletes.
//
// An ended copy does not count: players switched to it would play to its end and stop for good,
// while players kept on the stalled copy resume when its encoder returns. Nor does a copy that
// is fresh by upload time only: an encoder stalled a second later than the other looks fresh
// for that second, and deleting the first copy would leave players on a stall anyway.
func (h *Handler) liveCopy(ctx context.Context, key string, stale *hls.Media) (string, string, error) {
	var rest string
	for _, p := range h.c.Prefixes {
		if r, ok := strings.CutPrefix(key, p); ok {
			rest = r
		}
	}
	var notes []string
	for _, p := range h.c.Prefixes {
		other := p + rest
		if other == key {
			continue
		}
		pl, d, err := h.read(ctx, other, "")
		if err != nil {
			return "", "", fmt.Errorf("read the other copy %s: %w", other, err)
		}
		var note string
		switch {
		case d != nil && d.Action == Gone:
			note = other + " is missing"
		case d != nil && d.Action == Ended:
			note = other + " has ended (#EXT-X-ENDLIST), so players switched to it would stop"
		case d != nil:
			note = other + " is not a media playlist (" + d.Reason + ")"
		case !h.c.Now().Before(h.deadline(pl.lastModified, pl.media.JudgedTargetDuration)):
			// The exact complement of a fresh copy: two checks at one instant cannot both
			// find the other fresh, so they never delete both.
			note = other + " is stale too"
		case !ahead(pl.media, stale):
			note = fmt.Sprintf("%s is not ahead (its newest segment with media is %s, this copy lists up to %d), so players switched to it would gain nothing",
				other, edgeName(pl.media), next(stale)-1)
		default:
			return other, "", nil
		}
		notes = append(notes, note)
	}
	if len(notes) == 1 {
		return "", "sibling " + notes[0] + ": keeping the last copy", nil
	}
	return "", "no other prefix has a fresh copy (" + strings.Join(notes, "; ") + "): keeping the last copy", nil
}

// next is the media sequence number of the segment after the newest one m lists.
func next(m *hls.Media) uint64 {
	return m.MediaSequence + m.Skipped + uint64(m.Segments)
}

// ahead reports whether sibling has a segment with media that stale does not reach: its newest
// segment with media is numbered at or past the one after stale's newest. The order is strict,
// so two copies are never both ahead of each other and never both deleted. A sibling whose
// encoder restarted with a reset media sequence is behind, never ahead: a lower number is not
// newer media to play.
func ahead(sibling, stale *hls.Media) bool {
	return sibling.EdgeURI != "" && sibling.EdgeSequence >= next(stale)
}

// edgeName says which segment is m's newest with media, for a reason.
func edgeName(m *hls.Media) string {
	if m.EdgeURI == "" {
		return "none (every segment is a gap)"
	}
	return fmt.Sprint(m.EdgeSequence)
}

func (h *Handler) sweepOne(ctx context.Context, key string) (Decision, error) {
	p, d, err := h.read(ctx, key, "")
	if err != nil {
		return Decision{}, err
	}
	if d != nil {
		return h.note(ctx, *d), nil
	}
	c := Check{Bucket: h.c.Bucket, Key: key, VersionID: p.versionID, ETag: p.etag, LastModified: p.lastModified,
		TargetDurationMS: p.media.JudgedTargetDuration.Milliseconds(), Deadline: h.deadline(p.lastModified, p.media.JudgedTargetDuration)}
	if h.c.Now().Before(c.Deadline) {
		return h.note(ctx, Decision{Key: key, Action: Fresh, Reason: "not past its deadline " + c.Deadline.UTC().Format(time.RFC3339)}), nil
	}
	out, err := h.remove(ctx, c, p.media)
	if err == nil && out.Action == Kept {
		h.note(ctx, out)
	}
	return out, err
}

// note logs a decision and returns it.
func (h *Handler) note(ctx context.Context, d Decision) Decision {
	level := slog.LevelInfo
	switch d.Action {
	case Malformed, Undecodable, Kept:
		level = slog.LevelWarn
	case Ignored, Scheduled, Fresh:
		level = slog.LevelDebug
	}
	return h.noteAt(ctx, level, d)
}

// noteAt logs a decision at the given level and returns it.
func (h *Handler) noteAt(ctx context.Context, level slog.Level, d Decision) Decision {
	h.log.Log(ctx, level, "sweeper: "+string(d.Action), "bucket", h.c.Bucket, "key", d.Key, "reason", d.Reason,
		"delay_s", d.Delay.Seconds(), "dry_run", h.c.DryRun)
	return d
}
