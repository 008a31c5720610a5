package hls

import (
	"errors"
	"fmt"
	"strings"
)

// ErrAttrList reports a malformed attribute list (RFC 8216bis 4.2).
var ErrAttrList = errors.New("malformed attribute list")

// Attr is one AttributeName=AttributeValue pair of an attribute list. Value is the value's text as
// written, quotes included, so a quoted-string and an enumerated-string stay distinguishable.
type Attr struct {
	Name  string
	Value string
	start int // byte offset of Value in the list text
}

// Quoted reports whether the value is a quoted-string.
func (a Attr) Quoted() bool {
	return len(a.Value) >= 2 && a.Value[0] == '"' && a.Value[len(a.Value)-1] == '"'
}

// Unquoted returns the contents of a quoted-string value, or the value itself otherwise.
func (a Attr) Unquoted() string {
	if a.Quoted() {
		return a.Value[1 : len(a.Value)-1]
	}
	return a.Value
}

// AttrList is a parsed attribute list that keeps its original text: Edit writes it back byte for
// byte except for the values it is asked to change.
type AttrList struct {
	text  string
	attrs []Attr
}

// ParseAttrList splits an attribute list (the text after "#TAG:") into its attributes. It accepts
// spaces or tabs around the commas, which some encoders write, and keeps them in the text.
func ParseAttrList(s string) (AttrList, error) {
	l := AttrList{text: s}
	var seen map[string]bool // attribute names, once the list is long
	i := attrSkipBlanks(s, 0)
	if i == len(s) {
		return l, nil
	}
	// Commas bound the count from above (quoted strings may hold some): one allocation.
	l.attrs = make([]Attr, 0, min(strings.Count(s, ",")+1, 64))
	for {
		nameStart := i
		for i < len(s) && attrNameByte(s[i]) {
			i++
		}
		if i == nameStart {
			return AttrList{}, fmt.Errorf("%w: expected an attribute name at byte %d, found %q", ErrAttrList, i, attrPreview(s[i:]))
		}
		name := s[nameStart:i]
		if i == len(s) || s[i] != '=' {
			return AttrList{}, fmt.Errorf("%w: attribute %s has no '='", ErrAttrList, name)
		}
		i++
		valStart := i
		if i < len(s) && s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return AttrList{}, fmt.Errorf("%w: attribute %s: unterminated quoted-string", ErrAttrList, name)
			}
			i += end + 2
		} else {
			for i < len(s) && s[i] != ',' {
				if s[i] == '"' {
					return AttrList{}, fmt.Errorf("%w: attribute %s: stray '\"' in unquoted value", ErrAttrList, name)
				}
				i++
			}
		}
		value := strings.TrimRight(s[valStart:i], " \t")
		if value == "" {
			return AttrList{}, fmt.Errorf("%w: attribute %s has an empty value", ErrAttrList, name)
		}
		if strings.ContainsAny(value, " \t") && value[0] != '"' {
			return AttrList{}, fmt.Errorf("%w: attribute %s: whitespace in unquoted value %q", ErrAttrList, name, value)
		}
		if attrSeen(l.attrs, seen, name) {
			return AttrList{}, fmt.Errorf("%w: duplicate attribute %s", ErrAttrList, name)
		}
		l.attrs = append(l.attrs, Attr{Name: name, Value: value, start: valStart})
		if seen != nil {
			seen[name] = true
		} else if len(l.attrs) == attrMapAfter {
			// Long lists (only hostile input has them) switch to a map, so parsing stays linear.
			seen = make(map[string]bool, 2*attrMapAfter)
			for _, a := range l.attrs {
				seen[a.Name] = true
			}
		}
		i = attrSkipBlanks(s, i)
		if i == len(s) {
			return l, nil
		}
		if s[i] != ',' {
			return AttrList{}, fmt.Errorf("%w: unexpected %q after attribute %s", ErrAttrList, attrPreview(s[i:]), name)
		}
		i = attrSkipBlanks(s, i+1)
		if i == len(s) {
			return AttrList{}, fmt.Errorf("%w: trailing ',' after attribute %s", ErrAttrList, name)
		}
	}
}

// Text returns the list as it was parsed.
func (l AttrList) Text() string { return l.text }

// Attrs returns the attributes in the order they were written.
func (l AttrList) Attrs() []Attr { return l.attrs }

// Len returns the number of attributes.
func (l AttrList) Len() int { return len(l.attrs) }

// Get returns the attribute called name.
func (l AttrList) Get(name string) (Attr, bool) {
	for _, a := range l.attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// Edit returns the list text with the values of the given attributes replaced, every other byte as
// it was; attributes the list does not have are appended in the order given. Each edit's Value is
// written as is, so callers quote quoted-strings themselves.
func (l AttrList) Edit(edits ...Attr) string {
	if len(edits) == 0 {
		return l.text
	}
	var b strings.Builder
	b.Grow(len(l.text) + 16*len(edits))
	l.editTo(&b, edits)
	return b.String()
}

// editTo writes what Edit returns to b.
func (l AttrList) editTo(b *strings.Builder, edits []Attr) {
	pos := 0
	// Replacements in text order: attributes are kept in parse order, so walk them once.
	for _, a := range l.attrs {
		for _, e := range edits {
			if e.Name == a.Name {
				b.WriteString(l.text[pos:a.start])
				b.WriteString(e.Value)
				pos = a.start + len(a.Value)
				break
			}
		}
	}
	b.WriteString(l.text[pos:])
	appended := false
	for _, e := range edits {
		if _, ok := l.Get(e.Name); ok {
			continue
		}
		if len(l.attrs) > 0 || appended {
			b.WriteByte(',')
		}
		appended = true
		b.WriteString(e.Name)
		b.WriteByte('=')
		b.WriteString(e.Value)
	}
}

// attrMapAfter is the list length from which ParseAttrList tracks names in a map.
const attrMapAfter = 32

// attrSeen reports whether name is among attrs, using seen when it is not nil.
func attrSeen(attrs []Attr, seen map[string]bool, name string) bool {
	if seen != nil {
		return seen[name]
	}
	for _, a := range attrs {
		if a.Name == name {
			return true
		}
	}
	return false
}

// attrQuote returns s as a quoted-string value.
func attrQuote(s string) string { return "\"" + s + "\"" }

func attrNameByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

func attrSkipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// attrPreview shortens s for an error message.
func attrPreview(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}
