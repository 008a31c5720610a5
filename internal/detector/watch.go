package detector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/metric"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// masterMedia is memoryDoc.MasterHash when the origin URL is itself a media playlist.
const masterMedia = "media"

// deadlineSlack is how long after a playlist's staleness (or unreachability) deadline the extra
// poll goes out: the tracker's rule is strictly "longer than the threshold".
const deadlineSlack = time.Millisecond

// leaseCheck is how often a Run waiting for an overlapping Run's release looks again.
const leaseCheck = 100 * time.Millisecond

// maxLeaseConflicts bounds the conditional writes lost in a row while taking a lease.
const maxLeaseConflicts = 5

// errBusy says an overlapping Run holds the instance until after this Run stops.
var errBusy = errors.New("instance leased by an overlapping run")

// playlist is one polled playlist of an instance.
type playlist struct {
	url   string
	class class
	tr    *hls.Tracker
	// reason is the tracker's last report's reason, "" until polled in this Run.
	reason string
	// firstFailure is when the current run of failures of a never-read playlist began.
	firstFailure time.Time
	// next is when the playlist is due; polls counts this Run's polls.
	next  time.Time
	polls int
	// tooLarge says the last poll's body was over the size limit (logged once per run of them).
	tooLarge bool
	// The last poll of the current cycle: when it started, when its answer came (zero when it
	// was not made) and the tracker's error.
	start, at time.Time
	err       error
}

// watcher watches one instance for one Run.
type watcher struct {
	d      *Detector
	cfg    Config
	inst   state.Instance
	inv    Invocation
	stopAt time.Time
	log    *slog.Logger

	doc   memoryDoc // Playlists is rebuilt from lists at every save
	rev   int64
	lists []*playlist

	nextMaster     time.Time
	masterLastFail time.Time
	masterReason   string
	nextRetry      time.Time
	masterTooLarge bool
	res            result
}

type result struct {
	watched                  bool
	health                   state.Health
	polls, published, errors int
}

func newWatcher(d *Detector, in state.Instance, inv Invocation, stopAt time.Time) *watcher {
	return &watcher{d: d, cfg: d.cfg, inst: in, inv: inv, stopAt: stopAt,
		log: d.log.With("cluster", in.Cluster, "domain", in.Domain), res: result{health: state.HealthUnknown}}
}

// run watches the instance until stopAt and saves its memory.
func (w *watcher) run(ctx context.Context) result {
	if err := w.acquire(ctx); err != nil {
		if errors.Is(err, errBusy) {
			w.log.Info("detector: instance leased by an overlapping run until after this one stops; skipped")
		} else {
			w.fail("take the instance's lease", err)
		}
		return w.res
	}
	w.res.watched = true
	w.restore()
	pollCtx, cancel := context.WithDeadline(ctx, w.stopAt)
	defer cancel()
	err := w.loop(pollCtx)
	for _, p := range w.lists {
		w.res.polls += p.polls
	}
	if errors.Is(err, errLostLease) {
		w.log.Warn("detector: another run took the instance over; stopped watching it")
		return w.res
	}
	w.release(ctx)
	return w.res
}

// loop polls what is due, concludes and acts on transitions until stopAt.
func (w *watcher) loop(ctx context.Context) error {
	if w.doc.Pending != nil {
		// A transition claimed by an earlier Run and not finished: publish it first, with the
		// same sequence (a duplicate delivery of one sequence is harmless, a lost one is not).
		if err := w.deliver(ctx); errors.Is(err, errLostLease) {
			return err
		}
	}
	for {
		now := time.Now()
		if !now.Before(w.stopAt) || ctx.Err() != nil {
			return nil
		}
		if w.doc.MasterHash != masterMedia && !now.Before(w.nextMaster) {
			w.pollMaster(ctx)
		}
		w.pollDue(ctx, now)
		if ctx.Err() != nil {
			return nil
		}
		if err := w.conclude(ctx, time.Now()); errors.Is(err, errLostLease) {
			return err
		}
		if w.doc.Pending != nil && !time.Now().Before(w.nextRetry) {
			if err := w.deliver(ctx); errors.Is(err, errLostLease) {
				return err
			}
		}
		if err := sleepUntil(ctx, w.wake()); err != nil {
			return nil
		}
	}
}

