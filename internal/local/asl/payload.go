package asl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// template is a compiled payload template: Parameters or ResultSelector. Keys ending in ".$"
// take their value from a path or from States.Format; other values are copied as they are.
type template struct {
	field string // "Parameters" or "ResultSelector", for messages
	root  tnode
}

type tnode interface {
	eval(e *evalEnv) (any, error)
}

// evalEnv is what a template or a choice rule reads: the state's effective input and the
// context object.
type evalEnv struct {
	input any
	ctx   any
}

type tstatic struct{ v any }

func (t tstatic) eval(*evalEnv) (any, error) { return t.v, nil }

type tfield struct {
	key  string // without ".$"
	node tnode
}

type tobject struct{ fields []tfield }

func (t tobject) eval(e *evalEnv) (any, error) {
	out := make(map[string]any, len(t.fields))
	for _, f := range t.fields {
		v, err := f.node.eval(e)
		if err != nil {
			return nil, err
		}
		out[f.key] = v
	}
	return out, nil
}

type tpath struct {
	p     *path
	field string // the template key, with ".$"
}

func (t tpath) eval(e *evalEnv) (any, error) {
	v, ok := t.p.get(e.input, e.ctx)
	if !ok {
		return nil, runtimeErrorf("the JSONPath %s of field %s was not found in the input", t.p, t.field)
	}
	return v, nil
}

func compileTemplate(f fields, field string) (*template, error) {
	obj, ok := f.obj[field].(map[string]any)
	if !ok {
		return nil, f.errf(field, "must be an object")
	}
	root, err := compileObject(f, field, obj)
	if err != nil {
		return nil, err
	}
	return &template{field: field, root: root}, nil
}

func compileObject(f fields, at string, obj map[string]any) (tnode, error) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out tobject
	for _, k := range keys {
		loc := at + "." + k
		v := obj[k]
		name, dynamic := strings.CutSuffix(k, ".$")
		if name == "" {
			return nil, f.errf(loc, "empty field names are not supported")
		}
		if dynamic {
			if _, dup := obj[name]; dup {
				return nil, f.errf(loc, "both %q and %q are present", name, k)
			}
			s, ok := v.(string)
			if !ok {
				return nil, f.errf(loc, "a field ending in .$ takes a path or an intrinsic function string")
			}
			node, err := compileDynamic(s, k)
			if err != nil {
				return nil, f.errf(loc, "%v", err)
			}
			out.fields = append(out.fields, tfield{name, node})
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			node, err := compileObject(f, loc, v)
			if err != nil {
				return nil, err
			}
			out.fields = append(out.fields, tfield{k, node})
		case []any:
			return nil, f.errf(loc, "arrays in payload templates are not supported by this interpreter")
		default:
			out.fields = append(out.fields, tfield{k, tstatic{v}})
		}
	}
	return out, nil
}

func compileDynamic(s, key string) (tnode, error) {
	if strings.HasPrefix(s, "States.") {
		return compileIntrinsic(s, key)
	}
	p, err := parsePath(s, true)
	if err != nil {
		return nil, err
	}
	return tpath{p, key}, nil
}

// tformat is States.Format: a template with {} placeholders, and one argument per placeholder.
type tformat struct {
	parts []string // literal text around the placeholders: len(args)+1
	args  []tnode
}

func (t tformat) eval(e *evalEnv) (any, error) {
	var b strings.Builder
	b.WriteString(t.parts[0])
	for i, a := range t.args {
		v, err := a.eval(e)
		if err != nil {
			return nil, err
		}
		switch v := v.(type) {
		case string:
			b.WriteString(v)
		case json.Number:
			b.WriteString(v.String())
		case bool:
			fmt.Fprint(&b, v)
		case nil:
			b.WriteString("null")
		default:
			return nil, runtimeErrorf("States.Format argument %d is an object or array, which this interpreter does not format", i+1)
		}
		b.WriteString(t.parts[i+1])
	}
	return b.String(), nil
}

