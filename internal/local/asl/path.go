package asl

import (
	"fmt"
	"strings"
)

// path is a JSONPath in the subset this interpreter supports: "$" or "$" followed by
// ".name" segments, and, where a context path is allowed, "$$" followed by a known context
// object field ("$$.Execution.Id"). No brackets, wildcards, filters or recursive descent.
type path struct {
	raw     string
	context bool     // $$: the context object
	fields  []string // after the root
}

// contextFields are the context object fields a path may start with.
var contextFields = map[string][]string{
	"Execution":    {"Id", "Name", "StartTime", "Input"},
	"StateMachine": {"Id", "Name"},
	"State":        {"Name", "EnteredTime", "RetryCount"},
}

func parsePath(s string, allowContext bool) (*path, error) {
	p := &path{raw: s}
	rest := s
	switch {
	case strings.HasPrefix(s, "$$"):
		if !allowContext {
			return nil, fmt.Errorf("context path %q is not supported here", s)
		}
		p.context = true
		rest = s[2:]
	case strings.HasPrefix(s, "$"):
		rest = s[1:]
	default:
		return nil, fmt.Errorf("path %q does not start with $", s)
	}
	for rest != "" {
		if rest[0] != '.' {
			return nil, fmt.Errorf("path %q: only .name segments are supported by this interpreter", s)
		}
		rest = rest[1:]
		end := strings.IndexByte(rest, '.')
		if end < 0 {
			end = len(rest)
		}
		seg := rest[:end]
		if seg == "" {
			return nil, fmt.Errorf("path %q has an empty segment (recursive descent is not supported)", s)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return nil, fmt.Errorf("path %q: character %q is not supported by this interpreter", s, r)
			}
		}
		p.fields = append(p.fields, seg)
		rest = rest[end:]
	}
	if p.context {
		if len(p.fields) < 2 {
			return nil, fmt.Errorf("context path %q must name a field, e.g. $$.Execution.Id", s)
		}
		known := false
		for _, f := range contextFields[p.fields[0]] {
			if f == p.fields[1] {
				known = true
			}
		}
		if !known {
			return nil, fmt.Errorf("context path %q is not supported by this interpreter", s)
		}
		if len(p.fields) > 2 && !(p.fields[0] == "Execution" && p.fields[1] == "Input") {
			return nil, fmt.Errorf("context path %q is not supported by this interpreter", s)
		}
	}
	return p, nil
}

func (p *path) String() string { return p.raw }

// get returns the value at p in root (or in the context object for a $$ path).
func (p *path) get(root, ctxObj any) (any, bool) {
	v := root
	if p.context {
		v = ctxObj
	}
	for _, f := range p.fields {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[f]; !ok {
			return nil, false
		}
	}
	return v, true
}

// set returns a copy of root with value placed at p, creating objects along the way. The
// input is not modified: maps on the path are copied, the rest is shared.
func (p *path) set(root, value any) (any, error) {
	if len(p.fields) == 0 {
		return value, nil
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("cannot apply ResultPath %s: the input is not an object", p.raw)
	}
	return setIn(m, p.fields, value, p.raw)
}

func setIn(m map[string]any, fields []string, value any, raw string) (map[string]any, error) {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	if len(fields) == 1 {
		out[fields[0]] = value
		return out, nil
	}
	child, exists := m[fields[0]]
	var cm map[string]any
	switch c := child.(type) {
	case map[string]any:
		cm = c
	default:
		if exists {
			return nil, fmt.Errorf("cannot apply ResultPath %s: %s is not an object", raw, fields[0])
		}
		cm = map[string]any{}
	}
	sub, err := setIn(cm, fields[1:], value, raw)
	if err != nil {
		return nil, err
	}
	out[fields[0]] = sub
	return out, nil
}
