package api

import (
	"net/http"
	"regexp"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// CallerFunc names the principal making a request, for changed_by and the audit trail.
type CallerFunc func(r *http.Request) (string, bool)

// GatewayCaller reads the caller's IAM identity that API Gateway's IAM authorization put into
// the HTTP API payload 2.0 request context (requestContext.authorizer.iam): the principal's ARN,
// or its caller id when the ARN is missing. The adapter must pass the event through the request
// context (httpadapter's ProxyWithContext); headers are never trusted for identity.
func GatewayCaller(r *http.Request) (string, bool) {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.IAM == nil {
		return "", false
	}
	iam := rc.Authorizer.IAM
	switch {
	case iam.UserARN != "":
		return iam.UserARN, true
	case iam.CallerID != "":
		return "iam:" + iam.CallerID, true
	}
	return "", false
}

// OperatorHeader carries the operator's name to an unsigned local API (cvsctl sets it when it
// talks to a loopback endpoint). Only LocalCaller reads it; the deployed API never does.
const OperatorHeader = "X-Cvs-Operator"

var operatorRE = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// LocalCaller is the CallerFunc of the local runtime, which has no IAM: it records
// "local:<operator>" from OperatorHeader when it is a plain name, else "local:<fallback>".
func LocalCaller(fallback string) CallerFunc {
	return func(r *http.Request) (string, bool) {
		if name := r.Header.Get(OperatorHeader); operatorRE.MatchString(name) {
			return "local:" + name, true
		}
		return "local:" + fallback, true
	}
}

// requestID is API Gateway's id of the request, for log lines ("" outside Lambda).
func requestID(r *http.Request) string {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok {
		return ""
	}
	return rc.RequestID
}
