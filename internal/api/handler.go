// Package api is the manual-override HTTP API (clusters, instances, open and close with a reason,
// registration, the audit trail) and the embedded operator dashboard, as one net/http handler that
// runs in Lambda behind an HTTP API, in the local runtime and in tests.
package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/clustered-video-streams/cvs/internal/dashboard"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// Store is what the API needs of the state store.
type Store interface {
	Register(ctx context.Context, r state.Registration, c state.Change) (state.Instance, error)
	Instance(ctx context.Context, cluster, domain string) (state.Instance, error)
	Instances(ctx context.Context, cluster string) ([]state.Instance, error)
	Clusters(ctx context.Context) ([]string, error)
	Close(ctx context.Context, cluster, domain string, c state.Change) (state.Instance, error)
	Open(ctx context.Context, cluster, domain string, c state.Change) (state.Instance, error)
	History(ctx context.Context, q state.HistoryQuery) (state.HistoryPage, error)
}

// DefaultMaxBody is the largest request body the API reads, in bytes.
const DefaultMaxBody = 16 << 10

// Options configure the handler.
type Options struct {
	Store  Store
	Logger *slog.Logger // nil: slog.Default()
	// Caller names who makes a request, for changed_by. Nil means GatewayCaller: the IAM
	// identity API Gateway put in the request context. Writes without a caller are refused.
	Caller CallerFunc
	// MaxBody limits request bodies (0: DefaultMaxBody); larger bodies get 413.
	MaxBody int64
	// LocalDomains lets the local runtime key instances by loopback host:port as well as by
	// CloudFront domain. The deployed API leaves it off.
	LocalDomains bool
	// Master, when set, serves POST /clusters/{cluster}/master (merged-master regeneration).
	Master MasterRegenerator
	// Now is the clock and HeartbeatMaxAge the detector heartbeat age the cluster list counts
	// healthy instances by (state.Instance.HealthyAt); nil and zero mean time.Now and
	// state.DefaultHeartbeatMaxAge.
	Now             func() time.Time
	HeartbeatMaxAge time.Duration
}

// ClusterSummary is one entry of the cluster list.
type ClusterSummary struct {
	Cluster   string `json:"cluster"`
	Instances int    `json:"instances"`
	Open      int    `json:"open"`
	Healthy   int    `json:"healthy"` // open, fresh and vouched for by their detector (HealthyAt)
}

// ClusterList is the body of GET /clusters.
type ClusterList struct {
	Clusters []ClusterSummary `json:"clusters"`
}

// Cluster is the body of GET /clusters/{cluster}: its instances, ordered by region and domain,
// and the domains of those that count as healthy now, as the cluster list counts them.
type Cluster struct {
	Cluster   string           `json:"cluster"`
	Instances []state.Instance `json:"instances"`
	Healthy   []string         `json:"healthy"` // open, fresh and vouched for by their detector (HealthyAt)
}

// RegisterRequest is the body of PUT /clusters/{cluster}/instances/{domain}.
type RegisterRequest struct {
	Region                  string `json:"region"`
	DistributionPlaylistURL string `json:"distribution_playlist_url"`
	OriginPlaylistURL       string `json:"origin_playlist_url"`
	Reason                  string `json:"reason,omitempty"`
	ExpectedVersion         int64  `json:"expected_version,omitempty"`
}

// CloseRequest is the body of POST .../close. Force closes even the last open, healthy instance.
type CloseRequest struct {
	Reason          string `json:"reason"`
	Force           bool   `json:"force,omitempty"`
	ExpectedVersion int64  `json:"expected_version,omitempty"`
}

// OpenRequest is the body of POST .../open. Force lets the open fall back to this region's
// replica while the control region is unreachable (audited as forced and fallback), as a forced
// close does.
type OpenRequest struct {
	Reason          string `json:"reason"`
	Force           bool   `json:"force,omitempty"`
	ExpectedVersion int64  `json:"expected_version,omitempty"`
}

