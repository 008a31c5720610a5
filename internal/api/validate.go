package api

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// Limits on what callers send.
const (
	maxClusterLen = 64
	maxURLLen     = 2048
	maxReasonLen  = 500
	maxCursorLen  = 2048
)

var (
	// Cluster names go into DynamoDB keys, URLs and log lines: keep them to a safe charset.
	clusterRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// The key of an instance is its regional distribution's CloudFront domain, because that is
	// what the copilot sees at the edge (event.context.distributionDomainName) and looks up.
	// Custom domains (CNAMEs) are not keys; they may appear in distribution_playlist_url.
	domainRE = regexp.MustCompile(`^d[a-z0-9]{13}\.cloudfront\.net$`)
	// An AWS region name such as us-east-1, eu-central-2 or us-gov-west-1.
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
)

// validCluster checks a cluster name from a path.
func validCluster(name string) error {
	if len(name) == 0 || len(name) > maxClusterLen || !clusterRE.MatchString(name) {
		return Errorf(CodeInvalid, "cluster %q: want 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit",
			clip(name), maxClusterLen)
	}
	return nil
}

// validDomain checks an instance key from a path. Local runs (local true) may also key
// instances by a loopback host and port, as the local runtime's stand-in distributions are.
func validDomain(domain string, local bool) error {
	if local && isLoopbackHostPort(domain) {
		return nil
	}
	if !domainRE.MatchString(domain) {
		return Errorf(CodeInvalid, "domain %q: want a CloudFront distribution domain such as d111111abcdef8.cloudfront.net (lowercase; custom domains go in distribution_playlist_url)",
			clip(domain))
	}
	return nil
}

// validRegion checks an AWS region name.
func validRegion(region string) error {
	if !regionRE.MatchString(region) {
		return Errorf(CodeInvalid, "region %q: want an AWS region name such as us-east-1", clip(region))
	}
	return nil
}

// validPlaylistURL checks a URL that goes into a master playlist: absolute https with a host
// name, or http to a loopback host for local runs (the local runtime's origins listen on
// 127.0.0.1). Quotes, blanks, control and non-ASCII characters are refused: the master quotes
// URIs and lists them one per line, so any of them breaks every later merge of the cluster.
func validPlaylistURL(field, raw string) error {
	if raw == "" {
		return Errorf(CodeInvalid, "%s is required", field)
	}
	if len(raw) > maxURLLen {
		return Errorf(CodeInvalid, "%s is longer than %d characters", field, maxURLLen)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f || c == '"' {
			return Errorf(CodeInvalid, "%s %q: quotes, blanks, control and non-ASCII characters must be percent-encoded", field, clip(raw))
		}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return Errorf(CodeInvalid, "%s %q is not an absolute URL", field, clip(raw))
	}
	if u.User != nil {
		return Errorf(CodeInvalid, "%s must not carry credentials", field)
	}
	if u.Hostname() == "" {
		return Errorf(CodeInvalid, "%s %q has no host name", field, clip(raw))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Errorf(CodeInvalid, "%s %q: port %s is not from 1 to 65535", field, clip(raw), clip(p))
		}
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return Errorf(CodeInvalid, "%s %q: want an https URL (plain http only to a loopback host)", field, clip(raw))
	}
	return nil
}

// validReason checks an operator's reason: at most maxReasonLen bytes, no control characters,
// nothing that decoding replaced (U+FFFD), and at least one visible character. Required says
// whether it may be empty.
func validReason(reason string, required bool) error {
	if strings.TrimSpace(reason) == "" {
		if required {
			return Errorf(CodeInvalid, "reason is required: say why, it goes into the audit trail")
		}
		return nil
	}
	if len(reason) > maxReasonLen {
		return Errorf(CodeInvalid, "reason is longer than %d bytes", maxReasonLen)
	}
	visible := false
	for _, r := range reason {
		switch {
		case unicode.IsControl(r):
			return Errorf(CodeInvalid, "reason must not contain control characters")
		case r == utf8.RuneError:
			// JSON decoding turns an unpaired \u surrogate escape into U+FFFD; so does cvsctl's
			// encoder with invalid UTF-8. Either way the operator's text was lost.
			return Errorf(CodeInvalid, "reason is not valid UTF-8 (it holds U+FFFD, what an invalid byte or an unpaired surrogate escape decodes to)")
		case unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S):
			visible = true
		}
	}
	if !visible {
		return Errorf(CodeInvalid, "reason has no visible character (only blanks, format characters or marks): say why, it goes into the audit trail")
	}
	return nil
}

// parseLimit reads the history page size: empty means the default.
func parseLimit(raw string) (int, error) {
	if raw == "" {
		return state.DefaultHistoryLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > state.MaxHistoryLimit {
		return 0, Errorf(CodeInvalid, "limit %q: want a whole number from 1 to %d", clip(raw), state.MaxHistoryLimit)
	}
	return n, nil
}

// parseIfMatch reads the If-Match header's values: one instance version, as the API sends it in
// ETag ("7", or W/"7"). None and "*" mean any version (0). A list is refused: a write expects
// exactly one version.
func parseIfMatch(values []string) (int64, error) {
	if len(values) > 1 || (len(values) == 1 && strings.Contains(values[0], ",")) {
		return 0, Errorf(CodeInvalid, "If-Match %q: give one version, not a list", clip(strings.Join(values, ", ")))
	}
	if len(values) == 0 {
		return 0, nil
	}
	raw := values[0]
	v := strings.TrimSpace(raw)
	if v == "" || v == "*" {
		return 0, nil
	}
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, Errorf(CodeInvalid, "If-Match %q: want an instance version such as \"3\" (from ETag or the version field)", clip(raw))
	}
	return n, nil
}

// checkQuery refuses a query that does not parse, and parameters other than allowed, given more
// than once or empty: the API acts on exactly what the caller asked for, or not at all.
func checkQuery(r *http.Request, allowed []string) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return Errorf(CodeInvalid, "query %q does not parse: check its percent escapes and use '&' between parameters", clip(r.URL.RawQuery))
	}
	for _, key := range slices.Sorted(maps.Keys(q)) {
		switch {
		case !slices.Contains(allowed, key) && len(allowed) == 0:
			return Errorf(CodeInvalid, "unknown query parameter %q: %s %s takes none", clip(key), r.Method, clip(r.URL.Path))
		case !slices.Contains(allowed, key):
			return Errorf(CodeInvalid, "unknown query parameter %q (want %s)", clip(key), strings.Join(allowed, ", "))
		case len(q[key]) > 1:
			return Errorf(CodeInvalid, "query parameter %q is given %d times; give it once", key, len(q[key]))
		case q[key][0] == "":
			return Errorf(CodeInvalid, "query parameter %q is empty; give a value or leave it out", key)
		}
	}
	return nil
}

// etag formats an instance version as the ETag the API returns and If-Match accepts.
func etag(version int64) string { return strconv.Quote(strconv.FormatInt(version, 10)) }

// isLoopbackHostPort reports whether s is localhost or a loopback IPv4 address with a port.
func isLoopbackHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || strings.ContainsAny(host, "[]:") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536 && isLoopback(host)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clip shortens caller-supplied text before it is echoed in an error message.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s...", s[:max])
}
