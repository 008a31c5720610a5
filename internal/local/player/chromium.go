package player

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

//go:embed page.html
var page []byte

// Errors StartChromium fails with when a part is missing, so callers can fall back to the
// HLS client (or a test can skip).
var (
	ErrNoChromium = errors.New("chromium is not installed")
	ErrNoHLSJS    = errors.New("hls.js is missing (npm ci installs it into node_modules)")
)

// Options set up a player.
type Options struct {
	// Chromium is the browser's path; "" looks up chromium on PATH.
	Chromium string
	// HLSJS is the path of hls.js's dist/hls.min.js; "" looks for node_modules/hls.js in the
	// working directory and its parents.
	HLSJS string
	// Regions names hosts ("127.0.0.1:8081") by region, so fragments say which region served
	// them; hosts not listed are reported as themselves.
	Regions map[string]string
}

// Chromium is hls.js playing a master in headless Chromium, on a page served from its own
// loopback origin (so the master's CORS headers are put to the test).
type Chromium struct {
	regions map[string]string
	server  *http.Server
	stop    []context.CancelFunc
	tab     context.Context
	userDir string
	desc    string
	pageURL string

	mu     sync.Mutex
	events []Event
}

var _ Viewer = (*Chromium)(nil)

// StartChromium starts Chromium, opens the player page on masterURL and waits until hls.js is
// loaded. The browser outlives ctx (which bounds only the start); Close stops it.
func StartChromium(ctx context.Context, masterURL string, opts Options) (*Chromium, error) {
	if _, err := url.ParseRequestURI(masterURL); err != nil {
		return nil, fmt.Errorf("player: master URL %q: %w", masterURL, err)
	}
	bin := opts.Chromium
	if bin == "" {
		p, err := exec.LookPath("chromium")
		if err != nil {
			return nil, ErrNoChromium
		}
		bin = p
	}
	hlsJS := opts.HLSJS
	if hlsJS == "" {
		p, err := FindHLSJS()
		if err != nil {
			return nil, err
		}
		hlsJS = p
	}
	userDir, err := os.MkdirTemp("", "cvs-player-")
	if err != nil {
		return nil, fmt.Errorf("player: %w", err)
	}
	c := &Chromium{regions: opts.Regions, userDir: userDir}
	if err := c.start(ctx, bin, hlsJS, masterURL); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Chromium) start(ctx context.Context, bin, hlsJS, masterURL string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("player: page server: %w", err)
	}
	c.server = &http.Server{Handler: pageHandler(hlsJS), ReadHeaderTimeout: 5 * time.Second}
	go c.server.Serve(ln)

	// The browser lives until Close, not until the caller's start-up deadline.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(ctx),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// A player in a headless tab must not be throttled like a hidden one.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(c.userDir), chromedp.WindowSize(1260, 560))
	c.stop = append(c.stop, cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	c.stop = append(c.stop, cancelTab)
	c.tab = tab
	// The first run starts the browser: it must not carry the caller's deadline.
	if err := chromedp.Do(tab); err != nil {
		return fmt.Errorf("player: start %s: %w", bin, err)
	}
	regions, err := json.Marshal(c.regions)
	if err != nil {
		return fmt.Errorf("player: regions: %w", err)
	}
	pageURL := pageAddress(ln.Addr().String(), masterURL, regions)
	c.pageURL = pageURL
	type pageInfo struct {
		Version string `json:"version"`
		Agent   string `json:"agent"`
	}
	run, cancel := c.bound(ctx)
	defer cancel()
	if err := chromedp.Do(run, chromedp.Navigate(pageURL)); err != nil {
		return fmt.Errorf("player: open %s: %w", pageURL, err)
	}
	info, err := chromedp.Run(run, chromedp.Evaluate[pageInfo](`({version: typeof Hls === "undefined" ? "" : Hls.version, agent: navigator.userAgent})`))
	if err != nil {
		return fmt.Errorf("player: read %s: %w", pageURL, err)
	}
	if info.Version == "" {
		return fmt.Errorf("player: the page did not load hls.js from %s", hlsJS)
	}
	c.desc = "hls.js " + info.Version + " in " + browserName(info.Agent)
	return nil
}