type handler struct {
	store   Store
	log     *slog.Logger
	caller  CallerFunc
	maxBody int64
	local   bool
	master  MasterRegenerator
	now     func() time.Time
	maxAge  time.Duration
	mux     *http.ServeMux
}

// New returns the API's HTTP handler.
func New(o Options) http.Handler {
	h := &handler{store: o.Store, log: o.Logger, caller: o.Caller, maxBody: o.MaxBody, local: o.LocalDomains, master: o.Master, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.caller == nil {
		h.caller = GatewayCaller
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	h.now, h.maxAge = o.Now, o.HeartbeatMaxAge
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxAge <= 0 {
		h.maxAge = state.DefaultHeartbeatMaxAge
	}
	const inst = "/clusters/{cluster}/instances/{domain}"
	h.mux.HandleFunc("GET /clusters", h.wrap(h.listClusters))
	h.mux.HandleFunc("GET /clusters/{cluster}", h.wrap(h.getCluster))
	h.mux.HandleFunc("GET "+inst, h.wrap(h.getInstance))
	h.mux.HandleFunc("PUT "+inst, h.wrap(h.register))
	h.mux.HandleFunc("POST "+inst+"/close", h.wrap(h.close))
	h.mux.HandleFunc("POST "+inst+"/open", h.wrap(h.open))
	h.mux.HandleFunc("GET /clusters/{cluster}/history", h.wrap(h.history, "domain", "limit", "cursor"))
	if h.master != nil {
		h.mux.HandleFunc("POST /clusters/{cluster}/master", h.wrap(h.regenerateMaster))
	}
	h.mux.Handle("GET /dashboard/", http.StripPrefix("/dashboard", dashboard.Static()))
	h.mux.Handle("GET /{$}", http.RedirectHandler("/dashboard/", http.StatusFound))
	return h
}

// ServeHTTP refuses paths that are not canonical, answers every error in JSON (unknown routes,
// methods and dashboard files too, which ServeMux and the file server answer in plain text), and
// turns a panic into a logged 500 instead of a crashed invocation.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			h.fail(w, r, &Error{Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("panic: %v", p)})
		}
	}()
	// ServeMux would redirect to the cleaned path, and a 307 replays a POST on another resource.
	if p := r.URL.Path; p != cleanPath(p) {
		h.fail(w, r, Errorf(CodeInvalid, "path %q is not canonical: no empty, '.' or '..' segments", clip(p)))
		return
	}
	h.mux.ServeHTTP(&plainErrors{ResponseWriter: w, h: h, r: r}, r)
}

// plainErrors replaces an error that a handler wrote in anything but JSON with a JSON error.
type plainErrors struct {
	http.ResponseWriter
	h        *handler
	r        *http.Request
	replaced bool
}

func (p *plainErrors) WriteHeader(status int) {
	if status < 400 || p.Header().Get("Content-Type") == "application/json" {
		p.ResponseWriter.WriteHeader(status)
		return
	}
	p.replaced = true
	p.Header().Del("X-Content-Type-Options")
	method, path := p.r.Method, clip(p.r.URL.Path)
	switch {
	case status == http.StatusNotFound:
		p.h.fail(p.ResponseWriter, p.r, Errorf(CodeNotFound, "no such resource: %s %s", method, path))
	case status == http.StatusMethodNotAllowed:
		p.h.fail(p.ResponseWriter, p.r, Errorf(CodeMethodNotAllowed, "%s is not allowed on %s", method, path))
	case status < 500:
		p.h.fail(p.ResponseWriter, p.r, Errorf(CodeInvalid, "%s %s cannot be served: %s", method, path, http.StatusText(status)))
	default:
		p.h.fail(p.ResponseWriter, p.r, &Error{Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("%s %s answered %d", method, path, status)})
	}
}

func (p *plainErrors) Write(b []byte) (int, error) {
	if p.replaced {
		return len(b), nil // the plain-text body of the replaced error
	}
	return p.ResponseWriter.Write(b)
}

