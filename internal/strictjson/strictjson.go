// Package strictjson decodes JSON the product reads from outside (API bodies, detector events, task
// inputs, stored documents) strictly: exactly one object, keys matched exactly, no duplicate, unknown or
// trailing data, and errors in the caller's terms rather than Go's.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Error says what is wrong with a document, naming the field by its JSON path ("playlists[0].url").
type Error struct {
	Path    string // empty for the document as a whole
	Problem string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Problem
	}
	return fmt.Sprintf("field %q: %s", e.Path, e.Problem)
}

// ErrNotObject is the problem of a document that is not one JSON object.
var ErrNotObject = errors.New("must be one JSON object")

// Decode decodes data, which must be exactly one JSON object, into v, a pointer to a struct or a map.
// Object keys must match a field's JSON name exactly, once each; a field named "-" or unexported
// never matches. Values of json.RawMessage, interface and map fields may hold any keys, but never the
// same key twice, at any depth.
func Decode(data []byte, v any) error {
	return decode(data, v, false)
}

// DecodeAllowUnknown is Decode for documents whose schema someone else may extend, such as AWS
// event envelopes: keys no field is named for are skipped (still checked for duplicates inside),
// but a key that differs from a field's name only in case is refused, since encoding/json would
// match it.
func DecodeAllowUnknown(data []byte, v any) error {
	return decode(data, v, true)
}

func decode(data []byte, v any, allowUnknown bool) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("strictjson: Decode needs a non-nil pointer")
	}
	if !utf8.Valid(data) {
		return &Error{Problem: "is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		if err != nil && !errors.Is(err, io.EOF) {
			return syntaxProblem(err)
		}
		return &Error{Problem: ErrNotObject.Error()}
	}
	w := walker{dec: dec, allowUnknown: allowUnknown}
	if err := w.object(rv.Type().Elem(), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Problem: "has data after the object; " + ErrNotObject.Error()}
	}
	// The walk has checked every key and every value's type, so the standard decoder, which
	// matches keys case-insensitively, now has nothing left to choose.
	if err := json.Unmarshal(data, v); err != nil {
		return &Error{Problem: "cannot be decoded: " + clip(err.Error())}
	}
	return nil
}

// Valid checks that data is exactly one JSON value of any kind, in valid UTF-8, with no key
// twice in any object: for documents whose shape the reader does not know, such as the input of
// a state machine execution.
func Valid(data []byte) error {
	if !utf8.Valid(data) {
		return &Error{Problem: "is not valid UTF-8"}
	}
	w := walker{dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	if err := w.any(""); err != nil {
		return err
	}
	if _, err := w.dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Problem: "has data after the JSON value"}
	}
	return nil
}

type walker struct {
	dec          *json.Decoder
	allowUnknown bool
}

var (
	rawType         = reflect.TypeFor[json.RawMessage]()
	numberType      = reflect.TypeFor[json.Number]()
	timeType        = reflect.TypeFor[time.Time]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// value checks the next value of the stream against t.
func (w *walker) value(t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawType || t.Kind() == reflect.Interface {
		return w.any(path)
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || (reflect.PointerTo(t).Implements(textType) && t.Kind() != reflect.Map) {
		return w.custom(t, path)
	}
	tok, err := w.dec.Token()
	if err != nil {
		return syntaxProblem(err)
	}
	if tok == nil {
		return nil // null leaves the field as it is, as encoding/json does
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return mismatch(t, tok, path)
		}
		return w.object(t, path)
	case reflect.Map:
		if tok != json.Delim('{') {
			return mismatch(t, tok, path)
		}
		return w.mapping(t, path)
	case reflect.Slice, reflect.Array:
		if tok != json.Delim('[') {
			return mismatch(t, tok, path)
		}
		for i := 0; w.dec.More(); i++ {
			if t.Kind() == reflect.Array && i >= t.Len() {
				return &Error{Path: path, Problem: fmt.Sprintf("has more than %d entries", t.Len())}
			}
			if err := w.value(t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return w.end()
	default:
		return scalar(t, tok, path)
	}
}

// object checks the members of an object whose '{' has been read against struct type t.
func (w *walker) object(t reflect.Type, path string) error {
	if t.Kind() == reflect.Map {
		return w.mapping(t, path)
	}
	if t.Kind() != reflect.Struct {
		return &Error{Path: path, Problem: "must be " + want(t)}
	}
	fields := fieldsOf(t)
	return w.members(path, func(key string) error {
		ft, ok := fields[key]
		switch {
		case ok:
			return w.value(ft, join(path, key))
		case w.allowUnknown && !foldsToField(fields, key):
			return w.any(join(path, key))
		}
		return &Error{Path: path, Problem: fmt.Sprintf("unknown field %q", clip(key))}
	})
}

// members reads the members of an object whose '{' has been read, up to its '}', refusing a key
// given twice and handing each member's key to value, which must read the member's value.
func (w *walker) members(path string, value func(key string) error) error {
	seen := map[string]bool{}
	for w.dec.More() {
		key, err := w.key()
		if err != nil {
			return err
		}
		if seen[key] {
			return &Error{Path: path, Problem: fmt.Sprintf("duplicate field %q", clip(key))}
		}
		seen[key] = true
		if err := value(key); err != nil {
			return err
		}
	}
	return w.end()
}

// foldsToField reports whether key differs from a field's name only in case.
func foldsToField(fields map[string]reflect.Type, key string) bool {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return true
		}
	}
	return false
}

// mapping checks the members of an object whose '{' has been read against map type t.
func (w *walker) mapping(t reflect.Type, path string) error {
	return w.members(path, func(key string) error { return w.value(t.Elem(), join(path, key)) })
}

// any checks a value of any shape for duplicate keys.
func (w *walker) any(path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return syntaxProblem(err)
	}
	switch tok {
	case json.Delim('{'):
		return w.members(path, func(key string) error { return w.any(join(path, key)) })
	case json.Delim('['):
		for i := 0; w.dec.More(); i++ {
			if err := w.any(path + "[" + strconv.Itoa(i) + "]"); err != nil {
				return err
			}
		}
		return w.end()
	}
	return nil
}

