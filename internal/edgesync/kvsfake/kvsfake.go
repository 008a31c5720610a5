// Package kvsfake is a wire-level stand-in for the CloudFront KeyValueStore API, for tests.
// No local implementation of that service exists (not from AWS, not in moto), so this speaks
// its REST-JSON protocol on an httptest server, with the service's semantics where edgesync
// depends on them: every write must carry the store's current ETag (If-Match) and a stale one
// gets ConflictException; every request must be SigV4A-signed (the service accepts nothing
// else), which it checks in the request's shape (algorithm, scope, signed headers, region
// set), not cryptographically. It serves DescribeKeyValueStore, GetKey and UpdateKeys.
package kvsfake

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Account is the account ID in the fake store's ARN. The SDK puts it in front of the endpoint
// host (<account>.cloudfront-kvs.global.api.aws), and the server checks it is there.
const Account = "123456789012"

// ARN is the ARN of the one store the server holds.
const ARN = "arn:aws:cloudfront::" + Account + ":key-value-store/6c5fe0d5-0b5f-4e4c-9c3a-1a2b3c4d5e6f"

// Server is a fake CloudFront KeyValueStore endpoint holding one store.
type Server struct {
	*httptest.Server

	mu         sync.Mutex
	items      map[string]string
	version    int
	created    time.Time
	conflicts  int
	updates    int
	violations []string

	// BeforeUpdate, when set, runs at the start of every UpdateKeys request, before the ETag
	// check (tests use it to line concurrent writers up).
	BeforeUpdate func()
	// FailGet, when set, makes GetKey of the keys it returns true for answer 500.
	FailGet func(key string) bool
}

// New starts a server; Close stops it.
func New() *Server {
	s := &Server{items: map[string]string{}, created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// HTTPClient returns a client that sends every request to this server whatever the host name,
// because the SDK addresses <account>.<endpoint host>, which does not resolve on loopback.
func (s *Server) HTTPClient() *http.Client {
	addr := s.Listener.Addr().String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr}
}

// Items returns a copy of the store's entries.
func (s *Server) Items() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.items)
}

// Put sets an entry directly (test setup), as a write by someone else would: the ETag changes.
func (s *Server) Put(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[key] = value
	s.version++
}

// Conflicts returns how many UpdateKeys requests were refused for a stale ETag.
func (s *Server) Conflicts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conflicts
}

// Updates returns how many UpdateKeys requests succeeded.
func (s *Server) Updates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updates
}

// Violations lists every request refused for its signature or addressing.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

func (s *Server) etag() string { return fmt.Sprintf("KV%08d", s.version) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if problem := checkRequest(r); problem != "" {
		s.mu.Lock()
		s.violations = append(s.violations, r.Method+" "+r.URL.Path+": "+problem)
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "AccessDeniedException", problem)
		return
	}
	// /key-value-stores/{KvsARN}[/keys[/{Key}]], with the ARN and key path-escaped.
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			writeError(w, http.StatusBadRequest, "ValidationException", "bad path escape")
			return
		}
		parts[i] = u
	}
	if len(parts) < 2 || parts[0] != "key-value-stores" {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "no such operation: "+r.Method+" "+r.URL.Path)
		return
	}
	if parts[1] != ARN {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "no key value store "+parts[1])
		return
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 2:
		s.describe(w)
	case r.Method == http.MethodGet && len(parts) == 4 && parts[2] == "keys":
		s.getKey(w, parts[3])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "keys":
		s.updateKeys(w, r)
	default:
		writeError(w, http.StatusNotFound, "UnknownOperationException", "no such operation: "+r.Method+" "+r.URL.Path)
	}
}

