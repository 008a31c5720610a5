package sns

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Scope is what a filter policy looks at (the subscription's FilterPolicyScope).
type Scope string

// Scopes of a filter policy.
const (
	ScopeAttributes Scope = "MessageAttributes"
	ScopeBody       Scope = "MessageBody"
)

// Filter is a compiled SNS subscription filter policy. It supports exactly: exact strings,
// {"prefix": s}, {"suffix": s}, {"anything-but": s or [s...]} and {"exists": bool}, on message
// attributes or, with ScopeBody, on keys of a JSON body, nested at any depth (arrays on the way
// are searched element by element, as SNS does). Anything else is refused when the policy is
// parsed, so a policy never filters here differently from SNS without saying so.
type Filter struct {
	scope Scope
	root  *node
}

// node is a policy object: keys to either nested nodes (body scope) or conditions.
type node struct {
	keys     []string // sorted, for stable errors
	children map[string]*node
	leaves   map[string][]condition
}

type condKind int

const (
	condExact condKind = iota
	condPrefix
	condSuffix
	condAnythingBut
	condExists
)

type condition struct {
	kind   condKind
	value  string
	values []string // anything-but
	exists bool
}

// PolicyError says why a filter policy cannot be used here: where in the policy, and what.
type PolicyError struct {
	Path    string // dotted key path; "" for the policy as a whole
	Problem string
}

func (e *PolicyError) Error() string {
	if e.Path == "" {
		return "filter policy: " + e.Problem
	}
	return fmt.Sprintf("filter policy key %s: %s", e.Path, e.Problem)
}

// ParseFilter compiles a filter policy for scope ("" means ScopeAttributes, SNS's default).
func ParseFilter(policy []byte, scope Scope) (*Filter, error) {
	switch scope {
	case "":
		scope = ScopeAttributes
	case ScopeAttributes, ScopeBody:
	default:
		return nil, &PolicyError{Problem: fmt.Sprintf("scope %q is neither MessageAttributes nor MessageBody", scope)}
	}
	dec := json.NewDecoder(bytes.NewReader(policy))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, &PolicyError{Problem: "not JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, &PolicyError{Problem: "data after the JSON object"}
	}
	obj, ok := raw.(map[string]any)
	if !ok || len(obj) == 0 {
		return nil, &PolicyError{Problem: "must be a non-empty JSON object"}
	}
	root, err := compileNode(obj, nil, scope)
	if err != nil {
		return nil, err
	}
	return &Filter{scope: scope, root: root}, nil
}

// Scope returns the filter's scope.
func (f *Filter) Scope() Scope { return f.scope }

func compileNode(obj map[string]any, path []string, scope Scope) (*node, error) {
	n := &node{children: map[string]*node{}, leaves: map[string][]condition{}}
	for k := range obj {
		n.keys = append(n.keys, k)
	}
	sort.Strings(n.keys)
	for _, k := range n.keys {
		p := append(slices.Clone(path), k)
		at := strings.Join(p, ".")
		if strings.HasPrefix(k, "$") {
			return nil, &PolicyError{Path: at, Problem: "operator keys such as $or are not supported"}
		}
		switch v := obj[k].(type) {
		case map[string]any:
			if scope != ScopeBody {
				return nil, &PolicyError{Path: at, Problem: "nested keys need FilterPolicyScope MessageBody"}
			}
			if len(v) == 0 {
				return nil, &PolicyError{Path: at, Problem: "empty object"}
			}
			child, err := compileNode(v, p, scope)
			if err != nil {
				return nil, err
			}
			n.children[k] = child
		case []any:
			if len(v) == 0 {
				return nil, &PolicyError{Path: at, Problem: "empty list of conditions"}
			}
			for i, c := range v {
				cond, err := compileCondition(c)
				if err != nil {
					return nil, &PolicyError{Path: fmt.Sprintf("%s[%d]", at, i), Problem: err.Error()}
				}
				n.leaves[k] = append(n.leaves[k], cond)
			}
		default:
			return nil, &PolicyError{Path: at, Problem: "must be a list of conditions or a nested object"}
		}
	}
	return n, nil
}

func compileCondition(c any) (condition, error) {
	switch v := c.(type) {
	case string:
		return condition{kind: condExact, value: v}, nil
	case map[string]any:
		if len(v) != 1 {
			return condition{}, fmt.Errorf("a condition object has exactly one operator, not %d", len(v))
		}
		for op, arg := range v {
			switch op {
			case "prefix", "suffix":
				s, ok := arg.(string)
				if !ok || s == "" {
					return condition{}, fmt.Errorf("%s takes a non-empty string", op)
				}
				kind := condPrefix
				if op == "suffix" {
					kind = condSuffix
				}
				return condition{kind: kind, value: s}, nil
			case "anything-but":
				switch a := arg.(type) {
				case string:
					return condition{kind: condAnythingBut, values: []string{a}}, nil
				case []any:
					var vals []string
					for _, e := range a {
						s, ok := e.(string)
						if !ok {
							return condition{}, fmt.Errorf("anything-but supports strings only, not %v", e)
						}
						vals = append(vals, s)
					}
					if len(vals) == 0 {
						return condition{}, fmt.Errorf("anything-but needs at least one value")
					}
					return condition{kind: condAnythingBut, values: vals}, nil
				}
				return condition{}, fmt.Errorf("anything-but supports a string or a list of strings only")
			case "exists":
				b, ok := arg.(bool)
				if !ok {
					return condition{}, fmt.Errorf("exists takes true or false")
				}
				return condition{kind: condExists, exists: b}, nil
			}
			return condition{}, fmt.Errorf("operator %q is not supported here (supported: exact strings, prefix, suffix, anything-but, exists)", op)
		}
	}
	return condition{}, fmt.Errorf("%v is not supported here (supported: exact strings, prefix, suffix, anything-but, exists)", c)
}

// Match reports whether a message passes the filter. With ScopeBody a body that is not a JSON
// object matches nothing, as in SNS.
func (f *Filter) Match(body string, attributes map[string]string) bool {
	if f.scope == ScopeAttributes {
		for _, k := range f.root.keys {
			v, ok := attributes[k]
			var vals []any
			if ok {
				vals = []any{v}
			}
			if !anyCondition(f.root.leaves[k], vals, ok) {
				return false
			}
		}
		return true
	}
	var doc any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return false
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return false
	}
	return matchNode(f.root, []any{obj})
}