// cleanPath is path.Clean that keeps a trailing slash, as ServeMux cleans paths.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// wrap adapts a handler that returns its response body or an error, and refuses query
// parameters other than params, repeated ones and empty ones.
func (h *handler) wrap(f func(*http.Request) (any, http.Header, error), params ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r, params); err != nil {
			h.fail(w, r, err)
			return
		}
		body, hdr, err := f(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for k, v := range hdr {
			w.Header()[k] = v
		}
		writeJSON(w, http.StatusOK, body)
	}
}

// fail writes err as {"code","message"}; causes are logged, never sent.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	status := Status(e.Code)
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "code", e.Code, "request_id", requestID(r)}
	if e.Err != nil {
		attrs = append(attrs, "err", e.Err.Error())
	}
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "api request failed", attrs...)
	} else {
		h.log.InfoContext(r.Context(), "api request refused", append(attrs, "message", e.Message)...)
	}
	writeJSON(w, status, Error{Code: e.Code, Message: e.Message})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body) // the status is sent; a failed write means the client went away
}

func (h *handler) listClusters(r *http.Request) (any, http.Header, error) {
	names, err := h.store.Clusters(r.Context())
	if err != nil {
		return nil, nil, fmt.Errorf("list clusters: %w", err)
	}
	list := ClusterList{Clusters: make([]ClusterSummary, 0, len(names))}
	for _, name := range names {
		insts, err := h.store.Instances(r.Context(), name)
		if err != nil {
			return nil, nil, fmt.Errorf("instances of %s: %w", name, err)
		}
		s := ClusterSummary{Cluster: name, Instances: len(insts)}
		now := h.now()
		for _, i := range insts {
			if i.Open {
				s.Open++
			}
			if i.HealthyAt(now, h.maxAge) {
				s.Healthy++
			}
		}
		list.Clusters = append(list.Clusters, s)
	}
	slices.SortFunc(list.Clusters, func(a, b ClusterSummary) int { return cmp.Compare(a.Cluster, b.Cluster) })
	return list, nil, nil
}

func (h *handler) getCluster(r *http.Request) (any, http.Header, error) {
	cluster := r.PathValue("cluster")
	if err := validCluster(cluster); err != nil {
		return nil, nil, err
	}
	insts, err := h.store.Instances(r.Context(), cluster)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, nil, fmt.Errorf("instances of %s: %w", cluster, err)
	}
	if len(insts) == 0 {
		return nil, nil, Errorf(CodeNotFound, "cluster %q has no instances", cluster)
	}
	slices.SortFunc(insts, func(a, b state.Instance) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Domain, b.Domain))
	})
	// Judged here, with the API's clock and heartbeat max age, so that the dashboard shows the
	// guard's verdict rather than a rule of its own.
	healthy, now := []string{}, h.now()
	for _, i := range insts {
		if i.HealthyAt(now, h.maxAge) {
			healthy = append(healthy, i.Domain)
		}
	}
	return Cluster{Cluster: cluster, Instances: insts, Healthy: healthy}, nil, nil
}

func (h *handler) getInstance(r *http.Request) (any, http.Header, error) {
	cluster, domain, err := h.instanceKey(r)
	if err != nil {
		return nil, nil, err
	}
	inst, err := h.store.Instance(r.Context(), cluster, domain)
	if err != nil {
		return nil, nil, notFoundAs(fmt.Errorf("instance %s/%s: %w", cluster, domain, err), cluster, domain)
	}
	return inst, versionHeader(inst.Version), nil
}

