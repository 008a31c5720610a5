package hls

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrVariable is wrapped by every error ExpandMasterVariables returns: an EXT-X-DEFINE that is
// malformed, or a variable reference that no EXT-X-DEFINE resolves (RFC 8216bis 4.3, 4.4.2.3).
var ErrVariable = errors.New("unresolved EXT-X-DEFINE variable")

// ExpandMasterVariables resolves the variables of a master playlist read from playlistURL, so
// that what is polled or published is never a literal {$name}. Every variable reference in a
// URI line or a tag (other than EXT-X-DEFINE) is replaced by its value; an EXT-X-DEFINE with
// QUERYPARAM is rewritten as NAME and VALUE, the value taken from playlistURL's query, so that
// a master written elsewhere (a merged one) still gives its media playlists' IMPORT the value
// this master had. EXT-X-DEFINE tags with NAME and VALUE are kept as written. A reference to
// a variable nothing defines, a QUERYPARAM absent from the query, IMPORT (for media playlists
// only) or a malformed EXT-X-DEFINE is an error naming EXT-X-DEFINE and the line. A body
// without variables is returned as it is.
func ExpandMasterVariables(body []byte, playlistURL string) ([]byte, error) {
	text := string(body)
	if !strings.Contains(text, "EXT-X-DEFINE") && !strings.Contains(text, "{$") {
		return body, nil
	}
	vars, err := defineCollect(text, playlistURL)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.Grow(len(text) + 64)
	n := 0
	for rest := text; len(rest) > 0; {
		n++
		line, end := rest, ""
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, end, rest = rest[:i], "\n", rest[i+1:]
		} else {
			rest = ""
		}
		if strings.HasSuffix(line, "\r") {
			line, end = line[:len(line)-1], "\r"+end
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#EXT-X-DEFINE:"):
			if d := vars.byLine[n]; d != nil && d.query {
				line = "#EXT-X-DEFINE:NAME=" + attrQuote(d.name) + ",VALUE=" + attrQuote(d.value)
			}
		case strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, "#EXT"):
			// A comment: never read, never substituted.
		default:
			if line, err = defineSubstitute(line, vars.values); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
		}
		b.WriteString(line)
		b.WriteString(end)
	}
	return []byte(b.String()), nil
}

// defineVars are a master's variables: their values, and the EXT-X-DEFINE of each line.
type defineVars struct {
	values map[string]string
	byLine map[int]*define
}

type define struct {
	name, value string
	query       bool // defined by QUERYPARAM
}

// defineCollect reads every EXT-X-DEFINE of a master. Every one is read before any reference is
// resolved, so the order of the tags does not matter.
func defineCollect(text, playlistURL string) (defineVars, error) {
	vars := defineVars{values: map[string]string{}, byLine: map[int]*define{}}
	var query url.Values
	n := 0
	for rest := text; len(rest) > 0; {
		n++
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		list, ok := strings.CutPrefix(strings.TrimSpace(line), "#EXT-X-DEFINE:")
		if !ok {
			continue
		}
		fail := func(format string, args ...any) (defineVars, error) {
			return defineVars{}, fmt.Errorf("line %d EXT-X-DEFINE: %w: %s", n, ErrVariable, fmt.Sprintf(format, args...))
		}
		attrs, err := ParseAttrList(list)
		if err != nil {
			return fail("%v", err)
		}
		d := &define{}
		var kinds []string
		for _, a := range attrs.Attrs() {
			switch a.Name {
			case "NAME", "IMPORT", "QUERYPARAM":
				kinds = append(kinds, a.Name)
				d.name, d.query = a.Unquoted(), a.Name == "QUERYPARAM"
			case "VALUE":
				d.value = a.Unquoted()
			}
		}
		switch {
		case len(kinds) != 1:
			return fail("wants exactly one of NAME, IMPORT and QUERYPARAM, has %d", len(kinds))
		case kinds[0] == "IMPORT":
			return fail("IMPORT=%q: a master playlist has nothing to import from (IMPORT is for media playlists)", d.name)
		case !defineName(d.name):
			return fail("variable name %q may hold only letters, digits, '-' and '_'", d.name)
		case vars.defined(d.name):
			return fail("variable %q is defined twice", d.name)
		}
		if _, hasValue := attrs.Get("VALUE"); kinds[0] == "NAME" && !hasValue {
			return fail("NAME=%q has no VALUE", d.name)
		}
		if d.query {
			if query == nil {
				if query, err = defineQuery(playlistURL); err != nil {
					return fail("QUERYPARAM=%q: %v", d.name, err)
				}
			}
			v, ok := query[d.name]
			if !ok {
				return fail("QUERYPARAM=%q: the playlist URL %s has no such query parameter", d.name, playlistURL)
			}
			d.value = v[0]
		}
		if err := masterCheckText(d.value); err != nil || strings.ContainsAny(d.value, "\"") {
			return fail("the value of %q cannot go in a playlist (quotes or control characters)", d.name)
		}
		if HasVariableReference(d.value) {
			return fail("the value of %q holds a variable reference; values are not expanded", d.name)
		}
		vars.values[d.name] = d.value
		vars.byLine[n] = d
	}
	return vars, nil
}

func (v defineVars) defined(name string) bool {
	_, ok := v.values[name]
	return ok
}

// defineQuery returns the query parameters of a playlist URL (absolute or relative).
func defineQuery(raw string) (url.Values, error) {
	q := mergeSplitRef(raw).query
	return url.ParseQuery(q)
}

// defineName reports whether s is a variable name: [a-zA-Z0-9_-]+ (RFC 8216bis 4.4.2.3).
func defineName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// defineSubstitute replaces every variable reference {$name} in s by its value.
func defineSubstitute(s string, values map[string]string) (string, error) {
	i := strings.Index(s, "{$")
	if i < 0 {
		return s, nil
	}
	var b strings.Builder
	for i >= 0 {
		end := strings.IndexByte(s[i:], '}')
		name := ""
		if end > 2 {
			name = s[i+2 : i+end]
		}
		if !defineName(name) {
			return "", fmt.Errorf("%w: %q is not a variable reference {$name}", ErrVariable, attrPreview(s[i:]))
		}
		v, ok := values[name]
		if !ok {
			return "", fmt.Errorf("%w: {$%s} is not defined by any EXT-X-DEFINE", ErrVariable, name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+end+1:]
		i = strings.Index(s, "{$")
	}
	b.WriteString(s)
	return b.String(), nil
}

// HasVariableReference reports whether a URL still holds a variable reference, literally or
// percent-encoded ({$ as %7B$ or %7B%24): such a URL must never be polled or published.
func HasVariableReference(u string) bool {
	l := strings.ToLower(u)
	return strings.Contains(l, "{$") || strings.Contains(l, "%7b$") || strings.Contains(l, "%7b%24")
}
