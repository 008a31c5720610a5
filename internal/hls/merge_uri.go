package hls

import (
	"errors"
	"fmt"
	"strings"
)

// mergeRef is a URI reference split into its RFC 3986 components, as written: nothing is
// unescaped or re-escaped, so query strings and odd characters come out byte for byte.
type mergeRef struct {
	scheme, authority, path, query, fragment string
	hasAuthority, hasQuery, hasFragment      bool
}

// mergeSplitRef splits s the way RFC 3986 appendix B does.
func mergeSplitRef(s string) mergeRef {
	var r mergeRef
	if i := strings.IndexAny(s, ":/?#"); i > 0 && s[i] == ':' && mergeSchemeOK(s[:i]) {
		r.scheme, s = s[:i], s[i+1:]
	}
	if strings.HasPrefix(s, "//") {
		s = s[2:]
		end := strings.IndexAny(s, "/?#")
		if end < 0 {
			end = len(s)
		}
		r.authority, s, r.hasAuthority = s[:end], s[end:], true
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		r.fragment, s, r.hasFragment = s[i+1:], s[:i], true
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		r.query, s, r.hasQuery = s[i+1:], s[:i], true
	}
	r.path = s
	return r
}

func mergeSchemeOK(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

func (r mergeRef) String() string {
	var b strings.Builder
	b.Grow(len(r.scheme) + len(r.authority) + len(r.path) + len(r.query) + len(r.fragment) + 6)
	if r.scheme != "" {
		b.WriteString(r.scheme)
		b.WriteByte(':')
	}
	if r.hasAuthority {
		b.WriteString("//")
		b.WriteString(r.authority)
	}
	b.WriteString(r.path)
	if r.hasQuery {
		b.WriteByte('?')
		b.WriteString(r.query)
	}
	if r.hasFragment {
		b.WriteByte('#')
		b.WriteString(r.fragment)
	}
	return b.String()
}

// errMergeAboveRoot: a relative reference climbs above the folder of the merged master.
var errMergeAboveRoot = errors.New("climbs above the merged master's folder")

// mergeResolve resolves ref against base (RFC 3986 5.2.2). A reference that already has a scheme
// is returned unchanged, byte for byte. base may itself be relative (a path such as
// "primary/index.m3u8", relative to where the merged master is written): the result is then
// relative too, and a ".." that would climb above that folder is an error.
func mergeResolve(base mergeRef, ref string) (string, error) {
	r := mergeSplitRef(ref)
	if r.scheme != "" {
		return ref, nil
	}
	t := mergeRef{scheme: base.scheme, query: r.query, hasQuery: r.hasQuery, fragment: r.fragment, hasFragment: r.hasFragment}
	rootless := base.scheme == "" && !base.hasAuthority && !strings.HasPrefix(base.path, "/")
	switch {
	case r.hasAuthority:
		t.authority, t.hasAuthority = r.authority, true
		t.path = mergeDotSegments(r.path)
	case r.path == "":
		t.authority, t.hasAuthority, t.path = mergeHostPort(base.authority), base.hasAuthority, base.path
		if !r.hasQuery {
			t.query, t.hasQuery = base.query, base.hasQuery
		}
	default:
		t.authority, t.hasAuthority = mergeHostPort(base.authority), base.hasAuthority
		p := r.path
		if !strings.HasPrefix(p, "/") {
			if base.hasAuthority && base.path == "" {
				p = "/" + p
			} else {
				p = base.path[:strings.LastIndexByte(base.path, '/')+1] + p
			}
		}
		if rootless && !strings.HasPrefix(p, "/") {
			var err error
			if p, err = mergeRootlessDots(p); err != nil {
				return "", fmt.Errorf("%q: %w", ref, err)
			}
		} else {
			p = mergeDotSegments(p)
		}
		t.path = p
	}
	return t.String(), nil
}

// mergeHostPort drops the user info of an authority: credentials that fetched a source master
// must not be published in every URI resolved against it.
func mergeHostPort(authority string) string {
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		return authority[i+1:]
	}
	return authority
}

// mergeDotSegments removes "." and ".." segments from a path (RFC 3986 5.2.4); ".." never climbs
// above the root.
func mergeDotSegments(p string) string {
	// A "." or ".." segment starts the path or follows a slash.
	if !strings.HasPrefix(p, ".") && !strings.Contains(p, "/.") {
		return p
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	abs := strings.HasPrefix(p, "/")
	if abs {
		segs = segs[1:]
	}
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	if abs {
		return "/" + strings.Join(out, "/")
	}
	return strings.Join(out, "/")
}

// mergeRootlessDots is mergeDotSegments for a path relative to the merged master's folder, where a
// ".." above that folder cannot be expressed.
func mergeRootlessDots(p string) (string, error) {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
		case "..":
			if len(out) == 0 {
				return "", errMergeAboveRoot
			}
			out = out[:len(out)-1]
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	p = strings.Join(out, "/")
	// A relative path must not be empty, start with "/" or have a colon in its first segment
	// (RFC 3986 4.2): "./" keeps it meaning the same.
	if first, _, _ := strings.Cut(p, "/"); p == "" || strings.HasPrefix(p, "/") || strings.Contains(first, ":") {
		p = "./" + p
	}
	return p, nil
}