func (h *handler) register(r *http.Request) (any, http.Header, error) {
	cluster, domain, err := h.instanceKey(r)
	if err != nil {
		return nil, nil, err
	}
	var req RegisterRequest
	if err := h.decode(r, &req); err != nil {
		return nil, nil, err
	}
	for _, check := range []error{
		validRegion(req.Region),
		validPlaylistURL("distribution_playlist_url", req.DistributionPlaylistURL),
		validPlaylistURL("origin_playlist_url", req.OriginPlaylistURL),
		validReason(req.Reason, false),
	} {
		if check != nil {
			return nil, nil, check
		}
	}
	change, err := h.change(r, req.Reason, false, req.ExpectedVersion)
	if err != nil {
		return nil, nil, err
	}
	if change.Reason == "" {
		change.Reason = "registered"
	}
	inst, err := h.store.Register(r.Context(), state.Registration{
		Cluster: cluster, Domain: domain, Region: req.Region,
		DistributionPlaylistURL: req.DistributionPlaylistURL, OriginPlaylistURL: req.OriginPlaylistURL,
	}, change)
	if err != nil {
		return nil, nil, notFoundAs(fmt.Errorf("register %s/%s: %w", cluster, domain, err), cluster, domain)
	}
	h.logChange(r, "register", inst, change)
	return inst, versionHeader(inst.Version), nil
}

func (h *handler) close(r *http.Request) (any, http.Header, error) {
	cluster, domain, err := h.instanceKey(r)
	if err != nil {
		return nil, nil, err
	}
	var req CloseRequest
	if err := h.decode(r, &req); err != nil {
		return nil, nil, err
	}
	if err := validReason(req.Reason, true); err != nil {
		return nil, nil, err
	}
	change, err := h.change(r, req.Reason, req.Force, req.ExpectedVersion)
	if err != nil {
		return nil, nil, err
	}
	inst, err := h.store.Close(r.Context(), cluster, domain, change)
	if err != nil {
		return nil, nil, notFoundAs(fmt.Errorf("close %s/%s: %w", cluster, domain, err), cluster, domain)
	}
	h.logChange(r, "close", inst, change)
	return inst, versionHeader(inst.Version), nil
}

func (h *handler) open(r *http.Request) (any, http.Header, error) {
	cluster, domain, err := h.instanceKey(r)
	if err != nil {
		return nil, nil, err
	}
	var req OpenRequest
	if err := h.decode(r, &req); err != nil {
		return nil, nil, err
	}
	if err := validReason(req.Reason, true); err != nil {
		return nil, nil, err
	}
	change, err := h.change(r, req.Reason, req.Force, req.ExpectedVersion)
	if err != nil {
		return nil, nil, err
	}
	inst, err := h.store.Open(r.Context(), cluster, domain, change)
	if err != nil {
		return nil, nil, notFoundAs(fmt.Errorf("open %s/%s: %w", cluster, domain, err), cluster, domain)
	}
	h.logChange(r, "open", inst, change)
	return inst, versionHeader(inst.Version), nil
}

func (h *handler) history(r *http.Request) (any, http.Header, error) {
	cluster := r.PathValue("cluster")
	if err := validCluster(cluster); err != nil {
		return nil, nil, err
	}
	q := r.URL.Query() // checkQuery has refused unknown, repeated and empty parameters
	domain := q.Get("domain")
	if domain != "" {
		if err := validDomain(domain, h.local); err != nil {
			return nil, nil, err
		}
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return nil, nil, err
	}
	cursor := q.Get("cursor")
	if len(cursor) > maxCursorLen {
		return nil, nil, Errorf(CodeInvalid, "cursor is longer than %d characters", maxCursorLen)
	}
	// An unknown cluster or instance is a 404 here as in GET /clusters/{cluster}, not an empty page.
	insts, err := h.store.Instances(r.Context(), cluster)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, nil, fmt.Errorf("instances of %s: %w", cluster, err)
	}
	if len(insts) == 0 {
		return nil, nil, Errorf(CodeNotFound, "cluster %q has no instances", cluster)
	}
	if domain != "" && !slices.ContainsFunc(insts, func(i state.Instance) bool { return i.Domain == domain }) {
		return nil, nil, Errorf(CodeNotFound, "no instance %s in cluster %s", domain, cluster)
	}
	page, err := h.store.History(r.Context(), state.HistoryQuery{Cluster: cluster, Domain: domain, Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, nil, fmt.Errorf("history of %s: %w", cluster, err)
	}
	if page.Records == nil {
		page.Records = []state.AuditRecord{}
	}
	return page, nil, nil
}