// end reads the delimiter that closes an object or array.
func (w *walker) end() error {
	if _, err := w.dec.Token(); err != nil {
		return syntaxProblem(err)
	}
	return nil
}

// custom checks a value of a type that decodes itself (time.Time, named types with UnmarshalJSON)
// by decoding it alone, so its error can name the field.
func (w *walker) custom(t reflect.Type, path string) error {
	var raw json.RawMessage
	if err := w.dec.Decode(&raw); err != nil {
		return syntaxProblem(err)
	}
	if err := checkDuplicates(raw, path); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &Error{Path: path, Problem: fmt.Sprintf("must be %s, not %s", want(t), clip(te.Value))}
		}
		if t == timeType {
			return &Error{Path: path, Problem: "must be " + want(t)}
		}
		return &Error{Path: path, Problem: "is invalid: " + clip(strings.TrimPrefix(err.Error(), "json: "))}
	}
	return nil
}

func checkDuplicates(raw []byte, path string) error {
	w := walker{dec: json.NewDecoder(bytes.NewReader(raw))}
	w.dec.UseNumber()
	return w.any(path)
}

func (w *walker) key() (string, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return "", syntaxProblem(err)
	}
	return tok.(string), nil
}

// scalar checks that tok fits the scalar type t.
func scalar(t reflect.Type, tok json.Token, path string) error {
	bad := func() error { return mismatch(t, tok, path) }
	switch v := tok.(type) {
	case bool:
		if t.Kind() != reflect.Bool {
			return bad()
		}
	case string:
		if t.Kind() != reflect.String {
			return bad()
		}
	case json.Number:
		if t == numberType {
			return nil
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if _, err := strconv.ParseInt(string(v), 10, t.Bits()); err != nil {
				return bad()
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if _, err := strconv.ParseUint(string(v), 10, t.Bits()); err != nil {
				return bad()
			}
		case reflect.Float32, reflect.Float64:
			if _, err := strconv.ParseFloat(string(v), t.Bits()); err != nil {
				return bad()
			}
		default:
			return bad()
		}
	default:
		return bad() // an object or array where a scalar belongs
	}
	return nil
}

func mismatch(t reflect.Type, tok json.Token, path string) error {
	return &Error{Path: path, Problem: fmt.Sprintf("must be %s, not %s", want(t), describe(tok))}
}

// want names what a Go type accepts, in JSON's terms.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer of at most %d bits", t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct:
		if t == timeType {
			return "an RFC 3339 time string"
		}
		return "an object"
	case reflect.Map:
		return "an object"
	}
	return "a JSON value"
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case bool:
		return strconv.FormatBool(v)
	case string:
		return "a string"
	case json.Number:
		return clip(string(v))
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	}
	return "null"
}

func syntaxProblem(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &Error{Problem: fmt.Sprintf("is not valid JSON at byte %d", se.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Problem: "ends before the JSON is complete"}
	}
	return &Error{Problem: "is not valid JSON: " + clip(strings.TrimPrefix(err.Error(), "json: "))}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// clip keeps what a message echoes short: an error must not carry a whole hostile body.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// fieldsOf maps the JSON names of a struct's fields, embedded structs' promoted fields included, to
// their types, following encoding/json's naming rules.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	collect(t, m, 0)
	fieldCache.Store(t, m)
	return m
}

func collect(t reflect.Type, m map[string]reflect.Type, depth int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && depth < 8 {
				collect(et, m, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := m[name]; !taken || depth == 0 {
			m[name] = ft
		}
	}
}