// conclude judges the instance from its playlists as they stand at now and acts on a
// transition.
//
// It runs after every poll, so it first takes the instance's health alone, which allocates
// nothing; the views (with their live edges), the verdict's reason and the event are built only
// when that health is a transition.
func (w *watcher) conclude(ctx context.Context, now time.Time) error {
	h := w.health()
	w.res.health = h
	if h == state.HealthUnknown || h == w.lastKind() {
		return nil
	}
	views := w.views()
	v := decide(views, tolerance{classVideo: w.cfg.VideoTolerance, classAudio: w.cfg.AudioTolerance})
	w.res.health = v.Health
	return w.transition(ctx, views, v, now)
}

// wake is when the loop has something to do next.
func (w *watcher) wake() time.Time {
	t := w.stopAt
	for _, p := range w.lists {
		if p.next.Before(t) {
			t = p.next
		}
	}
	if w.doc.MasterHash != masterMedia && w.nextMaster.Before(t) {
		t = w.nextMaster
	}
	if w.doc.Pending != nil && w.nextRetry.Before(t) {
		t = w.nextRetry
	}
	return t
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func (w *watcher) fail(what string, err error) {
	w.res.errors++
	w.log.Error("detector: "+what, "err", err)
}

// acquire loads the instance's memory and takes the lease on it. An overlapping Run's lease is
// waited for: it is released right after that Run's planned stop, with the evidence the next
// Run needs.
func (w *watcher) acquire(ctx context.Context) error {
	conflicts := 0
	for {
		data, rev, err := w.d.memory.LoadDetector(ctx, w.inst.Cluster, w.inst.Domain)
		if err != nil {
			return fmt.Errorf("load memory: %w", err)
		}
		doc, derr := decodeMemory(data)
		if derr != nil {
			// Starting afresh is safe: sequences are at least the claim time in milliseconds,
			// so they stay above any sequence the lost memory claimed.
			w.fail("memory unreadable; watching the instance without it", derr)
			doc = memoryDoc{Version: memoryVersion}
		}
		now := time.Now()
		if doc.Owner != "" && doc.Owner != w.inv.Owner && now.Before(doc.LeaseUntil) {
			wake := doc.StopAt
			if !wake.After(now) {
				wake = now.Add(leaseCheck)
			}
			if wake.After(doc.LeaseUntil) {
				wake = doc.LeaseUntil
			}
			if !wake.Before(w.stopAt) {
				return errBusy
			}
			if err := sleepUntil(ctx, wake); err != nil {
				return err
			}
			continue
		}
		doc.Owner, doc.StopAt, doc.LeaseUntil = w.inv.Owner, w.stopAt, w.stopAt.Add(w.cfg.LeaseSlack)
		out, err := encodeMemory(doc)
		if err != nil {
			return err
		}
		rev, err = w.d.memory.SaveDetector(ctx, w.inst.Cluster, w.inst.Domain, out, rev)
		if errors.Is(err, state.ErrVersionConflict) {
			// An overlapping Run got there first: look again, a few times.
			if conflicts++; conflicts == maxLeaseConflicts {
				return fmt.Errorf("save lease: %d conflicts in a row: %w", conflicts, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("save lease: %w", err)
		}
		w.doc, w.rev = doc, rev
		return nil
	}
}

// restore rebuilds the playlists and their trackers from the memory.
func (w *watcher) restore() {
	if w.doc.Origin != "" && w.doc.Origin != w.inst.OriginPlaylistURL {
		w.log.Info("detector: origin playlist URL changed; forgetting the old playlists", "was", w.doc.Origin)
		w.doc.Playlists, w.doc.MasterHash, w.doc.MasterFailures, w.doc.MasterFailSince, w.doc.Unwatched = nil, "", 0, time.Time{}, 0
	}
	w.doc.Origin = w.inst.OriginPlaylistURL
	for _, pm := range w.doc.Playlists {
		tr, err := hls.RestoreTracker(w.cfg.Tracker, pm.Tracker)
		if err != nil {
			w.fail("tracker memory of "+pm.URL+" unusable; starting it afresh", err)
			tr, _ = hls.NewTracker(w.cfg.Tracker)
			pm.FirstFailure = time.Time{}
		}
		w.lists = append(w.lists, &playlist{url: pm.URL, class: pm.Class, tr: tr, firstFailure: pm.FirstFailure})
	}
	w.doc.Playlists = nil
}

// release finishes a pending event if it can and saves the memory with the lease released.
func (w *watcher) release(ctx context.Context) {
	if w.doc.Pending != nil {
		if err := w.deliver(ctx); errors.Is(err, errLostLease) {
			return
		}
	}
	w.doc.Owner, w.doc.StopAt, w.doc.LeaseUntil = "", time.Time{}, time.Time{}
	if err := w.save(ctx); err != nil {
		w.fail("save memory", err)
	}
}

// save writes the memory, conditioned on the revision this Run last wrote. A newer revision
// written by this Run itself (a save that failed after it was written) is overwritten; one
// written by another Run means the lease is lost.
func (w *watcher) save(ctx context.Context) error {
	doc := w.doc
	doc.Playlists = make([]playlistMemory, 0, len(w.lists))
	for _, p := range w.lists {
		doc.Playlists = append(doc.Playlists, playlistMemory{URL: p.url, Class: p.class, Tracker: p.tr.Snapshot(), FirstFailure: p.firstFailure})
	}
	data, err := encodeMemory(doc)
	if err != nil {
		return err
	}
	for range 2 {
		rev, err := w.d.memory.SaveDetector(ctx, w.inst.Cluster, w.inst.Domain, data, w.rev)
		if err == nil {
			w.rev = rev
			return nil
		}
		if !errors.Is(err, state.ErrVersionConflict) {
			return fmt.Errorf("save memory: %w", err)
		}
		cur, rev, err := w.d.memory.LoadDetector(ctx, w.inst.Cluster, w.inst.Domain)
		if err != nil {
			return fmt.Errorf("save memory: reload after a conflict: %w", err)
		}
		if curDoc, err := decodeMemory(cur); err != nil || curDoc.Owner != w.inv.Owner {
			return errLostLease
		}
		w.rev = rev
	}
	return fmt.Errorf("save memory: %w", state.ErrVersionConflict)
}

// pollMaster reads the origin URL and, when the master changed, re-discovers the playlists.
func (w *watcher) pollMaster(ctx context.Context) {
	now := time.Now()
	w.nextMaster = now.Add(w.cfg.MasterInterval)
	if len(w.lists) == 0 {
		w.nextMaster = now.Add(w.cfg.ColdPollInterval)
	}
	resp, err := w.get(ctx, w.inst.OriginPlaylistURL, w.requestTimeout(0), nil)
	at := time.Now()
	if ctx.Err() != nil {
		return
	}
	w.res.polls++
	if errors.Is(err, origin.ErrTooLarge) {
		// A configuration error, not the origin's failure: the playlists known are still judged.
		if !w.masterTooLarge {
			metric.TooLarge(w.log, at, w.inst.OriginPlaylistURL, w.cfg.Tracker.MaxBody, "detector: origin master over the size limit; not read, not counted as a failure")
		}
		w.masterTooLarge = true
		return
	}
	w.masterTooLarge = false
	if err != nil {
		w.masterFailed(at, err)
		return
	}
	sum := sha256.Sum256(resp.Body)
	hash := hex.EncodeToString(sum[:12])
	if hash == w.doc.MasterHash && len(w.lists) > 0 {
		w.masterRead()
		return
	}
	m, err := hls.ParseMaster(resp.Body)
	if errors.Is(err, hls.ErrNotMaster) {
		if _, merr := hls.ParseMedia(resp.Body); merr == nil {
			w.doc.Unwatched = 0
			w.setPlaylists([]target{{URL: w.inst.OriginPlaylistURL, Class: classVideo}}, masterMedia, at)
			return
		}
	}
	if err != nil {
		w.masterFailed(at, fmt.Errorf("origin playlist is neither a master nor a media playlist: %w", err))
		return
	}
	// The URIs polled are the ones a player would load: variables resolved (QUERYPARAM from the
	// URL the master was read from), never a literal {$name}.
	body, err := hls.ExpandMasterVariables(resp.Body, resp.URL)
	if err == nil {
		m, err = hls.ParseMaster(body)
	}
	if err != nil {
		w.masterFailed(at, fmt.Errorf("origin master: %w", err))
		return
	}
	base, err := url.Parse(resp.URL)
	if err != nil {
		w.masterFailed(at, fmt.Errorf("origin playlist URL %q: %w", resp.URL, err))
		return
	}
	targets, omitted, err := discover(base, m, w.cfg.MaxPlaylists)
	if err == nil && len(targets) == 0 {
		err = errors.New("the master lists no playlist to poll")
	}
	if err != nil {
		w.masterFailed(at, fmt.Errorf("origin master: %w", err))
		return
	}
	if omitted > 0 {
		w.log.Warn("detector: the master lists more playlists than MAX_PLAYLISTS; some are not watched (every class keeps at least one)",
			"max_playlists", w.cfg.MaxPlaylists, "watched", len(targets), "omitted", omitted)
	}
	w.doc.Unwatched = omitted
	w.setPlaylists(targets, hash, at)
}

func (w *watcher) masterRead() {
	w.doc.MasterFailures, w.doc.MasterFailSince, w.masterReason = 0, time.Time{}, ""
}

// masterFailed notes a failed read of the origin URL. With playlists known it changes nothing:
// they are what is judged. Without, it counts towards the instance being unreachable. Only the
// first failure of a run of them is logged.
func (w *watcher) masterFailed(at time.Time, err error) {
	first := w.masterReason == ""
	w.masterReason = err.Error()
	if len(w.lists) > 0 {
		if first {
			w.log.Warn("detector: origin master unreadable; polling the playlists known", "err", err)
		}
		return
	}
	if w.doc.MasterFailures == 0 {
		w.doc.MasterFailSince = at
	}
	w.doc.MasterFailures++
	w.masterLastFail = at
	if dl := w.doc.MasterFailSince.Add(w.coldThreshold()).Add(deadlineSlack); dl.After(at) && dl.Before(w.nextMaster) {
		w.nextMaster = dl
	}
	if first {
		w.log.Warn("detector: origin playlist unreadable and no playlist known", "err", err, "failures", w.doc.MasterFailures)
	}
}

// setPlaylists makes targets the polled playlists, keeping the trackers of those already known.
func (w *watcher) setPlaylists(targets []target, hash string, at time.Time) {
	old := map[string]*playlist{}
	for _, p := range w.lists {
		old[p.url] = p
	}
	lists := make([]*playlist, 0, len(targets))
	var added, kept int
	for _, t := range targets {
		if p, ok := old[t.URL]; ok {
			p.class = t.Class
			lists = append(lists, p)
			kept++
			continue
		}
		tr, err := hls.NewTracker(w.cfg.Tracker)
		if err != nil {
			w.fail("new tracker", err) // cannot happen: the configuration was checked
			return
		}
		lists = append(lists, &playlist{url: t.URL, class: t.Class, tr: tr, next: at})
		added++
	}
	if added > 0 || kept != len(w.lists) {
		w.log.Info("detector: playlists discovered", "playlists", len(lists), "added", added, "removed", len(w.lists)-kept)
	}
	w.lists = lists
	w.doc.MasterHash = hash
	w.masterRead()
}

// pollDue polls every playlist that is due, concurrently within the Detector's bound, then
// schedules their next polls (which look at every playlist, so only once all are done).
func (w *watcher) pollDue(ctx context.Context, now time.Time) {
	var wg sync.WaitGroup
	var due []*playlist
	for _, p := range w.lists {
		if p.next.After(now) {
			continue
		}
		due = append(due, p)
		wg.Go(func() { w.poll(ctx, p) })
	}
	wg.Wait()
	for _, p := range due {
		if p.at.IsZero() {
			continue // not polled: the Run is stopping
		}
		if errors.Is(p.err, hls.ErrNotMediaPlaylist) && p.url == w.inst.OriginPlaylistURL && w.doc.MasterHash == masterMedia {
			// The origin URL was a media playlist and is not any more: read it as a master again.
			w.doc.MasterHash, w.nextMaster = "", p.at
		}
		p.next = w.nextPoll(p, p.tr.Snapshot(), p.start, p.at)
	}
}

// poll fetches one playlist and hands the result to its tracker. It touches only p.
func (w *watcher) poll(ctx context.Context, p *playlist) {
	p.start, p.at, p.err = time.Time{}, time.Time{}, nil
	var start time.Time
	resp, err := w.get(ctx, p.url, w.requestTimeout(p.targetDuration()), &start)
	at := time.Now()
	if ctx.Err() != nil {
		return // the Run is stopping: not the origin's fault
	}
	p.polls++
	obs := hls.Observation{At: at}
	var se *origin.StatusError
	switch {
	case err == nil:
		obs.Status, obs.Body = resp.StatusCode, resp.Body
	case errors.As(err, &se):
		obs.Status = se.StatusCode // the body of an error is never read
	case errors.Is(err, origin.ErrTooLarge):
		obs.Err = &hls.TooLargeError{Limit: w.cfg.Tracker.MaxBody} // the tracker leaves it unjudged
	default:
		obs.Err = err
	}
	rep := p.tr.Observe(obs)
	p.start, p.at, p.err, p.reason = start, at, rep.Err, rep.Reason
	tooLarge := errors.Is(rep.Err, hls.ErrTooLarge)
	if tooLarge && !p.tooLarge {
		metric.TooLarge(w.log, at, p.url, w.cfg.Tracker.MaxBody, "detector: playlist over the size limit left unjudged (neither stale nor unreachable)")
	}
	p.tooLarge = tooLarge
	switch {
	case rep.Err == nil:
		p.firstFailure = time.Time{}
	case tooLarge:
		// Unjudged, not failed: it does not count towards unreachable.
	case p.tr.Snapshot().LastGood.IsZero() && p.firstFailure.IsZero():
		p.firstFailure = at
	}
}

// get fetches u, cache-busted, within timeout, once one of the Detector's MaxConcurrency
// request slots is free; started, when not nil, receives when the request went out.
func (w *watcher) get(ctx context.Context, u string, timeout time.Duration, started *time.Time) (*origin.Response, error) {
	select {
	case w.d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-w.d.sem }()
	if started != nil {
		*started = time.Now()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return w.d.getter.Get(ctx, u, origin.CacheBust())
}

func (p *playlist) targetDuration() time.Duration {
	return time.Duration(p.tr.Snapshot().TargetDurationMS) * time.Millisecond
}

// pollInterval is a playlist's regular poll interval: PollFactor x its target duration, at
// least MinPoll; ColdPollInterval while the target duration is unknown.
func (w *watcher) pollInterval(td time.Duration) time.Duration {
	switch {
	case w.cfg.PollInterval > 0:
		return w.cfg.PollInterval
	case td <= 0:
		return w.cfg.ColdPollInterval
	}
	return max(w.cfg.MinPoll, time.Duration(w.cfg.PollFactor*float64(td)))
}

// requestTimeout is the timeout of one request for a playlist of target duration td (0:
// unknown).
func (w *watcher) requestTimeout(td time.Duration) time.Duration {
	switch {
	case w.cfg.RequestTimeout > 0:
		return w.cfg.RequestTimeout
	case td <= 0:
		return 2 * time.Second
	}
	return min(MaxRequestTimeout, max(MinPollInterval, td*3/4))
}

// threshold is how long a playlist of target duration td may go without progress, by the
// tracker's rule.
func (w *watcher) threshold(td time.Duration) time.Duration {
	return hls.StaleAfter(w.cfg.Tracker.Multiplier, td)
}

// coldThreshold is the threshold for a playlist, or a master, that was never read: that of the
// longest target duration the instance knows, or of ColdTargetDuration.
func (w *watcher) coldThreshold() time.Duration {
	var td time.Duration
	for _, p := range w.lists {
		td = max(td, p.targetDuration())
	}
	if td == 0 {
		td = w.cfg.ColdTargetDuration
	}
	return w.threshold(td)
}

// nextPoll schedules a playlist's next poll: one interval after this one started, or just after
// the moment its tracker's conclusion would change if nothing else happens (fresh becoming
// stale, failing becoming unreachable), whichever is first. Polling at that moment, not up to an
// interval later, is what bounds the detection delay by the threshold plus one interval.
func (w *watcher) nextPoll(p *playlist, s hls.TrackerState, start, at time.Time) time.Time {
	next := start.Add(w.pollInterval(time.Duration(s.TargetDurationMS) * time.Millisecond))
	if next.Before(at) {
		next = at
	}
	var dl time.Time
	threshold := w.threshold(time.Duration(s.TargetDurationMS) * time.Millisecond)
	switch {
	case s.LastGood.IsZero():
		if !p.firstFailure.IsZero() {
			dl = p.firstFailure.Add(w.coldThreshold())
		}
	case s.Ended:
	case s.Failures > 0 && s.Health != state.HealthUnreachable:
		dl = s.LastGood.Add(threshold)
	case s.Failures == 0 && s.Health == state.HealthFresh:
		dl = s.LastChange.Add(threshold)
	}
	if !dl.IsZero() {
		dl = dl.Add(deadlineSlack)
		if dl.After(at) && dl.Before(next) {
			next = dl
		}
	}
	return next
}

// views are the instance's playlists as the verdict sees them. Without any playlist known, the
// origin URL stands for them: unknown until it has failed MinFailures times over more than the
// cold threshold, unreachable then.
func (w *watcher) views() []playlistView {
	if len(w.lists) == 0 {
		v := playlistView{URL: w.inst.OriginPlaylistURL, Class: classVideo, Health: state.HealthUnknown, Reason: w.masterReason}
		if w.doc.MasterFailures > 0 {
			v.Down = w.masterLastFail.Sub(w.doc.MasterFailSince)
			v.Health = w.coldHealth(w.doc.MasterFailures, v.Down)
		}
		return []playlistView{v}
	}
	views := make([]playlistView, 0, len(w.lists))
	for _, p := range w.lists {
		s := p.tr.Snapshot()
		v := playlistView{URL: p.url, Class: p.class, Reason: p.reason, Health: w.playlistHealth(p, s),
			MediaSequence: s.MediaSequence, TargetDuration: time.Duration(s.TargetDurationMS) * time.Millisecond, LastChange: s.LastChange}
		switch {
		case s.LastObserved.IsZero():
			v.Reason = "not polled yet"
		case s.LastGood.IsZero():
			if !p.firstFailure.IsZero() {
				v.Down = s.LastObserved.Sub(p.firstFailure)
			}
		default:
			v.LiveEdge = contract.LiveEdgeOf(s)
			v.StaleFor = s.LastObserved.Sub(s.LastChange)
			if s.Failures > 0 {
				v.Down = s.LastObserved.Sub(s.LastGood)
			}
		}
		views = append(views, v)
	}
	return views
}

// playlistHealth is a playlist's health as the verdict sees it (s is its tracker's memory):
// unknown until polled; the tracker's conclusion once it was read. The tracker calls a playlist
// never read unreachable at its first failure; the instance waits for the same rule as for a
// playlist that was read: MinFailures failures over more than the threshold (coldHealth).
func (w *watcher) playlistHealth(p *playlist, s hls.TrackerState) state.Health {
	switch {
	case s.LastObserved.IsZero(), s.Health == "":
		// Not polled yet, or unjudged (a body over the size limit): it decides nothing.
		return state.HealthUnknown
	case s.LastGood.IsZero():
		if p.firstFailure.IsZero() {
			return state.HealthUnknown
		}
		return w.coldHealth(s.Failures, s.LastObserved.Sub(p.firstFailure))
	}
	return s.Health
}

// coldHealth is the health of a playlist never read, or of the origin URL while no playlist is
// known, that failed failures times in a row over down: unreachable after MinFailures failures
// over more than the cold threshold, unknown until then.
func (w *watcher) coldHealth(failures int, down time.Duration) state.Health {
	if failures >= w.cfg.Tracker.MinFailures && down > w.coldThreshold() {
		return state.HealthUnreachable
	}
	return state.HealthUnknown
}

// health is the health decide would conclude from views, without building them: it allocates
// nothing, so the loop can take it after every poll.
func (w *watcher) health() state.Health {
	var c counts
	if len(w.lists) == 0 {
		h := state.HealthUnknown
		if w.doc.MasterFailures > 0 {
			h = w.coldHealth(w.doc.MasterFailures, w.masterLastFail.Sub(w.doc.MasterFailSince))
		}
		c.Add(classVideo, h)
	}
	for _, p := range w.lists {
		c.Add(p.class, w.playlistHealth(p, p.tr.Snapshot()))
	}
	return c.Health(tolerance{classVideo: w.cfg.VideoTolerance, classAudio: w.cfg.AudioTolerance})
}

// lastKind is the last transition this instance went through as far as subscribers may know:
// the pending event's, the last published one's, or the health in the table.
func (w *watcher) lastKind() state.Health {
	switch {
	case w.doc.Pending != nil:
		return w.doc.Pending.Event.Event
	case w.doc.Published != nil:
		return w.doc.Published.Event
	}
	if k := w.inst.Health; k.Judged() {
		return k
	}
	return ""
}
