package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// LambdaHandler adapts h to an HTTP API (payload 2.0, $default stage) Lambda integration, as
// aws-lambda-go-api-proxy's httpadapter does, but answers what the adapter cannot turn into a
// request or a response with a JSON error like every other: a 400 for an event the caller made
// unreadable (a body marked base64 that is not, a path with a bad percent escape), a 500 for a
// handler that wrote nothing. The event travels in the request context, where GatewayCaller
// finds the caller's IAM identity.
func LambdaHandler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	api, ok := h.(*handler)
	if !ok {
		api = &handler{log: slog.Default()} // another handler: errors are still answered in JSON
	}
	var acc core.RequestAccessorV2
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		w := core.NewProxyResponseWriterV2()
		r, err := acc.EventToRequestWithContext(ctx, ev)
		if err != nil {
			r = standIn(ctx, ev)
			api.fail(w, r, unreadable(err))
		} else {
			h.ServeHTTP(w, r)
		}
		resp, err := w.GetProxyResponse()
		if err != nil {
			w = core.NewProxyResponseWriterV2()
			api.fail(w, r, &Error{Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("proxy response: %w", err)})
			return w.GetProxyResponse()
		}
		return resp, nil
	}
}

// unreadable says, in the caller's terms, why the adapter could not read the event.
func unreadable(err error) *Error {
	var b64 base64.CorruptInputError
	var ue *url.Error
	switch {
	case errors.As(err, &b64):
		return &Error{Code: CodeInvalid, Err: err, Message: "the body is marked isBase64Encoded but is not valid base64"}
	case errors.As(err, &ue):
		return &Error{Code: CodeInvalid, Err: err, Message: "the request's path or query is not a valid URL: check its percent escapes"}
	}
	return &Error{Code: CodeInvalid, Err: err, Message: "the request cannot be read"}
}

// standIn is a request for logging the refusal of an event the adapter could not read: the
// event's method and raw path, and its request context (caller, request id) when it has one.
func standIn(ctx context.Context, ev events.APIGatewayV2HTTPRequest) *http.Request {
	var acc core.RequestAccessorV2
	bare := events.APIGatewayV2HTTPRequest{RawPath: "/", RequestContext: ev.RequestContext}
	bare.RequestContext.HTTP.Method = http.MethodGet
	r, err := acc.EventToRequestWithContext(ctx, bare)
	if err != nil {
		r = (&http.Request{Header: http.Header{}}).WithContext(ctx)
	}
	r.Method = ev.RequestContext.HTTP.Method
	r.URL = &url.URL{Path: ev.RawPath}
	return r
}