// checkRequest returns what is wrong with a request's signature or addressing, or "".
func checkRequest(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != "AWS4-ECDSA-P256-SHA256" {
		return fmt.Sprintf("not SigV4A-signed: Authorization algorithm %q, want AWS4-ECDSA-P256-SHA256", alg)
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	// SigV4A's credential scope has no region: <key id>/<date>/<service>/aws4_request.
	if scope := strings.Split(fields["Credential"], "/"); len(scope) != 4 || scope[2] != "cloudfront-keyvaluestore" || scope[3] != "aws4_request" {
		return fmt.Sprintf("credential scope %q, want <key>/<date>/cloudfront-keyvaluestore/aws4_request", fields["Credential"])
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range []string{"host", "x-amz-date", "x-amz-region-set"} {
		if !contains(signed, h) {
			return fmt.Sprintf("header %s is not signed (SignedHeaders=%s)", h, fields["SignedHeaders"])
		}
	}
	if fields["Signature"] == "" {
		return "no signature"
	}
	if r.Header.Get("X-Amz-Region-Set") == "" {
		return "no X-Amz-Region-Set header"
	}
	if r.Header.Get("X-Amz-Date") == "" {
		return "no X-Amz-Date header"
	}
	if !strings.HasPrefix(r.Host, Account+".") {
		return fmt.Sprintf("host %q does not start with the store's account %s", r.Host, Account)
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func (s *Server) sizeLocked() int64 {
	var n int64
	for k, v := range s.items {
		n += int64(len(k) + len(v))
	}
	return n
}

func (s *Server) describe(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("ETag", s.etag())
	writeJSON(w, http.StatusOK, map[string]any{
		"Created":          s.created.Unix(),
		"ItemCount":        len(s.items),
		"KvsARN":           ARN,
		"LastModified":     s.created.Unix(),
		"Status":           "READY",
		"TotalSizeInBytes": s.sizeLocked(),
	})
}

func (s *Server) getKey(w http.ResponseWriter, key string) {
	if s.FailGet != nil && s.FailGet(key) {
		writeError(w, http.StatusInternalServerError, "InternalServerException", "injected failure")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.items[key]
	if !ok {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "key not found: "+key)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"Key": key, "Value": v, "ItemCount": len(s.items), "TotalSizeInBytes": s.sizeLocked()})
}

func (s *Server) updateKeys(w http.ResponseWriter, r *http.Request) {
	if s.BeforeUpdate != nil {
		s.BeforeUpdate()
	}
	var body struct {
		Puts    []struct{ Key, Value *string }
		Deletes []struct{ Key *string }
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "ValidationException", "body: "+err.Error())
		return
	}
	for _, p := range body.Puts {
		switch {
		case p.Key == nil || p.Value == nil:
			writeError(w, http.StatusBadRequest, "ValidationException", "a put needs Key and Value")
			return
		case *p.Key == "" || len(*p.Key) > 512:
			writeError(w, http.StatusBadRequest, "ValidationException", "key length must be 1-512")
			return
		case len(*p.Value) > 1024:
			writeError(w, http.StatusBadRequest, "ValidationException", "value of "+*p.Key+" is over 1024 bytes")
			return
		}
	}
	for _, d := range body.Deletes {
		if d.Key == nil || *d.Key == "" {
			writeError(w, http.StatusBadRequest, "ValidationException", "a delete needs Key")
			return
		}
	}
	ifMatch := r.Header.Get("If-Match")
	s.mu.Lock()
	defer s.mu.Unlock()
	if ifMatch == "" {
		writeError(w, http.StatusBadRequest, "ValidationException", "If-Match is required")
		return
	}
	if ifMatch != s.etag() {
		s.conflicts++
		writeError(w, http.StatusConflict, "ConflictException", "the key value store changed: If-Match "+ifMatch+" is not the current ETag")
		return
	}
	for _, d := range body.Deletes {
		delete(s.items, *d.Key)
	}
	for _, p := range body.Puts {
		s.items[*p.Key] = *p.Value
	}
	s.version++
	s.updates++
	w.Header().Set("ETag", s.etag())
	writeJSON(w, http.StatusOK, map[string]any{"ItemCount": len(s.items), "TotalSizeInBytes": s.sizeLocked()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	writeJSON(w, status, map[string]string{"Message": msg})
}
