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
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/chromedp/chromedp"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/api/apiclient"
	"github.com/clustered-video-streams/cvs/internal/api/apigw"
	"github.com/clustered-video-streams/cvs/internal/dashboard"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/memory"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestDashboardInBrowser drives the dashboard in Chromium the way an operator uses it: through
// `cvsctl dashboard`'s loopback proxy, which signs every call to the API (here the real handler
// behind an IAM-checking API Gateway stand-in) with the operator's credentials.
func TestDashboardInBrowser(t *testing.T) {
	chromium := testenv.Command(t, "chromium", "the dashboard browser test")
	const (
		cluster = "live-1"
		d1      = "d111111abcdef8.cloudfront.net"
		d2      = "d222222abcdef8.cloudfront.net"
		opARN   = "arn:aws:sts::123456789012:assumed-role/StreamOperator/alice"
		keyID   = "AKIDEXAMPLEOPERATOR1"
		secret  = "dummy-secret-for-tests-only"
	)
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	store := memory.New(nil)
	for _, in := range []struct{ domain, region string }{{d1, "us-east-1"}, {d2, "eu-west-1"}} {
		r := state.Registration{Cluster: cluster, Domain: in.domain, Region: in.region,
			DistributionPlaylistURL: "https://" + in.domain + "/live-1/index.m3u8",
			OriginPlaylistURL:       "https://origin-" + in.region + ".example.com/live-1/index.m3u8"}
		if _, err := store.Register(ctx, r, state.Change{By: "local:seed", Reason: "seed"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordHealth(ctx, cluster, in.domain, state.HealthFresh, state.Change{By: "local:seed", Reason: "playlists advancing"}); err != nil {
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
}
