package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
)

// Inputs every parser reads: the tracker benchmark's media playlist and the merge benchmark's master.
const (
	mediaFile  = "internal/hls/testdata/bench/media-10-segments.m3u8"
	masterFile = "internal/hls/testdata/master/advanced-fmp4.m3u8"
)

// Runner runs every measurement of `make bench` and prints them as markdown.
type Runner struct {
	Root      string        // the repository root
	Procs     int           // GOMAXPROCS for every Go benchmark
	Benchtime string        // -test.benchtime of the Go benchmarks
	PeerTime  time.Duration // how long each peer parser runs on each body
	Polls     int           // detector polls per measurement
	Demo      bool          // run the demo's failover timeline step
	OriginCmd []string      // starts `cvsbench origin` in another process
	Out, Log  io.Writer     // the table; progress lines

	tmp  string
	rows []row
	errs []error
}

type row struct{ what, figure string }

// Run measures everything, prints the table and returns an error naming each measurement of
// ours that failed (a peer that is missing is a reason in the table, not an error).
func (r *Runner) Run(ctx context.Context) error {
	tmp, err := os.MkdirTemp("", "cvsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r.tmp = tmp

	parsers, peers := r.parsers(ctx)
	r.detector(ctx)
	r.copilot(ctx)
	r.demo(ctx)

	fmt.Fprintf(r.Out, "Measured by `make bench` on %s: %s, %d CPUs, GOMAXPROCS=%d, %s %s/%s, %s.\n\n",
		time.Now().UTC().Format("2006-01-02"), cpuModel(), runtime.NumCPU(), r.Procs, runtime.Version(), runtime.GOOS, runtime.GOARCH, peers)
	fmt.Fprint(r.Out, parsers)
	fmt.Fprint(r.Out, "\n| what | figure |\n| --- | --- |\n")
	for _, rw := range r.rows {
		fmt.Fprintf(r.Out, "| %s | %s |\n", rw.what, rw.figure)
	}
	return errors.Join(r.errs...)
}

func (r *Runner) progress(format string, a ...any) {
	fmt.Fprintf(r.Log, "cvsbench: "+format+"\n", a...)
}

// fail records one of our measurements as failed, in the table and in Run's error.
func (r *Runner) fail(what string, err error) {
	r.errs = append(r.errs, fmt.Errorf("%s: %w", what, err))
	r.rows = append(r.rows, row{what, "failed: " + firstLine(err.Error())})
}

func (r *Runner) goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// peerResult is what the peer scripts print.
type peerResult struct {
	Version string `json:"version"`
	Media   struct {
		NS        float64 `json:"ns"`
		Fragments int     `json:"fragments"`
	} `json:"media"`
	Master struct {
		NS      float64 `json:"ns"`
		Levels  int     `json:"levels"`
		IFrames int     `json:"iframes"`
		Audio   int     `json:"audio"`
	} `json:"master"`
}

// peer is one column of the parser table: a result or the reason there is none.
type peer struct {
	name   string
	res    *peerResult
	reason string
}

// parsers measures our playlist work and the peers' parsers on the same bodies and returns the
// parser table and a phrase naming the peers' versions.
func (r *Runner) parsers(ctx context.Context) (string, string) {
	media, err := os.ReadFile(filepath.Join(r.Root, mediaFile))
	if err != nil {
		r.fail("playlist benchmarks", err)
		return "", "no peers"
	}
	master, err := os.ReadFile(filepath.Join(r.Root, masterFile))
	if err != nil {
		r.fail("playlist benchmarks", err)
		return "", "no peers"
	}
	ours, err := r.benchmarks(ctx, "./internal/hls", "^(BenchmarkTrackerObserve|BenchmarkMerge)$", r.Benchtime)
	if err != nil {
		// The table still shows the benchmarks that ran; the others say they did not.
		r.errs = append(r.errs, err)
	}
	r.progress("timing hls.ParseMaster in this process")
	pm, err := r.parseMaster(master)
	if err != nil {
		r.fail("master parse", err)
		return "", "no peers"
	}

	hlsjs := r.hlsjs(ctx)
	py := r.pythonM3U8(ctx)
	peers := []peer{hlsjs, py}
	// A peer that read the bodies differently from us is not compared.
	for i, p := range peers {
		if p.res == nil {
			continue
		}
		if got := [4]int{p.res.Media.Fragments, p.res.Master.Levels, p.res.Master.IFrames, p.res.Master.Audio}; got != pm.counts {
			peers[i] = peer{name: p.name, reason: fmt.Sprintf("read %v (segments, variants, I-frame variants, audio renditions), we read %v: not compared", got, pm.counts)}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "| playlist work (same files for every parser) | CVS (Go) |")
	for _, p := range peers {
		fmt.Fprintf(&b, " %s |", p.name)
	}
	b.WriteString("\n| --- | --- |" + strings.Repeat(" --- |", len(peers)) + "\n")
	line := func(what string, ns float64, err error, peerNS func(*peerResult) float64) {
		if err != nil {
			r.errs = append(r.errs, err)
			fmt.Fprintf(&b, "| %s | failed: %s |", what, firstLine(err.Error()))
		} else {
			fmt.Fprintf(&b, "| %s | %s |", what, formatNS(ns))
		}
		for _, p := range peers {
			switch {
			case peerNS == nil:
				b.WriteString(" no equivalent |")
			case p.res == nil:
				b.WriteString(" – |")
			case err != nil:
				fmt.Fprintf(&b, " %s |", formatNS(peerNS(p.res)))
			default:
				v := peerNS(p.res)
				fmt.Fprintf(&b, " %s (%.2fx) |", formatNS(v), v/ns)
			}
		}
		b.WriteString("\n")
	}
	mediaNS := func(p *peerResult) float64 { return p.Media.NS }
	masterNS := func(n float64) func(*peerResult) float64 {
		return func(p *peerResult) float64 { return n * p.Master.NS }
	}
	// Timed here on the very file the peers read (the package's benchmark parses a longer one).
	ns, err := timeLoop(r.PeerTime, func() error { _, err := hls.ParseMedia(media); return err })
	line(fmt.Sprintf("media playlist, %d segments (%.1f KB): parse", pm.counts[0], float64(len(media))/1024), ns, err, mediaNS)
	ns, err = ours.Metric("BenchmarkTrackerObserve/changed_body", "ns/op")
	line("tracker observation of a new body: parse + track + judge (peers: parse)", ns, err, mediaNS)
	ns, err = ours.Metric("BenchmarkTrackerObserve/identical_body", "ns/op")
	line("tracker observation of an identical body (peers cannot tell)", ns, err, nil)
	line(fmt.Sprintf("master, %d variants, %d I-frame variants, %d audio renditions (%.1f KB): parse", pm.counts[1], pm.counts[2], pm.counts[3], float64(len(master))/1024), pm.ns, nil, masterNS(1))
	ns, err = ours.Metric("BenchmarkMerge/2_regions", "ns/op")
	line("merge of that master from 2 regions (peers do not merge: 2 parses)", ns, err, masterNS(2))
	ns, err = ours.Metric("BenchmarkMerge/5_regions", "ns/op")
	line("merge of that master from 5 regions (peers: 5 parses)", ns, err, masterNS(5))

	b.WriteString("\nIn brackets: the peer's time over ours (above 1, the peer is slower).")
	var versions []string
	for _, p := range peers {
		if p.res == nil {
			fmt.Fprintf(&b, " %s: %s.", p.name, p.reason)
			continue
		}
		versions = append(versions, p.name)
	}
	b.WriteString("\n")
	if len(versions) == 0 {
		return b.String(), "no peer parser available"
	}
	return b.String(), "peers " + strings.Join(versions, ", ")
}

type masterParse struct {
	ns     float64
	counts [4]int // media segments, variants, I-frame variants, audio renditions
}

// parseMaster times hls.ParseMaster (no benchmark of it exists in the package) and counts what
// both bodies hold, to check that the peers read the same.
func (r *Runner) parseMaster(master []byte) (masterParse, error) {
	var mp masterParse
	m, err := hls.ParseMaster(master)
	if err != nil {
		return mp, err
	}
	media, err := os.ReadFile(filepath.Join(r.Root, mediaFile))
	if err != nil {
		return mp, err
	}
	pl, err := hls.ParseMedia(media)
	if err != nil {
		return mp, err
	}
	mp.counts[0] = pl.Segments
	mp.counts[1], mp.counts[2] = len(m.Variants), len(m.IFrames)
	for _, t := range m.Renditions {
		if a, ok := t.Attrs.Get("TYPE"); ok && a.Value == "AUDIO" {
			mp.counts[3]++
		}
	}
	mp.ns, err = timeLoop(r.PeerTime, func() error { _, err := hls.ParseMaster(master); return err })
	return mp, err
}

// timeLoop runs fn for about budget after a warm-up and returns ns per call.
func timeLoop(budget time.Duration, fn func() error) (float64, error) {
	for range 200 {
		if err := fn(); err != nil {
			return 0, err
		}
	}
	n := 0
	start := time.Now()
	for time.Since(start) < budget {
		for range 100 {
			_ = fn()
		}
		n += 100
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n), nil
}

// hlsjs runs hls.js's M3U8Parser in Node on the bodies.
func (r *Runner) hlsjs(ctx context.Context) peer {
	p := peer{name: "hls.js in Node"}
	node, err := exec.LookPath("node")
	if err != nil {
		p.reason = "node is not installed"
		return p
	}
	mod := filepath.Join(r.Root, "node_modules", "hls.js", "dist", "hls.mjs")
	if _, err := os.Stat(mod); err != nil {
		p.reason = "hls.js is not in node_modules (npm ci installs it)"
		return p
	}
	r.progress("timing hls.js's M3U8Parser in Node")
	res, err := r.peerScript(ctx, node, filepath.Join(r.Root, "internal/bench/testdata/hlsjs_parse.mjs"), mod)
	if err != nil {
		p.reason = "failed: " + firstLine(err.Error())
		return p
	}
	nv, _ := exec.CommandContext(ctx, node, "--version").Output()
	p.name = fmt.Sprintf("hls.js %s in Node %s", res.Version, strings.TrimSpace(string(nv)))
	p.res = res
	return p
}

// pythonM3U8 runs the Python m3u8 library on the bodies when it can be imported.
func (r *Runner) pythonM3U8(ctx context.Context) peer {
	p := peer{name: "Python m3u8"}
	py, err := exec.LookPath("python3")
	if err != nil {
		p.reason = "python3 is not installed"
		return p
	}
	if out, err := exec.CommandContext(ctx, py, "-c", "import m3u8").CombinedOutput(); err != nil {
		p.reason = "not importable here (" + lastLine(string(out)) + ")"
		return p
	}
	r.progress("timing Python's m3u8")
	res, err := r.peerScript(ctx, py, filepath.Join(r.Root, "internal/bench/testdata/m3u8_parse.py"))
	if err != nil {
		p.reason = "failed: " + firstLine(err.Error())
		return p
	}
	pv, _ := exec.CommandContext(ctx, py, "--version").Output()
	p.name = fmt.Sprintf("m3u8 %s in %s", res.Version, strings.TrimSpace(string(pv)))
	p.res = res
	return p
}

// peerScript runs a peer's script on the media and master files and decodes its last line.
func (r *Runner) peerScript(ctx context.Context, interp string, args ...string) (*peerResult, error) {
	args = append(args, filepath.Join(r.Root, mediaFile), filepath.Join(r.Root, masterFile), strconv.FormatInt(r.PeerTime.Milliseconds(), 10))
	cmd := exec.CommandContext(ctx, interp, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	var res peerResult
	if err := json.Unmarshal([]byte(lastLine(string(out))), &res); err != nil {
		return nil, fmt.Errorf("decode %q: %v", lastLine(string(out)), err)
	}
	return &res, nil
}

// detector measures playlist polls per CPU-second of the detector's process against an origin
// in another process, over HTTP and over TLS.
func (r *Runner) detector(ctx context.Context) {
	for _, tlsOn := range []bool{false, true} {
		what := "detector playlist polls per CPU-second (fetch + parse + judge), origin in another process, over "
		if tlsOn {
			what += "TLS"
		} else {
			what += "HTTP"
		}
		fig, err := r.detectorOnce(ctx, tlsOn)
		if err != nil {
			r.fail(what, err)
			continue
		}
		r.rows = append(r.rows, row{what, fig})
	}
}

func (r *Runner) detectorOnce(ctx context.Context, tlsOn bool) (string, error) {
	args := append([]string{}, r.OriginCmd[1:]...)
	certFile := filepath.Join(r.tmp, "origin.pem")
	if tlsOn {
		args = append(args, "-cert", certFile)
	}
	origin := exec.CommandContext(ctx, r.OriginCmd[0], args...)
	stop, err := origin.StdinPipe()
	if err != nil {
		return "", err
	}
	stdout, err := origin.StdoutPipe()
	if err != nil {
		return "", err
	}
	origin.Stderr = r.Log
	if err := origin.Start(); err != nil {
		return "", fmt.Errorf("start the origin: %w", err)
	}
	defer func() { stop.Close(); _ = origin.Wait() }()
	lines := bufio.NewReader(stdout)
	base, err := lines.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("the origin printed no URL: %v", err)
	}
	base = strings.TrimSpace(base)
	env := []string{"CVS_BENCH_ORIGIN=" + base}
	if tlsOn {
		env = append(env, "SSL_CERT_FILE="+certFile)
	}
	rs, err := r.benchmarks(ctx, "./internal/detector", "^BenchmarkPollOrigin$", fmt.Sprintf("%dx", r.Polls), env...)
	if err != nil {
		return "", err
	}
	stop.Close()
	stats, err := originStats(lines)
	if err != nil {
		return "", fmt.Errorf("origin: %w", err)
	}
	if err := origin.Wait(); err != nil {
		return "", fmt.Errorf("origin: %w", err)
	}
	var parts []string
	for _, n := range []int{1, 8} {
		name := fmt.Sprintf("BenchmarkPollOrigin/playlists=%d", n)
		cpu, err := rs.Metric(name, "polls/cpu-s")
		if err != nil {
			return "", err
		}
		wall, err := rs.Metric(name, "polls/s")
		if err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%s with %d playlist%s at a time (%s polls/s of wall time)", thousands(cpu), n, plural(n), thousands(wall)))
	}
	served := stats["HTTP/1.1"] + stats["HTTP/2.0"]
	if served == 0 {
		return "", errors.New("the origin served no request")
	}
	proto := "HTTP/1.1"
	if stats["HTTP/2.0"] > stats["HTTP/1.1"] {
		proto = "HTTP/2"
	}
	originCPU := origin.ProcessState.UserTime() + origin.ProcessState.SystemTime()
	return fmt.Sprintf("%s; %s keep-alive, %d polls each; the origin used %.1f us CPU per request",
		strings.Join(parts, ", "), proto, r.Polls, float64(originCPU.Microseconds())/float64(served)), nil
}

var nodeLine = regexp.MustCompile(`node (.+): (\d+) ns/request \((\d+) iterations\)`)

// copilot measures the copilot per request in goja (the edge's runtime here) and in Node.
func (r *Runner) copilot(ctx context.Context) {
	const what = "copilot per request in goja, event built and result read"
	rs, err := r.benchmarks(ctx, "./internal/local/edge", "BenchmarkCopilot/^(open_segment|closed_segment|unknown_domain|steering_manifest|handler_only)$", r.Benchtime)
	if err != nil {
		r.fail(what, err)
		return
	}
	var parts []string
	for _, c := range []string{"open segment", "closed segment", "unknown domain", "steering manifest"} {
		ns, err := rs.Metric("BenchmarkCopilot/"+strings.ReplaceAll(c, " ", "_"), "ns/op")
		if err != nil {
			r.fail(what, err)
			return
		}
		parts = append(parts, c+" "+formatNS(ns))
	}
	r.rows = append(r.rows, row{what, strings.Join(parts, ", ")})

	const whatNode = "copilot handler alone on a prebuilt event: goja / Node (goja over Node)"
	r.progress("running the copilot in Node")
	out, err := r.runTests(ctx, "./internal/local/edge", []string{"CVS_NODE_BENCH_ITERATIONS=200000"}, "-test.run=^TestCopilotInNodeMatchesGoja$", "-test.v", "-test.timeout=3m")
	if err != nil {
		r.fail(whatNode, err)
		return
	}
	if m := regexp.MustCompile(`(?m)^\s*\S+\.go:\d+: (.*)\n\s*--- SKIP`).FindSubmatch(out); m != nil {
		r.rows = append(r.rows, row{whatNode, "Node not measured: " + string(m[1])})
		return
	}
	node := map[string]float64{}
	for _, m := range nodeLine.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		node[m[1]] = v
	}
	parts = parts[:0]
	for _, c := range []string{"open segment", "closed segment"} {
		g, err := rs.Metric("BenchmarkCopilot/handler_only/"+strings.ReplaceAll(c, " ", "_"), "ns/op")
		if err != nil {
			r.fail(whatNode, err)
			return
		}
		n, ok := node[c]
		if !ok {
			r.fail(whatNode, fmt.Errorf("the Node test printed no figure for %q", c))
			return
		}
		parts = append(parts, fmt.Sprintf("%s %s / %s (%.0fx)", c, formatNS(g), formatNS(n), g/n))
	}
	r.rows = append(r.rows, row{whatNode, strings.Join(parts, ", ")})
}

// demoFields are the timeline fields of `cvsctl demo --json` shown in the table, in order.
var demoFields = []string{"stale_event_ms", "confirmed_ms", "closed_ms", "first_404_ms", "player_switched_ms", "rebuffer_events", "player"}

// demo runs the demo's failover timeline at 2 s segments when cvsctl offers it.
func (r *Runner) demo(ctx context.Context) {
	const what = "demo failover timeline at 2 s segments (`cvsctl demo --json --segment-duration 2s`), ms after the stall"
	if !r.Demo {
		r.rows = append(r.rows, row{what, "not run (-demo=false)"})
		return
	}
	bin := filepath.Join(r.tmp, "cvsctl")
	build := exec.CommandContext(ctx, r.goCmd(), "build", "-o", bin, "./cmd/cvsctl")
	build.Dir = r.Root
	if out, err := build.CombinedOutput(); err != nil {
		r.fail(what, fmt.Errorf("build cvsctl: %v: %s", err, lastLine(string(out))))
		return
	}
	// The usage says whether this cvsctl has the timeline; exit status and usage, nothing else.
	usage, _ := exec.CommandContext(ctx, bin, "demo", "-h").CombinedOutput()
	if !strings.Contains(string(usage), "segment-duration") || !strings.Contains(string(usage), "json") {
		r.rows = append(r.rows, row{what, "not available yet: this `cvsctl demo -h` offers no --json and --segment-duration"})
		return
	}
	r.progress("running cvsctl demo --json --segment-duration 2s (up to 4 minutes)")
	dctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(dctx, bin, "demo", "--json", "--segment-duration", "2s")
	cmd.Dir = r.Root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		r.fail(what, fmt.Errorf("%v: %s", err, lastLine(stderr.String())))
		return
	}
	var tl map[string]any
	if err := json.Unmarshal([]byte(lastLine(string(out))), &tl); err != nil {
		r.fail(what, fmt.Errorf("its last line is not a JSON object: %v", err))
		return
	}
	var parts []string
	for _, f := range demoFields {
		v, ok := tl[f]
		if !ok {
			parts = append(parts, f+" missing")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %v", strings.TrimSuffix(f, "_ms"), v))
	}
	r.rows = append(r.rows, row{what, strings.Join(parts, ", ")})
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "CPU model unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "CPU model unknown"
}

func formatNS(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.0f us", ns/1e3)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f us", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}
