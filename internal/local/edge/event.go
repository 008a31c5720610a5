package edge

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Field is one query string parameter, header or cookie in CloudFront Functions' event shape:
// Value is the first value, MultiValue lists every value when there are several.
type Field struct {
	Value      string  `json:"value"`
	MultiValue []Field `json:"multiValue,omitempty"`
}

// Fields maps lower-case header names, parameter names or cookie names to their values.
type Fields map[string]Field

// Values returns every value of f in order.
func (f Field) Values() []string {
	if len(f.MultiValue) == 0 {
		return []string{f.Value}
	}
	out := make([]string, len(f.MultiValue))
	for i, m := range f.MultiValue {
		out[i] = m.Value
	}
	return out
}

func fieldOf(values []string) Field {
	f := Field{Value: values[0]}
	if len(values) > 1 {
		for _, v := range values {
			f.MultiValue = append(f.MultiValue, Field{Value: v})
		}
	}
	return f
}

// Event is the viewer-request event a CloudFront Function receives (version 1.0).
type Event struct {
	Context EventContext `json:"context"`
	Viewer  Viewer       `json:"viewer"`
	Request Request      `json:"request"`
}

// EventContext says which distribution and request the event is for.
type EventContext struct {
	DistributionDomainName string `json:"distributionDomainName,omitempty"`
	DistributionID         string `json:"distributionId,omitempty"`
	EventType              string `json:"eventType"`
	RequestID              string `json:"requestId,omitempty"`
}

// Viewer is the client that sent the request.
type Viewer struct {
	IP string `json:"ip"`
}

// Request is the viewer's HTTP request.
type Request struct {
	Method      string `json:"method"`
	URI         string `json:"uri"`
	Querystring Fields `json:"querystring"`
	Headers     Fields `json:"headers"`
	Cookies     Fields `json:"cookies"`
}

// Response is an HTTP response a function generates instead of letting the request through.
type Response struct {
	StatusCode        int    `json:"statusCode"`
	StatusDescription string `json:"statusDescription,omitempty"`
	Headers           Fields `json:"headers,omitempty"`
	Cookies           Fields `json:"cookies,omitempty"`
	Body              string `json:"body,omitempty"` // decoded (the function may send text or base64)
}

// Result is what a viewer-request function decided: exactly one of Request (go on to the
// cache and origin with this request) and Response (answer the viewer with it).
type Result struct {
	Request  *Request
	Response *Response
}

// EventFromHTTP builds the viewer-request event CloudFront would give a function for r on the
// distribution with the given domain. Header names are lower-cased, cookies are taken out of
// the headers, and query string values are decoded.
func EventFromHTTP(r *http.Request, domain, requestID string) Event {
	headers := Fields{}
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" || len(values) == 0 {
			continue
		}
		headers[lower] = fieldOf(values)
	}
	if r.Host != "" {
		headers["host"] = Field{Value: r.Host}
	}
	cookies := Fields{}
	byName := map[string][]string{}
	var order []string
	for _, c := range r.Cookies() {
		if _, seen := byName[c.Name]; !seen {
			order = append(order, c.Name)
		}
		byName[c.Name] = append(byName[c.Name], c.Value)
	}
	for _, name := range order {
		cookies[name] = fieldOf(byName[name])
	}
	query := Fields{}
	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil {
		for name, values := range q {
			query[name] = fieldOf(values)
		}
	}
	ip := r.RemoteAddr
	if i := strings.LastIndexByte(ip, ':'); i >= 0 {
		ip = strings.Trim(ip[:i], "[]")
	}
	return Event{
		Context: EventContext{DistributionDomainName: domain, EventType: "viewer-request", RequestID: requestID},
		Viewer:  Viewer{IP: ip},
		Request: Request{Method: r.Method, URI: r.URL.EscapedPath(), Querystring: query, Headers: headers, Cookies: cookies},
	}
}

// resultFromExport turns a function's return value (exported from goja, or decoded from JSON
// by the Node cross-check) into a Result.
func resultFromExport(v any) (Result, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Result{}, fmt.Errorf("the function returned %T, want a request or response object", v)
	}
	if sc, ok := m["statusCode"]; ok && sc != nil {
		code, err := toInt(sc)
		if err != nil {
			return Result{}, fmt.Errorf("response statusCode: %w", err)
		}
		resp := &Response{StatusCode: code, StatusDescription: str(m["statusDescription"])}
		if resp.Headers, err = fieldsFromExport(m["headers"]); err != nil {
			return Result{}, fmt.Errorf("response headers: %w", err)
		}
		if resp.Cookies, err = fieldsFromExport(m["cookies"]); err != nil {
			return Result{}, fmt.Errorf("response cookies: %w", err)
		}
		if resp.Body, err = bodyFromExport(m["body"]); err != nil {
			return Result{}, fmt.Errorf("response body: %w", err)
		}
		return Result{Response: resp}, nil
	}
	if _, ok := m["uri"]; !ok {
		return Result{}, fmt.Errorf("the function returned an object with neither statusCode nor uri")
	}
	req := &Request{Method: str(m["method"]), URI: str(m["uri"])}
	var err error
	if req.Querystring, err = fieldsFromExport(m["querystring"]); err != nil {
		return Result{}, fmt.Errorf("request querystring: %w", err)
	}
	if req.Headers, err = fieldsFromExport(m["headers"]); err != nil {
		return Result{}, fmt.Errorf("request headers: %w", err)
	}
	if req.Cookies, err = fieldsFromExport(m["cookies"]); err != nil {
		return Result{}, fmt.Errorf("request cookies: %w", err)
	}
	return Result{Request: req}, nil
}

func fieldsFromExport(v any) (Fields, error) {
	if v == nil {
		return Fields{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("got %T, want an object", v)
	}
	out := make(Fields, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		fm, ok := m[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: got %T, want {value: ...}", name, m[name])
		}
		f := Field{Value: str(fm["value"])}
		if mv, ok := fm["multiValue"].([]any); ok {
			for _, e := range mv {
				em, _ := e.(map[string]any)
				f.MultiValue = append(f.MultiValue, Field{Value: str(em["value"])})
			}
		}
		out[name] = f
	}
	return out, nil
}

func bodyFromExport(v any) (string, error) {
	switch b := v.(type) {
	case nil:
		return "", nil
	case string:
		return b, nil
	case map[string]any:
		data := str(b["data"])
		switch enc := str(b["encoding"]); enc {
		case "text", "":
			return data, nil
		case "base64":
			dec, err := decodeBase64(data)
			if err != nil {
				return "", fmt.Errorf("encoding base64: %w", err)
			}
			return dec, nil
		default:
			return "", fmt.Errorf("unknown encoding %q (want text or base64)", enc)
		}
	}
	return "", fmt.Errorf("got %T, want a string or {encoding, data}", v)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case int64:
		return int(n), nil
	case int:
		return n, nil
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("got %v (%T), want an integer", v, v)
}