// bound returns a context of the tab that also ends with ctx.
func (c *Chromium) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	run, cancel := context.WithCancelCause(c.tab)
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return run, func() { stop(); cancel(nil) }
}

var chromeVersion = regexp.MustCompile(`Chrome/(\d+)`)

func browserName(agent string) string {
	if m := chromeVersion.FindStringSubmatch(agent); m != nil {
		return "Chromium " + m[1]
	}
	return "Chromium"
}

func pageHandler(hlsJS string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	})
	mux.HandleFunc("GET /hls.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, hlsJS)
	})
	return mux
}

// FindHLSJS returns node_modules/hls.js/dist/hls.min.js in the working directory or the
// nearest parent that has it.
func FindHLSJS() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("player: %w", err)
	}
	for {
		p := filepath.Join(dir, "node_modules", "hls.js", "dist", "hls.min.js")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoHLSJS
		}
		dir = parent
	}
}

func pageAddress(host, masterURL string, regions []byte) string {
	q := url.Values{"src": {masterURL}, "regions": {string(regions)}}
	return "http://" + host + "/?" + q.Encode()
}

// PageURL is the address of the player page the browser shows; another browser can open it too
// while the Chromium runs.
func (c *Chromium) PageURL() string { return c.pageURL }

// Page is the player page served on loopback for a person's browser, without Chromium.
type Page struct {
	// URL opens hls.js on the master.
	URL    string
	server *http.Server
}

// ServePage serves the player page on masterURL on a free loopback port until Close, with
// hls.js from opts.HLSJS (or found as StartChromium finds it).
func ServePage(masterURL string, opts Options) (*Page, error) {
	if _, err := url.ParseRequestURI(masterURL); err != nil {
		return nil, fmt.Errorf("player: master URL %q: %w", masterURL, err)
	}
	hlsJS := opts.HLSJS
	if hlsJS == "" {
		p, err := FindHLSJS()
		if err != nil {
			return nil, err
		}
		hlsJS = p
	}
	regions, err := json.Marshal(opts.Regions)
	if err != nil {
		return nil, fmt.Errorf("player: regions: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("player: page server: %w", err)
	}
	p := &Page{URL: pageAddress(ln.Addr().String(), masterURL, regions),
		server: &http.Server{Handler: pageHandler(hlsJS), ReadHeaderTimeout: 5 * time.Second}}
	go p.server.Serve(ln)
	return p, nil
}

// Close stops serving the page.
func (p *Page) Close() error { return p.server.Close() }

// Describe says what plays, for example "hls.js 1.7.4 in Chromium 156".
func (c *Chromium) Describe() string { return c.desc }

// Snapshot reads what the page recorded since the last call and the media's currentTime.
func (c *Chromium) Snapshot(ctx context.Context) (Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	type pageState struct {
		Events []Event `json:"events"`
		Time   float64 `json:"time"`
	}
	run, cancel := c.bound(ctx)
	defer cancel()
	js := fmt.Sprintf(`({events: cvs.events.slice(%d), time: document.querySelector("video").currentTime})`, len(c.events))
	got, err := chromedp.Run(run, chromedp.Evaluate[pageState](js))
	if err != nil {
		return Snapshot{}, fmt.Errorf("player: read the page: %w", err)
	}
	c.events = append(c.events, got.Events...)
	s := Snapshot{At: time.Now(), CurrentTime: got.Time, Events: append([]Event(nil), c.events...)}
	summarize(&s)
	return s, nil
}

// Screenshot returns a PNG of the player page: the video and the overlay with the region of
// the last fragment and the timeline.
func (c *Chromium) Screenshot(ctx context.Context) ([]byte, error) {
	run, cancel := c.bound(ctx)
	defer cancel()
	png, err := chromedp.Run(run, chromedp.CaptureScreenshot())
	if err != nil {
		return nil, fmt.Errorf("player: screenshot: %w", err)
	}
	return png, nil
}

// Close stops the browser and the page server.
func (c *Chromium) Close() error {
	for i := len(c.stop) - 1; i >= 0; i-- {
		c.stop[i]()
	}
	c.stop = nil
	var err error
	if c.server != nil {
		err = c.server.Close()
	}
	if c.userDir != "" {
		err = errors.Join(err, os.RemoveAll(c.userDir))
		c.userDir = ""
	}
	return err
}
