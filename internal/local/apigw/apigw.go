// Package apigw is a loopback stand-in for an API Gateway HTTP API with IAM authorization, for
// tests of the API's clients: it checks each request's SigV4 signature and invokes the Lambda
// handler with the payload 2.0 event API Gateway would send.
package apigw

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Principal is an IAM identity the gateway knows: its key pair and ARN.
type Principal struct {
	AccessKeyID, SecretAccessKey string
	ARN                          string
}

// Gateway is an http.Handler that authorizes like API Gateway's IAM authorization and forwards
// to a Lambda handler.
type Gateway struct {
	Region     string
	Principals []Principal
	Lambda     func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	Now        func() time.Time // nil: time.Now
	// MaxBody is API Gateway's payload limit (10 MB); 0 means that.
	MaxBody int64

	requests atomic.Int64
}

const maxSkew = 5 * time.Minute

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)

// ServeHTTP authorizes the request and invokes the Lambda handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := g.requests.Add(1)
	maxBody := g.MaxBody
	if maxBody == 0 {
		maxBody = 10 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	p, msg := g.authorize(r, body)
	if p == nil {
		gatewayError(w, http.StatusForbidden, msg)
		return
	}
	resp, err := g.Lambda(r.Context(), g.event(r, body, p, n))
	if err != nil {
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeResponse(w, resp)
}

// authorize verifies the SigV4 signature by signing the same request again with the
// principal's secret, as API Gateway does, and returns the principal or why it refused.
func (g *Gateway) authorize(r *http.Request, body []byte) (*Principal, string) {
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return nil, "Missing Authentication Token"
	}
	keyID, day, region, service, signed := m[1], m[2], m[3], m[4], m[5]
	var p *Principal
	for i := range g.Principals {
		if g.Principals[i].AccessKeyID == keyID {
			p = &g.Principals[i]
		}
	}
	if p == nil {
		return nil, "The security token included in the request is invalid."
	}
	if service != "execute-api" || region != g.Region {
		return nil, fmt.Sprintf("Credential should be scoped to a valid region and service (execute-api, %s)", g.Region)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != day {
		return nil, "Missing or malformed X-Amz-Date"
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	if d := now().Sub(at); d > maxSkew || d < -maxSkew {
		return nil, "Signature expired"
	}
	// Rebuild the request from the signed headers only, sign it, compare.
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return nil, "Forbidden"
	}
	for _, h := range strings.Split(signed, ";") {
		if h == "host" {
			continue
		}
		for _, v := range r.Header.Values(h) {
			again.Header.Add(h, v)
		}
	}
	again.Host = r.Host
	again.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey,
		SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), "execute-api", region, at); err != nil {
		return nil, "Forbidden"
	}
	if again.Header.Get("Authorization") != r.Header.Get("Authorization") {
		return nil, "The request signature we calculated does not match the signature you provided."
	}
	return p, ""
}

// event is the HTTP API payload 2.0 event for r.
func (g *Gateway) event(r *http.Request, body []byte, p *Principal, n int64) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	query := map[string]string{}
	for k, vs := range r.URL.Query() {
		query[k] = strings.Join(vs, ",")
	}
	account := "123456789012"
	if parts := strings.Split(p.ARN, ":"); len(parts) > 4 && parts[4] != "" {
		account = parts[4]
	}
	source, _, _ := net.SplitHostPort(r.RemoteAddr)
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              "$default",
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   "$default",
			AccountID:  account,
			Stage:      "$default",
			RequestID:  "local-" + strconv.FormatInt(n, 10),
			APIID:      "local",
			DomainName: r.Host,
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
					AccessKey: p.AccessKeyID, AccountID: account, CallerID: p.AccessKeyID,
					UserARN: p.ARN, UserID: p.AccessKeyID,
				},
			},
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: source, UserAgent: r.UserAgent(),
			},
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		w.Header()[http.CanonicalHeaderKey(k)] = vs
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.Copy(w, bytes.NewReader(body))
}

// gatewayError answers like API Gateway itself: {"message": "..."}, no code.
func gatewayError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}
