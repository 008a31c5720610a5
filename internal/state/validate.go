package state

import (
	"net/url"
	"regexp"
)

var (
	clusterPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	// A domain is a host name, optionally with a port for local runs. '#' can never occur, so
	// instance keys never collide with the audit records' keys ("audit#...") in the table.
	domainPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$`)
	regionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
)

// ValidateKey checks a cluster name and an instance domain.
func ValidateKey(cluster, domain string) error {
	if err := ValidateCluster(cluster); err != nil {
		return err
	}
	if !domainPattern.MatchString(domain) {
		return &InvalidError{Field: "domain", Problem: "want a host name (letters, digits, '.', '-', optional :port), got " + quote(domain)}
	}
	return nil
}

// ValidateCluster checks a cluster name: 1 to 128 letters, digits, '.', '_' or '-', starting
// with a letter or digit.
func ValidateCluster(cluster string) error {
	if !clusterPattern.MatchString(cluster) {
		return &InvalidError{Field: "cluster", Problem: "want 1-128 letters, digits, '.', '_' or '-', got " + quote(cluster)}
	}
	return nil
}

// ValidateChange checks that a change says who makes it.
func ValidateChange(c Change) error {
	if c.By == "" {
		return &InvalidError{Field: "by", Problem: "every change must name who makes it"}
	}
	if len(c.By) > 2048 {
		return &InvalidError{Field: "by", Problem: "longer than 2048 bytes"}
	}
	if len(c.Reason) > 4096 {
		return &InvalidError{Field: "reason", Problem: "longer than 4096 bytes"}
	}
	if c.ExpectedVersion < 0 {
		return &InvalidError{Field: "expected_version", Problem: "negative"}
	}
	return nil
}

// ValidateRegistration checks a registration: key, region and both playlist URLs (absolute
// http or https).
func ValidateRegistration(r Registration) error {
	if err := ValidateKey(r.Cluster, r.Domain); err != nil {
		return err
	}
	if !regionPattern.MatchString(r.Region) {
		return &InvalidError{Field: "region", Problem: "want a region name such as eu-west-1, got " + quote(r.Region)}
	}
	for _, f := range []struct{ name, value string }{
		{"distribution_playlist_url", r.DistributionPlaylistURL},
		{"origin_playlist_url", r.OriginPlaylistURL},
	} {
		u, err := url.Parse(f.value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &InvalidError{Field: f.name, Problem: "want an absolute http or https URL, got " + quote(f.value)}
		}
	}
	return nil
}

// ValidateHealth checks a health value.
func ValidateHealth(h Health) error {
	if !h.Valid() {
		return &InvalidError{Field: "health", Problem: "want unknown, fresh, stale, unreachable or ended, got " + quote(string(h))}
	}
	return nil
}

// quote shortens long inputs so error messages stay readable.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return `"` + s + `"`
}

// DefaultHistoryLimit and MaxHistoryLimit bound a history page.
const (
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 1000
)

// PageLimit checks the query and returns how many records its page holds at most: Limit,
// DefaultHistoryLimit when zero, at most MaxHistoryLimit.
func (q HistoryQuery) PageLimit() (int, error) {
	if err := ValidateCluster(q.Cluster); err != nil {
		return 0, err
	}
	if q.Domain != "" {
		if err := ValidateKey(q.Cluster, q.Domain); err != nil {
			return 0, err
		}
	}
	switch {
	case q.Limit < 0:
		return 0, &InvalidError{Field: "limit", Problem: "negative"}
	case q.Limit == 0:
		return DefaultHistoryLimit, nil
	case q.Limit > MaxHistoryLimit:
		return MaxHistoryLimit, nil
	}
	return q.Limit, nil
}