// change builds the audit context of a write: the caller, the reason, and the expected version
// from If-Match or the body (they must agree when both are given).
func (h *handler) change(r *http.Request, reason string, force bool, bodyVersion int64) (state.Change, error) {
	by, ok := h.caller(r)
	if !ok || by == "" {
		return state.Change{}, Errorf(CodeUnauthenticated, "no caller identity on the request; the API records who makes every change")
	}
	headerVersion, err := parseIfMatch(r.Header.Values("If-Match"))
	if err != nil {
		return state.Change{}, err
	}
	if bodyVersion < 0 {
		return state.Change{}, Errorf(CodeInvalid, "expected_version must be positive")
	}
	expected := cmp.Or(headerVersion, bodyVersion)
	if headerVersion != 0 && bodyVersion != 0 && headerVersion != bodyVersion {
		return state.Change{}, Errorf(CodeInvalid, "If-Match %d and expected_version %d disagree", headerVersion, bodyVersion)
	}
	return state.Change{By: by, Reason: strings.TrimSpace(reason), Force: force, ExpectedVersion: expected}, nil
}

// decode reads a JSON request body into v: application/json, at most maxBody bytes, then
// decodeBody.
func (h *handler) decode(r *http.Request, v any) error {
	// Requiring application/json also keeps cross-site form posts out of an unsigned local API:
	// browsers cannot send this content type to another origin without a CORS preflight.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return Errorf(CodeUnsupportedMedia, "the request body must be JSON with Content-Type: application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.maxBody))
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return Errorf(CodeInvalid, "a JSON request body is required")
	}
	return decodeBody(body, v)
}

// decodeBody decodes a request body that must be exactly one JSON object with known keys, each
// once and spelled exactly (strictjson), into v. Its errors name the problem in JSON's terms.
func decodeBody(body []byte, v any) error {
	err := strictjson.Decode(body, v)
	if err == nil {
		return nil
	}
	var se *strictjson.Error
	if !errors.As(err, &se) {
		return &Error{Code: CodeInvalid, Message: "body is not a valid JSON object", Err: err}
	}
	msg := "body " + se.Problem
	switch {
	case se.Path != "":
		msg = fmt.Sprintf("field %q %s", se.Path, se.Problem)
	case strings.HasPrefix(se.Problem, "unknown field"), strings.HasPrefix(se.Problem, "duplicate field"):
		msg = "body has " + se.Problem
	}
	return &Error{Code: CodeInvalid, Message: msg, Err: err}
}

func (h *handler) logChange(r *http.Request, what string, inst state.Instance, c state.Change) {
	h.log.InfoContext(r.Context(), "api change", "op", what, "cluster", inst.Cluster, "domain", inst.Domain,
		"open", inst.Open, "version", inst.Version, "by", c.By, "reason", c.Reason, "force", c.Force,
		"request_id", requestID(r))
}

// instanceKey reads and validates {cluster} and {domain} from the path.
func (h *handler) instanceKey(r *http.Request) (cluster, domain string, err error) {
	cluster, domain = r.PathValue("cluster"), r.PathValue("domain")
	if err := validCluster(cluster); err != nil {
		return "", "", err
	}
	if err := validDomain(domain, h.local); err != nil {
		return "", "", err
	}
	return cluster, domain, nil
}

// notFoundAs gives a store's ErrNotFound a message that names what was not found.
func notFoundAs(err error, cluster, domain string) error {
	if errors.Is(err, state.ErrNotFound) {
		return &Error{Code: CodeNotFound, Message: fmt.Sprintf("no instance %s in cluster %s", domain, cluster), Err: err}
	}
	return err
}

func versionHeader(v int64) http.Header { return http.Header{"Etag": {etag(v)}} }
