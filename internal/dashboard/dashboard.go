// Package dashboard is the operators' single pane of glass: a static page (HTML, vanilla JS,
// CSS; no build step, nothing from a CDN) embedded in the binary, and the loopback server of
// `cvsctl dashboard`, which serves the page and forwards its API calls with the operator's own
// credentials, so no key ever reaches the browser.
package dashboard

import (
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
)

//go:embed static
var files embed.FS

// Assets returns the page's files: index.html, app.js, timeline.js, style.css.
func Assets() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(fmt.Sprintf("dashboard: embedded static folder: %v", err)) // cannot happen: embedded at build time
	}
	return sub
}

// Static serves the page's files at the root of whatever prefix it is mounted under.
func Static() http.Handler {
	fileServer := http.FileServerFS(Assets())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page is small and changes with the binary: never let a browser keep an old copy.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fileServer.ServeHTTP(w, r)
	})
}

// MaxBody is the largest request body the proxy forwards.
const MaxBody = 16 << 10

// ProxyOptions configure the loopback server of `cvsctl dashboard`.
type ProxyOptions struct {
	// API is the API's base URL (its $default stage root).
	API *url.URL
	// Client sends the forwarded requests; its transport signs them (or, for a loopback API,
	// names the operator).
	Client *http.Client
	Logger *slog.Logger
}

// NewProxy returns the handler of `cvsctl dashboard`: the page at /dashboard/, and the API's
// routes under /clusters forwarded to opts.API. Requests must come from the page itself: Host
// must be a loopback name (no DNS rebinding) and a cross-origin Origin is refused, so another
// site open in the operator's browser cannot make the proxy sign anything.
func NewProxy(opts ProxyOptions) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /dashboard/", http.StripPrefix("/dashboard", Static()))
	mux.Handle("GET /{$}", http.RedirectHandler("/dashboard/", http.StatusFound))
	forward := &forwarder{api: opts.API, client: opts.Client, log: log}
	mux.Handle("GET /clusters", forward)
	mux.Handle("/clusters/", forward)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			refuse(w, http.StatusForbidden, "forbidden", "the dashboard answers only on a loopback address")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			refuse(w, http.StatusForbidden, "forbidden", "cross-origin requests are refused")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

type forwarder struct {
	api    *url.URL
	client *http.Client
	log    *slog.Logger
}

// ServeHTTP sends a clean copy of the request to the API: only the method, path, query, body
// and the headers the API reads, so that what is signed is exactly what is sent.
func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodPut, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, PUT, POST")
		refuse(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not forwarded")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		refuse(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", MaxBody))
		return
	}
	target := f.api.JoinPath(r.URL.Path)
	target.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), strings.NewReader(string(body)))
	if err != nil {
		refuse(w, http.StatusBadRequest, "invalid_request", "cannot forward this request")
		return
	}
	for _, h := range []string{"Content-Type", "Accept", "If-Match"} {
		if v := r.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	resp, err := f.client.Do(out)
	if err != nil {
		f.log.ErrorContext(r.Context(), "dashboard proxy: API unreachable", "method", r.Method, "path", r.URL.Path, "err", err)
		refuse(w, http.StatusBadGateway, "api_unreachable", "the API could not be reached: "+err.Error())
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Etag", "Allow"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		f.log.WarnContext(r.Context(), "dashboard proxy: copying the API's answer", "path", r.URL.Path, "err", err)
	}
}

func refuse(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": message})
}

func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
