package tests

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the page's local time is checked in a named zone, whatever the machine's

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/api/apiclient"
	"github.com/clustered-video-streams/cvs/internal/dashboard"
	"github.com/clustered-video-streams/cvs/internal/local/apigw"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// storyClock is the store's clock: fixed while the test writes the past hour, time.Now after.
type storyClock struct {
	mu    sync.Mutex
	fixed time.Time
}

func (c *storyClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed.IsZero() {
		return time.Now()
	}
	return c.fixed
}

func (c *storyClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fixed = t
}

// TestDashboardInBrowser drives the dashboard in Chromium the way an operator uses it: through
// `cvsctl dashboard`'s loopback proxy, which signs every call to the API (here the real handler
// behind an IAM-checking API Gateway stand-in) with the operator's credentials. It starts from
// an hour with a story (an automated failover of one region, reopened by an operator), checks
// the timeline tells it, and with -update-docs writes docs/dashboard.png from it.
func TestDashboardInBrowser(t *testing.T) {
	chromium := testenv.Command(t, "chromium", "the dashboard browser test")
	const (
		cluster = "live-1"
		d1      = "d111111abcdef8.cloudfront.net"
		d2      = "d222222abcdef8.cloudfront.net"
		opARN   = "arn:aws:sts::123456789012:assumed-role/StreamOperator/alice"
		keyID   = "AKIDEXAMPLEOPERATOR1"
		secret  = "dummy-secret-for-tests-only"
		zone    = "Europe/Paris" // the viewer's time zone
		// Who changed what in the story.
		detector  = "arn:aws:lambda:us-east-1:123456789012:function:cvs-detector"
		execution = "arn:aws:states:us-east-1:123456789012:execution:cvs-failover:live-1-d111111abcdef8-17"
		whyStale  = "media playlists unchanged for 6.2 s (limit 6 s)"
		whyClose  = "origin stale, confirmed by a fresh probe: viewers move to eu-west-1"
		whyFresh  = "media playlists advancing again"
		whyReopen = "encoder replaced, us-east-1 back in service"
	)
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	local, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}

	// The past hour, written as it happened, each change at its own time.
	clock := &storyClock{}
	store := memory.New(clock.Now)
	now := time.Now().Truncate(time.Second)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	story := []struct {
		at     time.Time
		domain string
		do     func(domain string, c state.Change) (state.Instance, error)
		change state.Change
	}{
		{at: ago(41 * time.Minute), domain: d1, change: state.Change{By: detector, Reason: whyStale},
			do: func(d string, c state.Change) (state.Instance, error) {
				return store.RecordHealth(ctx, cluster, d, state.HealthStale, c)
			}},
		{at: ago(41*time.Minute - 7*time.Second), domain: d1, change: state.Change{By: execution, Reason: whyClose},
			do: func(d string, c state.Change) (state.Instance, error) { return store.Close(ctx, cluster, d, c) }},
		{at: ago(23 * time.Minute), domain: d1, change: state.Change{By: detector, Reason: whyFresh},
			do: func(d string, c state.Change) (state.Instance, error) {
				return store.RecordHealth(ctx, cluster, d, state.HealthFresh, c)
			}},
		{at: ago(18 * time.Minute), domain: d1, change: state.Change{By: opARN, Reason: whyReopen},
			do: func(d string, c state.Change) (state.Instance, error) { return store.Open(ctx, cluster, d, c) }},
	}
	clock.Set(ago(70 * time.Minute))
	for _, in := range []struct{ domain, region string }{{d1, "us-east-1"}, {d2, "eu-west-1"}} {
		r := state.Registration{Cluster: cluster, Domain: in.domain, Region: in.region,
			DistributionPlaylistURL: "https://" + in.domain + "/live-1/index.m3u8",
			OriginPlaylistURL:       "https://origin-" + in.region + ".example.com/live-1/index.m3u8"}
		if _, err := store.Register(ctx, r, state.Change{By: "local:seed", Reason: "seed"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, cluster, in.domain, state.HealthFresh, state.Change{By: detector, Reason: "playlists advancing"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range story {
		clock.Set(step.at)
		for _, d := range []string{d1, d2} { // both detectors keep running, saving their memory
			if _, err := store.Vouch(ctx, cluster, d); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := step.do(step.domain, step.change); err != nil {
			t.Fatalf("story at %s: %v", step.at.Format(time.TimeOnly), err)
		}
	}
	clock.Set(time.Time{})
	for _, d := range []string{d1, d2} { // both detectors are running now
		if _, err := store.Vouch(ctx, cluster, d); err != nil {
			t.Fatal(err)
		}
	}
	apiSrv := httptest.NewServer(&apigw.Gateway{
		Region:     "us-east-1",
		Principals: []apigw.Principal{{AccessKeyID: keyID, SecretAccessKey: secret, ARN: opARN}},
		Lambda:     api.LambdaHandler(api.New(api.Options{Store: store, Logger: quiet})),
	})
	defer apiSrv.Close()
	base, err := url.Parse(apiSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(dashboard.NewProxy(dashboard.ProxyOptions{
		API: base,
		Client: &http.Client{Transport: &apiclient.SigV4{
			Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
			Region:      "us-east-1",
		}},
		Logger: quiet,
	}))
	defer proxy.Close()

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Env("TZ="+zone),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// The first run starts the browser and must not carry a timeout (it would stop the browser);
	// each step below gets its own.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	step := func(t *testing.T) context.Context {
		t.Helper()
		c, cancel := context.WithTimeout(browser, 30*time.Second)
		t.Cleanup(cancel)
		return c
	}

	row := func(domain string) string { return `tr[data-domain="` + domain + `"]` }
	if err := chromedp.Do(step(t),
		chromedp.Navigate(proxy.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(row(d1)+" .badge.open")),
		chromedp.WaitVisible(chromedp.CSS(row(d2)+" .badge.open")),
	); err != nil {
		t.Fatalf("load the dashboard: %v", err)
	}
	rows, err := chromedp.Run(step(t), chromedp.Evaluate[int](`document.querySelectorAll("table.instances tbody tr").length`))
	if err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Fatalf("the page shows %d instances, want 2", rows)
	}

	t.Run("the timeline tells the last hour", func(t *testing.T) {
		ctx := step(t)
		tl := func(domain string) string { return `.timeline[data-domain="` + domain + `"]` }
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(tl(d1)+" li.tl-mark:nth-child(2)"))); err != nil {
			t.Fatalf("wait for the timeline: %v", err)
		}
		type seg struct{ Value, From, To string }
		type mark struct{ At, Time, Text string }
		type shown struct {
			Health, Open []seg
			Marks        []mark
			Healthy      string
			Summary      string
		}
		read := func(domain string) shown {
			t.Helper()
			got, err := chromedp.Run(ctx, chromedp.Evaluate[shown](`(() => {
				const tl = document.querySelector(`+"`"+tl(domain)+"`"+`);
				const segs = (strip) => [...tl.querySelectorAll(".strip." + strip + " .seg")].map((s) =>
					({Value: s.dataset.value, From: s.dataset.from, To: s.dataset.to}));
				return {
					Health: segs("health"), Open: segs("open"),
					Marks: [...tl.querySelectorAll("li.tl-mark")].map((li) =>
						({At: li.dataset.at, Time: li.querySelector("time").textContent, Text: li.textContent})),
					Healthy: document.querySelector(`+"`"+row(domain)+" td.healthy`"+`).textContent,
					Summary: document.querySelector(".cluster .summary").textContent,
				};
			})()`))
			if err != nil {
				t.Fatalf("read the timeline of %s: %v", domain, err)
			}
			return got
		}
		iso := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
		got := read(d1)
		type change struct{ value, at string }
		boundaries := func(segs []seg) []change {
			var out []change
			for i, s := range segs {
				if i > 0 && segs[i-1].To != s.From {
					t.Errorf("segments %d and %d do not meet: %s, %s", i-1, i, segs[i-1].To, s.From)
				}
				at := s.From
				if i == 0 {
					at = "" // the window's start, which moves with the clock
				}
				out = append(out, change{s.Value, at})
			}
			return out
		}
		if diff := cmp.Diff([]change{{"fresh", ""}, {"stale", iso(story[0].at)}, {"fresh", iso(story[2].at)}}, boundaries(got.Health), cmp.AllowUnexported(change{})); diff != "" {
			t.Errorf("health strip of %s (-want +got):\n%s", d1, diff)
		}
		if diff := cmp.Diff([]change{{"open", ""}, {"closed", iso(story[1].at)}, {"open", iso(story[3].at)}}, boundaries(got.Open), cmp.AllowUnexported(change{})); diff != "" {
			t.Errorf("open strip of %s (-want +got):\n%s", d1, diff)
		}
		if len(got.Marks) != 2 {
			t.Fatalf("marks of %s: %+v, want the close and the reopen", d1, got.Marks)
		}
		for i, want := range []struct {
			at    time.Time
			words []string
		}{
			{story[1].at, []string{"closed", "by automated failover", "execution:cvs-failover:live-1-d111111abcdef8-17", whyClose}},
			{story[3].at, []string{"opened", "by operator", "assumed-role/StreamOperator/alice", whyReopen}},
		} {
			m := got.Marks[i]
			if m.At != iso(want.at) || m.Time != want.at.In(local).Format(time.TimeOnly) {
				t.Errorf("mark %d at %s shown as %q, want %s shown as %s (%s)", i+1, m.At, m.Time, iso(want.at), want.at.In(local).Format(time.TimeOnly), zone)
			}
			for _, w := range want.words {
				if !strings.Contains(m.Text, w) {
					t.Errorf("mark %d reads %q, lacks %q", i+1, m.Text, w)
				}
			}
		}
		other := read(d2)
		if diff := cmp.Diff([]change{{"fresh", ""}}, boundaries(other.Health), cmp.AllowUnexported(change{})); diff != "" {
			t.Errorf("health strip of %s (-want +got):\n%s", d2, diff)
		}
		if len(other.Marks) != 0 {
			t.Errorf("marks of %s: %+v, want none", d2, other.Marks)
		}
		if got.Healthy != "healthy" || other.Healthy != "healthy" || !strings.Contains(got.Summary, "2 open and healthy") {
			t.Errorf("healthy shown as %q and %q, summary %q; want both healthy", got.Healthy, other.Healthy, got.Summary)
		}

		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		shot := filepath.Join(t.TempDir(), "dashboard.png")
		if *updateDocs {
			shot = filepath.Join(testenv.RepoRoot(t), "docs", "dashboard.png")
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot (%d KB): %s", len(png)>>10, shot)
	})

	t.Run("close one with a reason", func(t *testing.T) {
		ctx := step(t)
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(row(d1)+` button.act[data-action="close"]`)),
			chromedp.WaitVisible(chromedp.ID("confirm-reason")),
			chromedp.SendKeys(chromedp.ID("confirm-reason"), "encoder maintenance in us-east-1"),
			chromedp.Click(chromedp.ID("confirm-ok")),
			chromedp.WaitNotVisible(chromedp.ID("confirm")),
			chromedp.WaitVisible(chromedp.CSS(row(d1)+" .badge.closed")),
			chromedp.WaitVisible(chromedp.CSS(row(d1)+` button.act[data-action="open"]`)),
		); err != nil {
			t.Fatalf("close through the page: %v", err)
		}
		history, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("table.history")))
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.Instance(ctx, cluster, d1)
		if err != nil {
			t.Fatal(err)
		}
		if got.Open || got.ChangedBy != opARN || got.Reason != "encoder maintenance in us-east-1" {
			t.Fatalf("store after the close: open %v by %q reason %q", got.Open, got.ChangedBy, got.Reason)
		}
		if !strings.Contains(history, "encoder maintenance in us-east-1") || !strings.Contains(history, "assumed-role/StreamOperator/alice") {
			t.Fatalf("history on the page lacks the close and who made it:\n%s", history)
		}
	})

	t.Run("the guard's refusal is shown plainly", func(t *testing.T) {
		ctx := step(t)
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(row(d2)+` button.act[data-action="close"]`)),
			chromedp.WaitVisible(chromedp.ID("confirm-reason")),
			chromedp.SendKeys(chromedp.ID("confirm-reason"), "try closing the last one"),
			chromedp.Click(chromedp.ID("confirm-ok")),
			chromedp.WaitVisible(chromedp.ID("confirm-error")),
		); err != nil {
			t.Fatalf("refused close through the page: %v", err)
		}
		for _, id := range []string{"confirm-error", "notice-text"} {
			text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, "Refused by the guard") || !strings.Contains(text, "no other instance of the cluster is open and healthy") {
				t.Fatalf("refusal shown in #%s as %q", id, text)
			}
		}
		if got, _ := store.Instance(ctx, cluster, d2); !got.Open {
			t.Fatal("the refused close closed the instance")
		}
		if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			shot := filepath.Join(os.TempDir(), "cvs-dashboard-refusal.png")
			if err := os.WriteFile(shot, png, 0o644); err == nil {
				t.Logf("screenshot: %s", shot)
			}
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("confirm-cancel")), chromedp.WaitNotVisible(chromedp.ID("confirm"))); err != nil {
			t.Fatalf("cancel the dialog: %v", err)
		}
	})

	t.Run("changes made elsewhere appear within a refresh", func(t *testing.T) {
		ctx := step(t)
		if _, err := store.RecordHealth(ctx, cluster, d2, state.HealthStale, state.Change{By: "local:detector", Reason: "playlists stopped"}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(row(d2)+" .badge.stale"))); err != nil {
			t.Fatalf("wait for the detector's change: %v", err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		shot := filepath.Join(os.TempDir(), "cvs-dashboard.png")
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", shot)
	})

	t.Run("a forced open is sent as forced", func(t *testing.T) {
		ctx := step(t)
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(row(d1)+` button.act[data-action="open"]`)),
			chromedp.WaitVisible(chromedp.ID("confirm-force")),
			chromedp.Click(chromedp.ID("confirm-force")),
			chromedp.SendKeys(chromedp.ID("confirm-reason"), "control region down, reopening"),
			chromedp.Click(chromedp.ID("confirm-ok")),
			chromedp.WaitNotVisible(chromedp.ID("confirm")),
			chromedp.WaitVisible(chromedp.CSS(row(d1)+" .badge.open")),
		); err != nil {
			t.Fatalf("forced open through the page: %v", err)
		}
		page, err := store.History(ctx, state.HistoryQuery{Cluster: cluster, Domain: d1, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if r := page.Records[0]; r.After != "true" || !r.Force || r.By != opARN {
			t.Fatalf("newest record = %+v, want an open forced by %s", r, opARN)
		}
	})

	t.Run("a region whose detector went silent is not shown as healthy", func(t *testing.T) {
		ctx := step(t)
		const (
			cluster = "live-2"
			d3      = "d333333abcdef8.cloudfront.net"
		)
		clock.Set(time.Now().Add(-state.DefaultHeartbeatMaxAge - 7*time.Minute))
		r := state.Registration{Cluster: cluster, Domain: d3, Region: "ap-south-1",
			DistributionPlaylistURL: "https://" + d3 + "/live-2/index.m3u8", OriginPlaylistURL: "https://origin-ap-south-1.example.com/live-2/index.m3u8"}
		if _, err := store.Register(ctx, r, state.Change{By: "local:seed", Reason: "seed"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, cluster, d3, state.HealthFresh, state.Change{By: detector, Reason: "playlists advancing"}); err != nil {
			t.Fatal(err)
		}
		clock.Set(time.Time{}) // and its detector has said nothing since
		section := `section[data-cluster="` + cluster + `"] `
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(section+row(d3)+" td.healthy"))); err != nil {
			t.Fatalf("wait for %s: %v", cluster, err)
		}
		text := func(css string) string {
			t.Helper()
			s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(section+css)))
			if err != nil {
				t.Fatalf("read %s: %v", css, err)
			}
			return s
		}
		healthCell, healthy, summary := text(row(d3)+" td:nth-child(3)"), text(row(d3)+" td.healthy"), text(".summary")
		if healthCell != "fresh" || !strings.Contains(healthy, "not healthy") || !strings.Contains(healthy, "detector silent since") {
			t.Errorf("%s shown with health %q and healthy %q, want fresh but not healthy: detector silent", d3, healthCell, healthy)
		}
		if !strings.Contains(summary, "0 open and healthy") {
			t.Errorf("summary of %s = %q, want 0 open and healthy", cluster, summary)
		}
	})
}
