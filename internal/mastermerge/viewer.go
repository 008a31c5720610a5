package mastermerge

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/clustered-video-streams/cvs/internal/hls"
)

// viewerMap maps URLs on a region's origin to the same resources through the region's
// distribution, which is where viewers must go: only there does the copilot turn a closed region
// into 404. It assumes what a CloudFront origin does: the distribution forwards a request path to
// the origin, possibly under an origin path. So the longest common tail of the two master URLs'
// folders is taken as the forwarded part, and what precedes it on each side (originPrefix,
// distPrefix) as the part that differs: /live/ch1/ on the origin and /live/ch1/ on the
// distribution map every origin path; /media/live/ch1/ and /live/ch1/ map what lies under /media/.
type viewerMap struct {
	originHost   string // lower case, without a default port
	originPrefix string // starts and ends with '/'
	dist         string // the distribution's scheme and authority: https://d1.cloudfront.net
	distPrefix   string // starts and ends with '/'
}

func newViewerMap(originURL, distURL string) (viewerMap, error) {
	o, err := url.Parse(originURL)
	if err != nil || o.Host == "" {
		return viewerMap{}, fmt.Errorf("origin_playlist_url %q is not an absolute URL", clip(originURL))
	}
	d, err := url.Parse(distURL)
	if err != nil || d.Host == "" {
		return viewerMap{}, fmt.Errorf("distribution_playlist_url %q is not an absolute URL", clip(distURL))
	}
	op, dp := folder(o.EscapedPath()), folder(d.EscapedPath())
	// Strip the common tail one segment at a time; both keep their leading '/'.
	for len(op) > 1 && len(dp) > 1 {
		i := strings.LastIndexByte(op[:len(op)-1], '/')
		j := strings.LastIndexByte(dp[:len(dp)-1], '/')
		if op[i:] != dp[j:] {
			break
		}
		op, dp = op[:i+1], dp[:j+1]
	}
	return viewerMap{originHost: hostKey(o.Scheme, o.Host), originPrefix: op, dist: d.Scheme + "://" + d.Host, distPrefix: dp}, nil
}

// folder returns a URL path up to and including its last '/' ("/" for an empty path).
func folder(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return "/"
}

// hostKey is a host for comparing: lower case, without the scheme's default port.
func hostKey(scheme, host string) string {
	host = strings.ToLower(host)
	switch strings.ToLower(scheme) {
	case "https":
		host = strings.TrimSuffix(host, ":443")
	case "http", "":
		host = strings.TrimSuffix(host, ":80")
	}
	return host
}

// mapURI maps a URI reference that names the origin host (absolute, or network-path "//host/...")
// to the distribution. onOrigin reports whether it names the origin host at all; ok whether it
// could be mapped. Query and fragment are kept byte for byte.
func (m viewerMap) mapURI(ref string) (mapped string, onOrigin, ok bool) {
	scheme, rest := "", ref
	if i := strings.Index(ref, "://"); i > 0 && !strings.ContainsAny(ref[:i], "/?#") {
		scheme, rest = ref[:i], ref[i+1:]
		if s := strings.ToLower(scheme); s != "http" && s != "https" {
			return "", false, false
		}
	}
	if !strings.HasPrefix(rest, "//") {
		return "", false, false // relative: Merge resolves it against the distribution
	}
	rest = rest[2:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, rest := rest[:end], rest[end:]
	if hostKey(scheme, host) != m.originHost {
		return "", false, false
	}
	p, tail := rest, ""
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		p, tail = rest[:i], rest[i:]
	}
	if !strings.HasPrefix(p, m.originPrefix) || hasDotSegment(p) {
		return "", true, false
	}
	return m.dist + m.distPrefix + p[len(m.originPrefix):] + tail, true, true
}

// hasDotSegment reports whether a path has a "." or ".." segment, which could climb out of the
// prefix it seems to be under.
func hasDotSegment(p string) bool {
	for _, s := range strings.Split(p, "/") {
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// viewerMaster returns a region's master, read from its origin, with every URI (and EXT-X-DEFINE
// value) that names the origin host rewritten to the distribution, and warnings that say what
// was rewritten and what could not be. Variables must be resolved first
// (hls.ExpandMasterVariables). A body that does not parse is returned unchanged for Merge to report.
func viewerMaster(source string, body []byte, m viewerMap) ([]byte, []string) {
	pl, err := hls.ParseMaster(body)
	if err != nil {
		return body, nil
	}
	edits := map[int]string{} // line number -> new line
	var rewritten, firstLine int
	var kept []string
	consider := func(line int, uri string) (string, bool) {
		mapped, onOrigin, ok := m.mapURI(uri)
		switch {
		case ok:
			if rewritten++; firstLine == 0 || line < firstLine {
				firstLine = line
			}
			return mapped, true
		case onOrigin:
			kept = append(kept, fmt.Sprintf("%s line %d: URI %s points at the origin outside %s, which the distribution does not serve by any known path; "+
				"kept as written, so viewers of it bypass CloudFront and the copilot", source, line, clip(uri), m.originPrefix))
		}
		return "", false
	}
	attr := func(t *hls.MasterTag, name string) {
		a, found := t.Attrs.Get(name)
		if !found || !a.Quoted() {
			return
		}
		if u, ok := consider(t.Line, a.Unquoted()); ok {
			edits[t.Line] = "#" + t.Name + ":" + t.Attrs.Edit(hls.Attr{Name: name, Value: "\"" + u + "\""})
		}
	}
	for i := range pl.Header {
		switch t := &pl.Header[i]; t.Name {
		case "EXT-X-SESSION-DATA", "EXT-X-SESSION-KEY":
			attr(t, "URI")
		case "EXT-X-CONTENT-STEERING":
			attr(t, "SERVER-URI")
		case "EXT-X-DEFINE":
			// A value that is an origin URL reaches media playlists through IMPORT.
			attr(t, "VALUE")
		}
	}
	for i := range pl.Renditions {
		attr(&pl.Renditions[i], "URI")
	}
	for i := range pl.IFrames {
		attr(&pl.IFrames[i], "URI")
	}
	for _, v := range pl.Variants {
		if u, ok := consider(v.URILine, v.URI); ok {
			edits[v.URILine] = u
		}
	}
	var warnings []string
	if rewritten > 0 {
		warnings = append(warnings, fmt.Sprintf("%s line %d: %d absolute URIs point at the origin (%s); rewritten to %s%s so viewers go through CloudFront and its copilot",
			source, firstLine, rewritten, m.originHost, m.dist, m.distPrefix))
	}
	warnings = append(warnings, kept...)
	if len(edits) == 0 {
		return body, warnings
	}
	// ParseMaster numbers lines after a leading byte order mark, split at '\n'.
	lines := strings.Split(strings.TrimPrefix(string(body), "\ufeff"), "\n")
	for n, text := range edits {
		lines[n-1] = text
	}
	return []byte(strings.Join(lines, "\n")), warnings
}
