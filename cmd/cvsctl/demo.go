package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/local/player"
	"github.com/clustered-video-streams/cvs/internal/local/runtime"
)

// demoHoldDown is the demo's failback hold-down: short, so that failback fits in the run.
const demoHoldDown = 10

// demoBudget bounds a whole run: it ends by itself in under 3 minutes.
const demoBudget = 170 * time.Second

// demoTimeline is the demo's result, the last line of stdout with --json. Step times are ms
// after the stall, -1 when the step did not happen.
type demoTimeline struct {
	SegmentDurationMS int64  `json:"segment_duration_ms"`
	TargetDurationMS  int64  `json:"target_duration_ms"`
	HoldDownS         int    `json:"hold_down_s"`
	Player            string `json:"player"`
	// Client names the HLS client when no player watched ("" with a player).
	Client       string `json:"client,omitempty"`
	Media        string `json:"media"`
	PlayedRegion string `json:"played_region"`
	OtherRegion  string `json:"other_region"`

	StaleEventMS      int64   `json:"stale_event_ms"`
	ConfirmedMS       int64   `json:"confirmed_ms"`
	ClosedMS          int64   `json:"closed_ms"`
	ExecutionMS       int64   `json:"execution_finished_ms"`
	First404MS        int64   `json:"first_404_ms"`
	PlayerSwitchedMS  int64   `json:"player_switched_ms"`
	SwitchedTo        string  `json:"switched_to"`
	RebufferEvents    int     `json:"rebuffer_events"`
	BufferStalls      int     `json:"buffer_stalls"`
	PlayedAfterStallS float64 `json:"played_after_stall_s"`
	RecoveredMS       int64   `json:"recovered_ms"`
	FreshEventMS      int64   `json:"fresh_event_ms"`
	ReopenedMS        int64   `json:"reopened_ms"`
	ViewersSawStall   bool    `json:"viewers_saw_stall"`
}

// demoMedia says where the origins' segments come from.
const demoMedia = "H.264 (320x180, 160x90) + AAC in MPEG-TS, muxed in Go from the source shipped in internal/local/media"

func runDemo(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "demo")
	seg := fs.Duration("segment-duration", 2*time.Second, "the origins' segment duration, whole seconds")
	failback := fs.Bool("failback", false, "recover the stalled region and wait for failback to reopen it after the hold-down")
	holdDown := fs.Int("hold-down-seconds", demoHoldDown, "the failback hold-down (the template's default is 300 s; the demo's is short)")
	asJSON := fs.Bool("json", false, "print the timeline as one JSON object, the last line of stdout")
	keep := fs.Bool("keep", false, "leave everything running at the end and print the URLs of the dashboard and a player page, until Ctrl-C")
	viewer := fs.String("viewer", "auto", "what watches: chromium (hls.js in headless Chromium), client (the HLS client in Go), auto (chromium when installed)")
	shot := fs.String("screenshot", "", "write a PNG of the player page after the switch into this file (chromium only)")
	logFile := fs.String("log", "", "write the local runtime's JSON log lines into this file")
	fs.Usage = usageFunc(fs, "[flags]", `
Runs the whole system in this process (cvsctl local, two regions), plays the merged master,
stalls the encoder of the region being played, and prints what happened in ms after the stall:
the detector's stale event, the confirmation, the close, the first 404 from that region's edge,
the switch of the player to the other region and any rebuffer; then the encoder runs again (and
with --failback the region reopens after the hold-down). hls.js in headless Chromium watches
when Chromium is installed, else an HLS client in Go that fetches like a player. Ends by itself
in under 3 minutes unless --keep.`)
	if _, code, ok := parseCommand(e, fs, args, 0, 0); !ok {
		return code
	}
	if *viewer != "auto" && *viewer != "chromium" && *viewer != "client" {
		return fail(e, &usageError{fmt.Sprintf("--viewer %q: want auto, chromium or client", *viewer)})
	}
	cfg := runtime.DefaultConfig()
	cfg.SegmentDuration, cfg.EnableFailback, cfg.HoldDownSeconds = *seg, *failback, *holdDown
	if u := os.Getenv("USER"); u != "" {
		cfg.User = u
	}
	if err := cfg.Check(); err != nil {
		return fail(e, &usageError{err.Error()})
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{e: e, cfg: cfg, viewer: *viewer, screenshot: *shot, logs: &demoLogs{changed: make(chan struct{})}}
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return fail(e, err)
		}
		defer f.Close()
		d.logs.copy = f
	}
	tl, err := d.run(ctx, *keep)
	if err != nil {
		return fail(e, err)
	}
	if *asJSON {
		b, err := json.Marshal(tl)
		if err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	}
	return exitOK
}