// matchNode matches n against every object in objs (the values found at n's path; more than
// one where an array was crossed): each key must be satisfied by some of them.
func matchNode(n *node, objs []any) bool {
	for _, k := range n.keys {
		var vals []any
		for _, o := range objs {
			collect(o, k, &vals)
		}
		if child, ok := n.children[k]; ok {
			if len(vals) == 0 || !matchNode(child, vals) {
				return false
			}
			continue
		}
		// A key whose value is an array is present if the array has elements; its elements
		// are matched one by one.
		var flat []any
		for _, v := range vals {
			if a, ok := v.([]any); ok {
				flat = append(flat, a...)
			} else {
				flat = append(flat, v)
			}
		}
		if !anyCondition(n.leaves[k], flat, len(flat) > 0) {
			return false
		}
	}
	return true
}

// collect appends the value of key in o to vals, looking into each element when o is an array.
func collect(o any, key string, vals *[]any) {
	switch v := o.(type) {
	case map[string]any:
		if x, ok := v[key]; ok {
			*vals = append(*vals, x)
		}
	case []any:
		for _, e := range v {
			collect(e, key, vals)
		}
	}
}

// anyCondition reports whether some condition holds for the values found (present says
// whether the key was there at all).
func anyCondition(conds []condition, vals []any, present bool) bool {
	for _, c := range conds {
		if c.kind == condExists {
			if c.exists == present {
				return true
			}
			continue
		}
		for _, v := range vals {
			s, isString := v.(string)
			if !isString {
				continue // the supported operators compare strings only
			}
			switch c.kind {
			case condExact:
				if s == c.value {
					return true
				}
			case condPrefix:
				if strings.HasPrefix(s, c.value) {
					return true
				}
			case condSuffix:
				if strings.HasSuffix(s, c.value) {
					return true
				}
			case condAnythingBut:
				if !slices.Contains(c.values, s) {
					return true
				}
			}
		}
	}
	return false
}
