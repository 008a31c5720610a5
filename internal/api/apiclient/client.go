// Package apiclient is the Go client of the manual-override API, used by cvsctl and by the
// dashboard's loopback proxy: typed calls, typed errors, and the transports that sign requests
// with SigV4 for a deployed API or name the operator to an unsigned local one.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// maxResponse bounds what the client reads of one answer.
const maxResponse = 8 << 20

// Client calls the API at one base URL.
type Client struct {
	base *url.URL
	http *http.Client
}

// New returns a client of the API at base (the $default stage root, or a local runtime's
// address). hc's transport does the signing: see SigV4 and Operator.
func New(base string, hc *http.Client) (*Client, error) {
	u, err := ParseEndpoint(base)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, http: hc}, nil
}

// ParseEndpoint checks an API endpoint: an absolute http or https URL with a host, no user info
// (requests are signed; a password in the URL would only be echoed), no query or fragment. Its
// errors never repeat the user info.
func ParseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("not a URL")
	case u.User != nil:
		u.User = nil
		return nil, fmt.Errorf("endpoint %s must not carry user info: requests are signed with your AWS credentials", u)
	case u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.Opaque != "":
		return nil, fmt.Errorf("endpoint %q: want an http or https URL with a host", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("endpoint %q: want the API's root URL, without a query or fragment", raw)
	}
	return u, nil
}

// Error is an error answer: the API's {"code","message"}, or API Gateway's own refusal
// ({"message"} only, Code "http_<status>").
type Error struct {
	Status  int
	Code    api.Code
	Message string
	// Route is set ("POST /clusters/live-1/master") when the API has no such route, an API
	// older than the client: the 404 then says nothing about the cluster or instance.
	Route string
}

func (e *Error) Error() string {
	if e.Route != "" {
		return fmt.Sprintf("the API has no route %s (HTTP %d: %s): is it older than this client?", e.Route, e.Status, e.Message)
	}
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// Clusters lists the clusters with a summary of each.
func (c *Client) Clusters(ctx context.Context) (api.ClusterList, error) {
	var out api.ClusterList
	return out, c.do(ctx, http.MethodGet, c.path("clusters"), nil, nil, &out)
}

// Cluster returns one cluster's instances.
func (c *Client) Cluster(ctx context.Context, cluster string) (api.Cluster, error) {
	var out api.Cluster
	return out, c.do(ctx, http.MethodGet, c.path("clusters", cluster), nil, nil, &out)
}

// Instance returns one instance.
func (c *Client) Instance(ctx context.Context, cluster, domain string) (state.Instance, error) {
	var out state.Instance
	return out, c.do(ctx, http.MethodGet, c.path("clusters", cluster, "instances", domain), nil, nil, &out)
}

// Register creates or updates an instance.
func (c *Client) Register(ctx context.Context, cluster, domain string, req api.RegisterRequest) (state.Instance, error) {
	var out state.Instance
	return out, c.do(ctx, http.MethodPut, c.path("clusters", cluster, "instances", domain), nil, req, &out)
}

// Close closes an instance's distribution.
func (c *Client) Close(ctx context.Context, cluster, domain string, req api.CloseRequest) (state.Instance, error) {
	var out state.Instance
	return out, c.do(ctx, http.MethodPost, c.path("clusters", cluster, "instances", domain, "close"), nil, req, &out)
}

// Open opens an instance's distribution.
func (c *Client) Open(ctx context.Context, cluster, domain string, req api.OpenRequest) (state.Instance, error) {
	var out state.Instance
	return out, c.do(ctx, http.MethodPost, c.path("clusters", cluster, "instances", domain, "open"), nil, req, &out)
}

// RegenerateMaster regenerates a cluster's merged master playlist in every region's bucket.
// An API without the master route answers not_found like an unknown cluster: when the cluster
// exists, the error says that the route is missing.
func (c *Client) RegenerateMaster(ctx context.Context, cluster string, req api.MasterRequest) (regen.Result, error) {
	var out regen.Result
	err := c.do(ctx, http.MethodPost, c.path("clusters", cluster, "master"), nil, req, &out)
	var e *Error
	if errors.As(err, &e) && e.Code == api.CodeNotFound && e.Route == "" {
		if _, cerr := c.Cluster(ctx, cluster); cerr == nil {
			e.Route = route(http.MethodPost, c.path("clusters", cluster, "master"))
		}
	}
	return out, err
}

// History returns one page of a cluster's audit trail, newest first. Domain, limit and cursor
// are optional ("" and 0 leave them out).
func (c *Client) History(ctx context.Context, cluster, domain string, limit int, cursor string) (state.HistoryPage, error) {
	q := url.Values{}
	if domain != "" {
		q.Set("domain", domain)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out state.HistoryPage
	return out, c.do(ctx, http.MethodGet, c.path("clusters", cluster, "history"), q, nil, &out)
}

// path joins escaped segments onto the base URL.
func (c *Client) path(segments ...string) *url.URL {
	escaped := make([]string, len(segments))
	for i, s := range segments {
		escaped[i] = url.PathEscape(s)
	}
	return c.base.JoinPath(escaped...)
}

func (c *Client) do(ctx context.Context, method string, u *url.URL, q url.Values, in, out any) error {
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: encode body: %w", route(method, u), err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("%s: %w", route(method, u), err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", route(method, u), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", route(method, u), err)
	}
	if resp.StatusCode/100 != 2 {
		e := answerError(resp.StatusCode, data)
		if e.Status == http.StatusNotFound && e.Code != api.CodeNotFound {
			// Our API names every 404 not_found: another code, or none, comes from a gateway
			// or an API that does not know the route.
			e.Route = route(method, u)
		}
		return e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", route(method, u), err)
	}
	return nil
}

// route names a request as the API's routes do: "POST /clusters/live-1/master".
func route(method string, u *url.URL) string {
	return method + " /" + strings.TrimPrefix(u.Path, "/")
}

func answerError(status int, data []byte) *Error {
	var body struct {
		Code    api.Code `json:"code"`
		Message string   `json:"message"`
	}
	_ = json.Unmarshal(data, &body) // API Gateway and proxies may answer with anything
	e := &Error{Status: status, Code: body.Code, Message: body.Message}
	if e.Code == "" {
		e.Code = api.Code("http_" + strconv.Itoa(status))
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// IsCode reports whether err is an API error with the given code.
func IsCode(err error, code api.Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