// demo is one run of the story on the local runtime, read through its contract only.
type demo struct {
	e          *env
	cfg        runtime.Config
	viewer     string
	screenshot string

	c        runtime.Contract
	logs     *demoLogs
	stall    time.Time
	entries  []demoEntry
	noPlayer string // why no player watched, "" when one did
}

// demoEntry is one line of the timeline, ms after the stall.
type demoEntry struct {
	ms   int64
	text string
}

// at adds a step to the timeline; flush prints the steps so far in time order.
func (d *demo) at(ms int64, format string, a ...any) {
	d.entries = append(d.entries, demoEntry{ms, fmt.Sprintf(format, a...)})
}

func (d *demo) flush() {
	slices.SortStableFunc(d.entries, func(a, b demoEntry) int { return cmp.Compare(a.ms, b.ms) })
	for _, x := range d.entries {
		d.say("  %6d  %s", x.ms, x.text)
	}
	d.entries = nil
}

// say prints a line of the human timeline (with --json too: the object comes last).
func (d *demo) say(format string, a ...any) {
	fmt.Fprintf(d.e.stdout, format+"\n", a...)
}

// since is ms after the stall, by the wall clock: the log lines' and the page's times carry no
// monotonic reading, so none may be used here (the two clocks drift apart on some machines).
func (d *demo) since(t time.Time) int64 { return t.Round(0).Sub(d.stall.Round(0)).Milliseconds() }

