// Package kvsfake is a wire-level stand-in for the CloudFront KeyValueStore API on an httptest
// server, for tests (no local implementation of the service exists), with the ETag, SigV4A and
// size-limit semantics edgesync depends on.
package kvsfake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Service limits the server enforces.
const (
	// MaxUpdateKeys is the most puts and deletes one UpdateKeys request may carry.
	MaxUpdateKeys = 50
	// MaxUpdateBytes is the largest UpdateKeys payload.
	MaxUpdateBytes = 3 << 20
	// MaxListResults is the largest ListKeys page.
	MaxListResults = 50
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
	requests   map[string]int

	// BeforeUpdate, when set, runs at the start of every UpdateKeys request, before the ETag
	// check (tests use it to line concurrent writers up).
	BeforeUpdate func()
	// FailGet, when set, makes GetKey of the keys it returns true for answer 500.
	FailGet func(key string) bool
}

// New starts a server; Close stops it.
func New() *Server {
	s := &Server{items: map[string]string{}, requests: map[string]int{}, created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
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

// Delete removes an entry directly (test setup: a key deleted by hand); the ETag changes.
func (s *Server) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, key)
	s.version++
}

// Requests returns how many requests of each operation the server answered (DescribeKeyValueStore,
// GetKey, ListKeys, UpdateKeys), refused ones included.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

func (s *Server) count(op string) {
	s.mu.Lock()
	s.requests[op]++
	s.mu.Unlock()
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
		s.count("DescribeKeyValueStore")
		s.describe(w)
	case r.Method == http.MethodGet && len(parts) == 4 && parts[2] == "keys":
		s.count("GetKey")
		s.getKey(w, parts[3])
	case r.Method == http.MethodGet && len(parts) == 3 && parts[2] == "keys":
		s.count("ListKeys")
		s.listKeys(w, r.URL.Query())
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "keys":
		s.count("UpdateKeys")
		s.updateKeys(w, r)
	default:
		writeError(w, http.StatusNotFound, "UnknownOperationException", "no such operation: "+r.Method+" "+r.URL.Path)
	}
}

// checkRequest returns what is wrong with a request's signature or addressing, or "". It checks
// the SigV4A shape (algorithm, scope, signed headers, region set), not the signature itself.
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

// listKeys answers one page of the entries in key order. The page token is the last key of
// the previous page, encoded; a write between pages shows in the later pages, as it may in
// the service.
func (s *Server) listKeys(w http.ResponseWriter, q url.Values) {
	limit := 10 // the service's default page
	if m := q.Get("MaxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > MaxListResults {
			writeError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("MaxResults %q must be 1-%d", m, MaxListResults))
			return
		}
		limit = n
	}
	after := ""
	if tok := q.Get("NextToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 {
			writeError(w, http.StatusBadRequest, "ValidationException", "NextToken is not a token from a previous page")
			return
		}
		after = string(b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Sorted(maps.Keys(s.items))
	start, _ := slices.BinarySearch(keys, after)
	if after != "" && start < len(keys) && keys[start] == after {
		start++
	}
	type item struct{ Key, Value string }
	page := []item{}
	for _, k := range keys[start:min(start+limit, len(keys))] {
		page = append(page, item{k, s.items[k]})
	}
	out := map[string]any{"Items": page}
	if start+limit < len(keys) {
		out["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].Key))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) updateKeys(w http.ResponseWriter, r *http.Request) {
	if s.BeforeUpdate != nil {
		s.BeforeUpdate()
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, MaxUpdateBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "ValidationException", "body: "+err.Error())
		return
	}
	if len(raw) > MaxUpdateBytes {
		writeError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("the request is over the %d-byte payload limit", MaxUpdateBytes))
		return
	}
	var body struct {
		Puts    []struct{ Key, Value *string }
		Deletes []struct{ Key *string }
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		writeError(w, http.StatusBadRequest, "ValidationException", "body: "+err.Error())
		return
	}
	if n := len(body.Puts) + len(body.Deletes); n > MaxUpdateKeys {
		writeError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("%d puts and deletes in one request, over the limit of %d", n, MaxUpdateKeys))
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
