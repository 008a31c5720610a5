package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/clustered-video-streams/cvs/internal/dashboard"
)

func runDashboard(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "dashboard")
	f := addAPIFlags(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "loopback address to serve the dashboard on (port 0: any free port)")
	fs.Usage = usageFunc(fs, "[flags]", `
Serves the dashboard on a loopback address and forwards its calls to the API, signing each one
with your AWS credentials (the default credential chain), so no key ever reaches the browser.
Open the URL it prints. Stop with Ctrl-C.`)
	if _, code, ok := parseCommand(e, fs, args, 0, 0); !ok {
		return code
	}
	host, _, err := net.SplitHostPort(*listen)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return fail(e, &usageError{fmt.Sprintf("--listen %q: want a loopback address such as 127.0.0.1:8080 (the dashboard acts with your credentials)", *listen)})
	}
	hc, base, err := f.httpClient(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail(e, err)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	hc.Timeout = f.timeout // the command runs until interrupted; --timeout bounds each forwarded call
	srv := &http.Server{
		Handler:           dashboard.NewProxy(dashboard.ProxyOptions{API: base, Client: hc, Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(e.stdout, "dashboard: http://%s/dashboard/ (API %s)\n", l.Addr(), base.Redacted())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fail(e, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fail(e, err)
	}
	return exitOK
}