func (d *demo) run(ctx context.Context, keep bool) (demoTimeline, error) {
	tl := demoTimeline{SegmentDurationMS: d.cfg.SegmentDuration.Milliseconds(), HoldDownS: d.cfg.HoldDownSeconds, Media: demoMedia,
		StaleEventMS: -1, ConfirmedMS: -1, ClosedMS: -1, ExecutionMS: -1, First404MS: -1, PlayerSwitchedMS: -1,
		RecoveredMS: -1, FreshEventMS: -1, ReopenedMS: -1}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	budget, cancelBudget := context.WithTimeout(ctx, demoBudget)
	defer cancelBudget()

	// The local runtime, read as any tool outside would: line 1, then JSON log lines.
	pr, pw := io.Pipe()
	var runErr error
	finished := make(chan struct{})
	go func() {
		runErr = runtime.Run(runCtx, d.cfg, pw, d.e.stderr)
		pw.Close()
		close(finished)
	}()
	defer func() {
		cancel()
		<-finished
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() {
		<-finished
		return tl, fmt.Errorf("the local runtime did not start: %w", errors.Join(runErr, sc.Err()))
	}
	if err := json.Unmarshal(sc.Bytes(), &d.c); err != nil || len(d.c.Regions) < 2 {
		return tl, fmt.Errorf("the local runtime's first line is not its contract: %v: %s", err, sc.Bytes())
	}
	go d.logs.read(sc, pr)

	hosts := map[string]string{}
	for _, r := range d.c.Regions {
		for _, u := range []string{r.EdgeURL, r.OriginURL} {
			if p, err := url.Parse(u); err == nil {
				hosts[p.Host] = r.Name
			}
		}
	}
	td, err := targetDuration(budget, d.c.Regions[0].OriginURL+"/v180.m3u8")
	if err != nil {
		return tl, err
	}
	tl.TargetDurationMS = td.Milliseconds()
	d.say("cvsctl demo: the whole system in this process (cvsctl local), %d regions, %s segments (target duration %s);", len(d.c.Regions), d.cfg.SegmentDuration, td)
	d.say("media: %s.", demoMedia)
	if d.cfg.EnableFailback {
		d.say("failback on, hold-down %d s (short for the demo; the template's default is 300 s).", d.cfg.HoldDownSeconds)
	}

	// Every region must be watched fresh first: a stall then is a change the detector sees.
	for _, r := range d.c.Regions {
		if _, err := d.logs.wait(budget, func(l demoLog) bool {
			return l.Region == r.Name && l.Msg == "event published" && l.str("event") == "fresh"
		}); err != nil {
			return tl, fmt.Errorf("%s never reported fresh: %w", r.Name, err)
		}
	}

	v, err := d.startViewer(budget, hosts)
	if err != nil {
		return tl, err
	}
	defer v.Close()
	if c, ok := v.(*player.Client); ok {
		tl.Player, tl.Client = "none", c.Describe()
	} else {
		tl.Player = v.Describe()
	}
	s, err := player.WaitFor(budget, v, func(s player.Snapshot) bool { return s.Started && s.Region != "" })
	if err != nil {
		return tl, fmt.Errorf("playback did not start: %w", err)
	}
	played := d.region(s.Region)
	if played == nil {
		return tl, fmt.Errorf("the first fragments came from %s, not from a region's edge", s.Host)
	}
	tl.PlayedRegion = played.Name
	for _, r := range d.c.Regions {
		if r.Name != played.Name && tl.OtherRegion == "" {
			tl.OtherRegion = r.Name
		}
	}
	// Play a little before the stall, as a viewer already watching would.
	time.Sleep(d.cfg.SegmentDuration)
	d.say("%s plays the merged master %s from %s.", viewerName(tl), d.c.MasterURL, played.Name)

	if err := d.setEncoder(budget, played.Name, "stalled"); err != nil {
		return tl, err
	}
	// The stall's time is the runtime's own, as every step's after it.
	set, err := d.logs.wait(budget, func(l demoLog) bool {
		return l.Region == played.Name && l.Msg == "encoder state set" && l.str("encoder_state") == "stalled"
	})
	if err != nil {
		return tl, fmt.Errorf("the runtime never logged the stall: %w", err)
	}
	d.stall = set.Time
	defer d.flush() // what happened so far, when a step fails
	before, _ := v.Snapshot(budget)
	d.say("%s stalled %s's encoder (its playlists stop advancing, still 200). ms after the stall:", d.stall.Format("15:04:05.000"), played.Name)

	// The first 404 of the stalled region's edge, as a player asking for its playlist gets it.
	edge404 := make(chan time.Time, 1)
	go func() { edge404 <- poll404(budget, played.EdgeURL+"/v180.m3u8") }()

	step := func(what string, ms *int64, match func(demoLog) bool) error {
		l, err := d.logs.wait(budget, match)
		if err != nil {
			return fmt.Errorf("no %s: %w", what, err)
		}
		*ms = d.since(l.Time)
		return nil
	}
	mine := func(l demoLog) bool { return l.Region == played.Name && !l.Time.Before(d.stall) }
	if err := step("stale event", &tl.StaleEventMS, func(l demoLog) bool {
		return mine(l) && l.Msg == "event published" && (l.str("event") == "stale" || l.str("event") == "unreachable")
	}); err != nil {
		return tl, err
	}
	d.at(tl.StaleEventMS, "stale event from %s's detector", played.Name)
	if err := step("confirmation", &tl.ConfirmedMS, func(l demoLog) bool {
		return mine(l) && l.Msg == "confirm" && l.fields["confirmed"] == true
	}); err != nil {
		return tl, err
	}
	d.at(tl.ConfirmedMS, "confirmed: a fresh probe of the origin finds it still stale")
	// The state change as the store's feed logs it, before the edge sync: the close as committed.
	if err := step("close", &tl.ClosedMS, func(l demoLog) bool {
		return !l.Time.Before(d.stall) && l.Msg == "state: instance changed" && l.str("domain") == played.Domain &&
			l.fields["open"] == false && l.fields["was_open"] == true
	}); err != nil {
		return tl, err
	}
	d.at(tl.ClosedMS, "closed in the state table (%s stays open)", tl.OtherRegion)
	if err := step("finished failover", &tl.ExecutionMS, func(l demoLog) bool {
		return mine(l) && l.Msg == "execution finished" && l.str("outcome") == "closed"
	}); err != nil {
		return tl, err
	}
	d.at(tl.ExecutionMS, "failover execution finished, outcome closed")
	at := <-edge404
	if at.IsZero() {
		return tl, fmt.Errorf("%s's edge never answered 404", played.Name)
	}
	tl.First404MS = d.since(at)
	d.at(tl.First404MS, "first 404 from %s's edge (the copilot answers closed)", played.Name)

	s, err = player.WaitFor(budget, v, func(s player.Snapshot) bool {
		_, ok := s.SwitchAfter(d.stall)
		return ok
	})
	if err != nil {
		return tl, fmt.Errorf("%s never played from another region: %w", viewerName(tl), err)
	}
	sw, _ := s.SwitchAfter(d.stall)
	atSwitch := s.CurrentTime
	tl.PlayerSwitchedMS, tl.SwitchedTo = d.since(sw.At), sw.To
	d.at(tl.PlayerSwitchedMS, "%s switched %s -> %s at media sequence %d", viewerName(tl), sw.From, sw.To, sw.SN)

	// Watch two segments more: playback must go on from the other region.
	time.Sleep(2 * d.cfg.SegmentDuration)
	s, err = v.Snapshot(budget)
	if err != nil {
		return tl, err
	}
	d.viewerEvents(s, d.stall)
	tl.RebufferEvents, tl.BufferStalls = s.Rebuffers-before.Rebuffers, s.BufferStalls-before.BufferStalls
	tl.PlayedAfterStallS = math.Round((s.CurrentTime-before.CurrentTime)*10) / 10
	d.flush()
	d.say("          %d rebuffer events, %d buffer stalls since the stall; %.1f s played since the stall, now from %s",
		tl.RebufferEvents, tl.BufferStalls, tl.PlayedAfterStallS, s.Region)

	// Recover, and with failback wait for the reopen.
	if err := d.setEncoder(budget, played.Name, "running"); err != nil {
		return tl, err
	}
	recovered := time.Now()
	tl.RecoveredMS = d.since(recovered)
	d.at(tl.RecoveredMS, "%s's encoder runs again", played.Name)
	if err := step("fresh event", &tl.FreshEventMS, func(l demoLog) bool {
		return mine(l) && !l.Time.Before(recovered) && l.Msg == "event published" && l.str("event") == "fresh"
	}); err != nil {
		return tl, err
	}
	d.at(tl.FreshEventMS, "fresh event from %s's detector", played.Name)
	if d.cfg.EnableFailback {
		if err := step("reopen", &tl.ReopenedMS, func(l demoLog) bool {
			return mine(l) && l.Msg == "reopen" && l.fields["opened"] == true && l.fields["changed"] == true
		}); err != nil {
			return tl, err
		}
		d.at(tl.ReopenedMS, "reopened by failback after %d s fresh (the hold-down)", d.cfg.HoldDownSeconds)
	}
	d.flush()
	s, err = v.Snapshot(budget)
	if err != nil {
		return tl, err
	}
	d.viewerEvents(s, recovered)
	d.flush()
	tl.RebufferEvents, tl.BufferStalls = s.Rebuffers-before.Rebuffers, s.BufferStalls-before.BufferStalls
	tl.PlayedAfterStallS = math.Round((s.CurrentTime-before.CurrentTime)*10) / 10
	tl.ViewersSawStall = tl.RebufferEvents > 0 || tl.BufferStalls > 0
	if tl.ViewersSawStall {
		d.say("Viewers saw a stall: %d rebuffer events and %d buffer stalls after the failure of %s.", tl.RebufferEvents, tl.BufferStalls, played.Name)
	} else if tl.Player == "none" {
		d.say("No stall: the HLS client's simulated buffer never ran dry (%.1f s played since the stall); no player watched (%s).", tl.PlayedAfterStallS, d.noPlayer)
	} else {
		d.say("No stall: viewers kept playing through the failover (0 rebuffer events, %.1f s played since the stall, %s).", tl.PlayedAfterStallS, tl.Player)
	}

	if d.screenshot != "" {
		// The picture changes once what was buffered from the stalled region has played: about
		// hls.js's live sync distance (3 segments) after the switch.
		if _, err := player.WaitFor(budget, v, func(s player.Snapshot) bool {
			return s.CurrentTime >= atSwitch+4*d.cfg.SegmentDuration.Seconds()
		}); err != nil {
			return tl, err
		}
		if err := d.savePNG(budget, v); err != nil {
			return tl, err
		}
	}
	if keep {
		return tl, d.keep(ctx, v, hosts)
	}
	return tl, nil
}

// viewerEvents adds the rebuffers and buffer stalls of s from t on to the timeline.
func (d *demo) viewerEvents(s player.Snapshot, from time.Time) {
	for _, ev := range s.Events {
		switch {
		case ev.At.Before(from):
		case ev.Rebuffer:
			d.at(d.since(ev.At), "rebuffer: the video waited (last fragment from %s)", s.Region)
		case ev.Kind == player.KindError && ev.Details == player.DetailsBufferStalled:
			d.at(d.since(ev.At), "buffer stall: the buffer ran dry")
		}
	}
}

func viewerName(tl demoTimeline) string {
	if tl.Player == "none" {
		return "the HLS client"
	}
	return "the player"
}

// startViewer starts hls.js in Chromium, or the HLS client when Chromium is missing (and says so).
func (d *demo) startViewer(ctx context.Context, hosts map[string]string) (player.Viewer, error) {
	if d.viewer != "client" {
		p, err := player.StartChromium(ctx, d.c.MasterURL, player.Options{Regions: hosts})
		switch {
		case err == nil:
			return p, nil
		case d.viewer == "auto" && (errors.Is(err, player.ErrNoChromium) || errors.Is(err, player.ErrNoHLSJS)):
			d.say("No player: %v; the HLS client in Go fetches like a player instead.", err)
			d.noPlayer = err.Error()
		default:
			return nil, err
		}
	} else {
		d.noPlayer = "--viewer client"
	}
	return player.StartClient(ctx, d.c.MasterURL, player.ClientOptions{Regions: hosts})
}

func (d *demo) savePNG(ctx context.Context, v player.Viewer) error {
	p, ok := v.(*player.Chromium)
	if !ok {
		return errors.New("--screenshot needs the player in Chromium")
	}
	png, err := p.Screenshot(ctx)
	if err != nil {
		return err
	}
	return os.WriteFile(d.screenshot, png, 0o644)
}

// keep prints where to look and waits for Ctrl-C.
func (d *demo) keep(ctx context.Context, v player.Viewer, hosts map[string]string) error {
	pageURL := ""
	if p, ok := v.(*player.Chromium); ok {
		pageURL = p.PageURL()
	} else if page, err := player.ServePage(d.c.MasterURL, player.Options{Regions: hosts}); err == nil {
		defer page.Close()
		pageURL = page.URL
	} else {
		d.say("No player page: %v.", err)
	}
	d.say("Still running (--keep); Ctrl-C stops it.")
	d.say("  dashboard:   %s", d.c.DashboardURL)
	if pageURL != "" {
		d.say("  player page: %s", pageURL)
	}
	d.say("  control:     %s/regions (POST /regions/NAME/encoder {\"state\":\"stalled\"} stalls a region, \"running\" recovers it)", d.c.ControlURL)
	<-ctx.Done()
	return nil
}

func (d *demo) region(name string) *runtime.RegionInfo {
	for i := range d.c.Regions {
		if d.c.Regions[i].Name == name {
			return &d.c.Regions[i]
		}
	}
	return nil
}

func (d *demo) setEncoder(ctx context.Context, region, state string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.c.ControlURL+"/regions/"+region+"/encoder",
		strings.NewReader(`{"state":"`+state+`"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("set %s's encoder %s: %w", region, state, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("set %s's encoder %s: %s %s", region, state, resp.Status, b)
	}
	return nil
}

// targetDuration reads a media playlist's EXT-X-TARGETDURATION.
func targetDuration(ctx context.Context, u string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read the target duration: %w", err)
	}
	defer resp.Body.Close()
	b, err := hls.ReadLimited(resp.Body, 1<<20)
	if err != nil {
		return 0, fmt.Errorf("read the target duration: %w", err)
	}
	m, err := hls.ParseMedia(b)
	if err != nil {
		return 0, fmt.Errorf("read the target duration from %s: %w", u, err)
	}
	return m.TargetDuration, nil
}

// poll404 polls u every 50 ms until it answers 404 and returns when; zero when ctx ends first.
func poll404(ctx context.Context, u string) time.Time {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return time.Time{}
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				return time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}
		case <-tick.C:
		}
	}
}

// demoLog is one JSON log line of the local runtime.
type demoLog struct {
	Time   time.Time `json:"time"`
	Region string    `json:"region"`
	Msg    string    `json:"msg"`
	fields map[string]any
}

func (l demoLog) str(k string) string { s, _ := l.fields[k].(string); return s }

// demoLogs collects the runtime's log lines as they come.
type demoLogs struct {
	mu      sync.Mutex
	lines   []demoLog
	changed chan struct{} // closed and replaced on every new line
	copy    io.Writer     // gets every line when not nil (--log)
}

func (ls *demoLogs) read(sc *bufio.Scanner, r io.Reader) {
	for sc.Scan() {
		if ls.copy != nil {
			ls.copy.Write(append(append([]byte(nil), sc.Bytes()...), '\n'))
		}
		var l demoLog
		if json.Unmarshal(sc.Bytes(), &l) != nil || json.Unmarshal(sc.Bytes(), &l.fields) != nil {
			continue
		}
		ls.mu.Lock()
		ls.lines = append(ls.lines, l)
		close(ls.changed)
		ls.changed = make(chan struct{})
		ls.mu.Unlock()
	}
	// Keep draining so the runtime never blocks on a full pipe.
	io.Copy(io.Discard, r)
}

// wait returns the first line that matches, waiting for it until ctx ends.
func (ls *demoLogs) wait(ctx context.Context, match func(demoLog) bool) (demoLog, error) {
	seen := 0
	for {
		ls.mu.Lock()
		for ; seen < len(ls.lines); seen++ {
			if match(ls.lines[seen]) {
				l := ls.lines[seen]
				ls.mu.Unlock()
				return l, nil
			}
		}
		changed := ls.changed
		ls.mu.Unlock()
		select {
		case <-ctx.Done():
			return demoLog{}, context.Cause(ctx)
		case <-changed:
		}
	}
}
