package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// Code is the stable, machine-readable kind of an API error. Clients (cvsctl, the dashboard,
// scripts) branch on it; the message is for people.
type Code string

// Error codes. Their HTTP statuses are decided in one place: Status.
const (
	CodeInvalid          Code = "invalid_request"        // 400: a malformed or invalid request
	CodeUnauthenticated  Code = "unauthenticated"        // 401: no caller identity on a write
	CodeNotFound         Code = "not_found"              // 404: unknown cluster, instance or route
	CodeMethodNotAllowed Code = "method_not_allowed"     // 405
	CodeGuardRefused     Code = "guard_refused"          // 409: closing the last open, healthy instance
	CodeVersionConflict  Code = "version_conflict"       // 409: If-Match or expected_version mismatch
	CodeDomainTaken      Code = "domain_taken"           // 409: the domain is registered to another cluster
	CodeTooLarge         Code = "body_too_large"         // 413
	CodeUnsupportedMedia Code = "unsupported_media_type" // 415: a body that is not application/json
	CodeUnavailable      Code = "unavailable"            // 503: the control region's store is down
	CodeUpstream         Code = "upstream_failed"        // 502: a region's master or a master bucket failed
	CodeInternal         Code = "internal"               // 500: anything else; details only in the log
)

// Error is the API's one application error type: a code, a message safe to show to the
// caller, and an optional cause that is logged and never sent.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Err     error  `json:"-"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Status maps an error code to its HTTP status. It is the only place that does.
func Status(code Code) int {
	switch code {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeGuardRefused, CodeVersionConflict, CodeDomainTaken:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeUpstream:
		return http.StatusBadGateway
	default:
		return http.StatusInternalServerError
	}
}

// asError turns any error from decoding or from the store into an *Error. Errors it does not
// know become CodeInternal with a generic message; the cause stays in Err for the log.
func asError(err error) *Error {
	var apiErr *Error
	var guard *state.GuardError
	var tooBig *http.MaxBytesError
	var invalid *state.InvalidError
	var taken *state.DomainTakenError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &guard):
		return &Error{Code: CodeGuardRefused, Err: err, Message: fmt.Sprintf(
			"refused to close %s/%s: no other instance of the cluster is open and healthy; "+
				"open or repair another instance first, or close with force", guard.Cluster, guard.Domain)}
	case errors.As(err, &taken):
		return &Error{Code: CodeDomainTaken, Err: err, Message: fmt.Sprintf(
			"%s is registered to cluster %s: a distribution serves one cluster, because its edge state is keyed by its domain",
			taken.Domain, taken.Owner)}
	case errors.As(err, &invalid):
		// The store's own input checks: their messages are written to be shown.
		return &Error{Code: CodeInvalid, Err: err, Message: invalid.Error()}
	case errors.Is(err, state.ErrVersionConflict):
		return &Error{Code: CodeVersionConflict, Err: err,
			Message: "the instance changed since the version you expected; read it again and retry"}
	case errors.Is(err, state.ErrNotFound):
		return &Error{Code: CodeNotFound, Err: err, Message: "not found"}
	case errors.As(err, &tooBig):
		return &Error{Code: CodeTooLarge, Err: err,
			Message: fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
	case unavailable(err):
		return &Error{Code: CodeUnavailable, Err: err,
			Message: "the control region's state store is unavailable; retry shortly"}
	default:
		return &Error{Code: CodeInternal, Err: err, Message: "internal error"}
	}
}

// unavailable reports whether err says the state store could not be reached in time: the
// store's refusal to decide a guarded close without the control region, or a deadline that ran
// out while waiting for the store.
func unavailable(err error) bool {
	var down *state.ControlRegionUnavailableError
	return errors.As(err, &down) || errors.Is(err, context.DeadlineExceeded)
}