// compileIntrinsic parses the one intrinsic function supported, States.Format, whose first
// argument is a string literal and whose other arguments are string or number literals or
// paths. In string literals ', {, } and \ are escaped with \; an unescaped {} is a placeholder.
func compileIntrinsic(s, key string) (tnode, error) {
	const fn = "States.Format("
	if !strings.HasPrefix(s, fn) {
		name, _, _ := strings.Cut(s, "(")
		return nil, fmt.Errorf("intrinsic function %s is not supported by this interpreter (only States.Format)", name)
	}
	sc := &scanner{s: s, i: len(fn)}
	var args []intrinsicArg
	for {
		sc.skipSpace()
		a, err := sc.arg()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		args = append(args, a)
		sc.skipSpace()
		if sc.eat(')') {
			break
		}
		if !sc.eat(',') {
			return nil, fmt.Errorf("%s: expected , or ) at offset %d", s, sc.i)
		}
	}
	if sc.i != len(s) {
		return nil, fmt.Errorf("%s: unexpected text after the closing )", s)
	}
	if !args[0].isLiteral {
		return nil, fmt.Errorf("%s: the first argument of States.Format must be a string literal here", s)
	}
	parts, err := splitPlaceholders(args[0].lit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	if got, want := len(args)-1, len(parts)-1; got != want {
		return nil, fmt.Errorf("%s: %d placeholders but %d arguments", s, want, got)
	}
	t := tformat{parts: parts}
	for _, a := range args[1:] {
		if a.isLiteral {
			for _, r := range a.lit {
				if r.placeholderBrace {
					return nil, fmt.Errorf("%s: unescaped { or } in a string argument", s)
				}
			}
			t.args = append(t.args, tstatic{a.lit.String()})
			continue
		}
		if a.path != nil {
			t.args = append(t.args, tpath{a.path, key})
			continue
		}
		t.args = append(t.args, tstatic{a.number})
	}
	return t, nil
}

// litRune is one character of a string literal; placeholderBrace marks an unescaped { or }.
type litRune struct {
	r                rune
	placeholderBrace bool
}

type literal []litRune

func (l literal) String() string {
	var b strings.Builder
	for _, r := range l {
		b.WriteRune(r.r)
	}
	return b.String()
}

type intrinsicArg struct {
	isLiteral bool
	lit       literal
	path      *path
	number    json.Number
}

type scanner struct {
	s string
	i int
}

func (sc *scanner) skipSpace() {
	for sc.i < len(sc.s) && sc.s[sc.i] == ' ' {
		sc.i++
	}
}

func (sc *scanner) eat(c byte) bool {
	if sc.i < len(sc.s) && sc.s[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

func (sc *scanner) arg() (intrinsicArg, error) {
	if sc.i >= len(sc.s) {
		return intrinsicArg{}, fmt.Errorf("missing argument")
	}
	switch c := sc.s[sc.i]; {
	case c == '\'':
		sc.i++
		var lit literal
		for {
			if sc.i >= len(sc.s) {
				return intrinsicArg{}, fmt.Errorf("unterminated string literal")
			}
			r, width := utf8.DecodeRuneInString(sc.s[sc.i:])
			sc.i += width
			switch r {
			case '\'':
				return intrinsicArg{isLiteral: true, lit: lit}, nil
			case '\\':
				if sc.i >= len(sc.s) {
					return intrinsicArg{}, fmt.Errorf("unterminated escape")
				}
				e := sc.s[sc.i]
				if e != '\'' && e != '{' && e != '}' && e != '\\' {
					return intrinsicArg{}, fmt.Errorf("unsupported escape \\%c", e)
				}
				sc.i++
				lit = append(lit, litRune{r: rune(e)})
			case '{', '}':
				lit = append(lit, litRune{r: r, placeholderBrace: true})
			default:
				lit = append(lit, litRune{r: r})
			}
		}
	case c == '$':
		start := sc.i
		for sc.i < len(sc.s) && sc.s[sc.i] != ',' && sc.s[sc.i] != ')' && sc.s[sc.i] != ' ' {
			sc.i++
		}
		p, err := parsePath(sc.s[start:sc.i], true)
		if err != nil {
			return intrinsicArg{}, err
		}
		return intrinsicArg{path: p}, nil
	case c == '-' || c >= '0' && c <= '9':
		start := sc.i
		for sc.i < len(sc.s) && strings.IndexByte("+-.0123456789eE", sc.s[sc.i]) >= 0 {
			sc.i++
		}
		n := json.Number(sc.s[start:sc.i])
		if _, err := n.Float64(); err != nil {
			return intrinsicArg{}, fmt.Errorf("bad number %q", n)
		}
		return intrinsicArg{number: n}, nil
	default:
		rest := sc.s[sc.i:]
		if strings.HasPrefix(rest, "States.") {
			return intrinsicArg{}, fmt.Errorf("nested intrinsic functions are not supported by this interpreter")
		}
		return intrinsicArg{}, fmt.Errorf("unsupported argument at offset %d", sc.i)
	}
}

// splitPlaceholders splits a States.Format template at its {} placeholders.
func splitPlaceholders(l literal) ([]string, error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(l); i++ {
		r := l[i]
		if !r.placeholderBrace {
			cur.WriteRune(r.r)
			continue
		}
		if r.r == '{' && i+1 < len(l) && l[i+1].placeholderBrace && l[i+1].r == '}' {
			parts = append(parts, cur.String())
			cur.Reset()
			i++
			continue
		}
		return nil, fmt.Errorf("unescaped %c in the template that is not part of {}", r.r)
	}
	return append(parts, cur.String()), nil
}
