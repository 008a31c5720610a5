package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
)

// Edge is a local stand-in for one regional CloudFront distribution: for every request it runs
// the copilot with the distribution's domain, then either writes the function's response or
// proxies the (possibly modified) request to the origin. It caches nothing, so it behaves like
// a distribution whose every request misses the cache; the copilot runs on viewer-request,
// before the cache, either way.
type Edge struct {
	domain  string
	copilot *Copilot
	proxy   *httputil.ReverseProxy
	log     *slog.Logger
	seq     atomic.Uint64
}

// EdgeOptions tune an Edge.
type EdgeOptions struct {
	Transport http.RoundTripper // to the origin; nil: http.DefaultTransport
	Log       *slog.Logger      // nil: slog.Default()
}

// NewEdge returns an edge for the distribution domain (the KeyValueStore key the copilot looks
// up) in front of origin.
func NewEdge(domain string, origin *url.URL, c *Copilot, o EdgeOptions) *Edge {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	e := &Edge{domain: domain, copilot: c, log: o.Log}
	e.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(origin)
			pr.SetXForwarded()
		},
		Transport: o.Transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			e.log.Warn("edge: origin request failed", "domain", domain, "url", r.URL.String(), "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return e
}

// Domain returns the distribution domain the edge answers for.
func (e *Edge) Domain() string { return e.domain }

// ServeHTTP runs the copilot and then answers or proxies.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev := EventFromHTTP(r, e.domain, e.domain+"-"+strconv.FormatUint(e.seq.Add(1), 10))
	res, err := e.copilot.Handle(r.Context(), ev)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			e.log.Error("edge: copilot failed; answering 503 as CloudFront does", "domain", e.domain, "uri", ev.Request.URI, "err", err)
		}
		http.Error(w, "The CloudFront function associated with this distribution failed.", http.StatusServiceUnavailable)
		return
	}
	if res.Response != nil {
		writeResponse(w, r, res.Response)
		return
	}
	out := r.Clone(r.Context())
	if err := applyRequest(out, ev.Request, *res.Request); err != nil {
		e.log.Error("edge: the copilot returned a request that cannot be sent", "domain", e.domain, "err", err)
		http.Error(w, "The CloudFront function associated with this distribution failed.", http.StatusServiceUnavailable)
		return
	}
	e.proxy.ServeHTTP(w, out)
}

func writeResponse(w http.ResponseWriter, r *http.Request, resp *Response) {
	h := w.Header()
	for name, f := range resp.Headers {
		for _, v := range f.Values() {
			h.Add(name, v)
		}
	}
	for name, f := range resp.Cookies {
		for _, v := range f.Values() {
			h.Add("Set-Cookie", (&http.Cookie{Name: name, Value: v}).String())
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(resp.Body))
	}
}

// applyRequest carries the function's changes (if any) from the event request over to the
// HTTP request: the URI, the query string, headers and cookies. Untouched parts stay
// byte-for-byte as the viewer sent them.
func applyRequest(out *http.Request, before, after Request) error {
	if after.URI != before.URI {
		u, err := url.Parse(after.URI)
		if err != nil || u.Path == "" || !strings.HasPrefix(after.URI, "/") {
			return fmt.Errorf("uri %q is not an absolute path", after.URI)
		}
		out.URL.Path, out.URL.RawPath = u.Path, u.RawPath
	}
	if !reflect.DeepEqual(after.Querystring, before.Querystring) {
		q := url.Values{}
		for name, f := range after.Querystring {
			q[name] = f.Values()
		}
		out.URL.RawQuery = q.Encode()
	}
	if !reflect.DeepEqual(after.Headers, before.Headers) {
		for name := range before.Headers {
			if _, ok := after.Headers[name]; !ok {
				out.Header.Del(name)
			}
		}
		for name, f := range after.Headers {
			if reflect.DeepEqual(before.Headers[name], f) {
				continue
			}
			if name == "host" {
				out.Host = f.Value
				continue
			}
			out.Header[http.CanonicalHeaderKey(name)] = f.Values()
		}
	}
	if !reflect.DeepEqual(after.Cookies, before.Cookies) {
		out.Header.Del("Cookie")
		for name, f := range after.Cookies {
			for _, v := range f.Values() {
				out.AddCookie(&http.Cookie{Name: name, Value: v})
			}
		}
	}
	return nil
}
