// Package origin fetches playlists from HTTP origins: one GET with a deadline, the shared
// playlist size limit (hls.ReadLimited) and errors that name the URL, the status and the limit.
package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
)

// Defaults for a zero Fetcher.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultCacheBustParam is the query parameter CacheBust adds.
	DefaultCacheBustParam = "_cvs_nocache"
)

// Doer sends HTTP requests; *http.Client is one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Fetcher GETs URLs. The zero value is ready to use with the defaults.
type Fetcher struct {
	// Client sends the requests; nil means http.DefaultClient.
	Client Doer
	// Timeout bounds each Get, headers and body; 0 means DefaultTimeout, negative means only the
	// caller's context bounds it.
	Timeout time.Duration
	// MaxBytes is the largest body Get accepts; 0 means hls.DefaultMaxBody, the playlist limit
	// every reader shares.
	MaxBytes int64
	// UserAgent, when set, is sent as the User-Agent header.
	UserAgent string
	// CacheBustParam names the query parameter CacheBust adds; "" means DefaultCacheBustParam.
	CacheBustParam string
	// Now gives the cache-busting values; nil means time.Now.
	Now func() time.Time
}

// Response is a successful (2xx) response.
type Response struct {
	URL        string // the URL answered, after redirects, with the cache-busting parameter if any
	StatusCode int
	Header     http.Header
	Body       []byte
	Elapsed    time.Duration // from sending the request to reading the last byte, by Now
}

// Option changes one Get.
type Option func(*getOptions)

type getOptions struct {
	cacheBust bool
}

// CacheBust makes the request bypass caches on the way: it adds a query parameter with a value
// that changes every call, which CDNs that key on the query string cannot have cached, and asks
// for revalidation with Cache-Control: no-cache.
func CacheBust() Option { return func(o *getOptions) { o.cacheBust = true } }

// ErrTooLarge is matched by every *TooLargeError.
var ErrTooLarge = errors.New("response too large")

// StatusError is a response whose status is not 2xx.
type StatusError struct {
	URL        string
	StatusCode int
	Status     string // for example "404 Not Found"
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: HTTP %s", e.URL, e.Status) }

// TooLargeError is a response body over the limit.
type TooLargeError struct {
	URL   string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("GET %s: response larger than the %d-byte limit", e.URL, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Get fetches rawURL. A non-2xx status is a *StatusError, a body over the limit a
// *TooLargeError, running out of time an error that matches context.DeadlineExceeded; every
// error names the URL.
func (f *Fetcher) Get(ctx context.Context, rawURL string, opts ...Option) (*Response, error) {
	var o getOptions
	for _, opt := range opts {
		opt(&o)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("GET %s: not an absolute http(s) URL", rawURL)
	}
	now := f.Now
	if now == nil {
		now = time.Now
	}
	if o.cacheBust {
		param := f.CacheBustParam
		if param == "" {
			param = DefaultCacheBustParam
		}
		v := param + "=" + strconv.FormatInt(now().UnixNano(), 10)
		// Append to the query as written: re-encoding it could change a signed URL.
		if u.RawQuery == "" {
			u.RawQuery = v
		} else {
			u.RawQuery += "&" + v
		}
		rawURL = u.String()
	}
	timeout := f.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	parent := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	if f.UserAgent != "" {
		req.Header.Set("User-Agent", f.UserAgent)
	}
	if o.cacheBust {
		req.Header.Set("Cache-Control", "no-cache")
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	start := now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fail(parent, ctx, rawURL, timeout, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Read a little so the connection can be reused; the body of an error is not needed.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, &StatusError{URL: rawURL, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	limit := f.MaxBytes
	if limit <= 0 {
		limit = hls.DefaultMaxBody
	}
	if resp.ContentLength > limit {
		return nil, &TooLargeError{URL: rawURL, Limit: limit}
	}
	body, err := hls.ReadLimited(resp.Body, limit)
	if errors.Is(err, hls.ErrTooLarge) {
		return nil, &TooLargeError{URL: rawURL, Limit: limit}
	}
	if err != nil {
		return nil, fail(parent, ctx, rawURL, timeout, err)
	}
	final := rawURL
	if resp.Request != nil && resp.Request.URL != nil {
		final = resp.Request.URL.String()
	}
	return &Response{URL: final, StatusCode: resp.StatusCode, Header: resp.Header, Body: body, Elapsed: now().Sub(start)}, nil
}

// fail words a transport error: the URL once, and which deadline ran out, the Fetcher's own
// (ctx) or the caller's (parent).
func fail(parent, ctx context.Context, rawURL string, timeout time.Duration, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("GET %s: no complete response within %s: %w", rawURL, timeout, context.DeadlineExceeded)
	}
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("GET %s: %w", rawURL, perr)
	}
	return fmt.Errorf("GET %s: %w", rawURL, err)
}
