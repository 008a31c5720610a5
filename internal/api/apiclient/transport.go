package apiclient

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/clustered-video-streams/cvs/internal/api"
)

// Service is the SigV4 signing name of API Gateway's invoke endpoints.
const Service = "execute-api"

// SigV4 is a RoundTripper that signs each request for an IAM-authorized API Gateway API.
type SigV4 struct {
	Credentials aws.CredentialsProvider
	Region      string
	Now         func() time.Time  // nil: time.Now
	Next        http.RoundTripper // nil: http.DefaultTransport
}

// RoundTrip signs a copy of req (body hashed) and sends it.
func (s *SigV4) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("sign %s %s: read body: %w", req.Method, req.URL.Path, err)
		}
		body = b
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	if len(body) == 0 {
		out.Body = http.NoBody
	}
	creds, err := s.Credentials.Retrieve(req.Context())
	if err != nil {
		return nil, fmt.Errorf("sign %s %s: AWS credentials: %w", req.Method, req.URL.Path, err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(req.Context(), creds, out, hex.EncodeToString(sum[:]), Service, s.Region, now().UTC()); err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", req.Method, req.URL.Path, err)
	}
	next := s.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(out)
}

// Operator is a RoundTripper for an unsigned local API: it names the operator in
// api.OperatorHeader, which the local runtime records as local:<name>.
type Operator struct {
	Name string
	Next http.RoundTripper // nil: http.DefaultTransport
}

// RoundTrip adds the operator header and sends the request.
func (o *Operator) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	if o.Name != "" {
		out.Header.Set(api.OperatorHeader, o.Name)
	}
	next := o.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(out)
}

// Unsigned reports whether an endpoint is a local runtime that takes unsigned requests:
// plain http to a loopback host. Any other http endpoint is refused (it would either be
// unsigned over a network or send signatures in clear), and https is signed.
func Unsigned(endpoint *url.URL) (bool, error) {
	switch endpoint.Scheme {
	case "https":
		return false, nil
	case "http":
		host := endpoint.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return true, nil
		}
		return false, fmt.Errorf("endpoint %s: plain http is allowed only to a loopback host (a local runtime); use https", endpoint.Redacted())
	}
	return false, fmt.Errorf("endpoint %s: want an http or https URL", endpoint.Redacted())
}

// RegionOf returns the region in an execute-api endpoint's host name
// (<api-id>.execute-api.<region>.amazonaws.com), or "" for other hosts.
func RegionOf(endpoint *url.URL) string {
	parts := strings.Split(endpoint.Hostname(), ".")
	if len(parts) >= 5 && parts[1] == "execute-api" && strings.HasPrefix(strings.Join(parts[3:], "."), "amazonaws.com") {
		return parts[2]
	}
	return ""
}
