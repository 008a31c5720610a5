package contract

import (
	"fmt"
	"strings"
)

// Errors the task Lambdas return. aws-lambda-go reports a returned error's Go type name as the
// Lambda errorType (for a pointer, the name of the type it points to), and Step Functions uses
// that errorType as the error name that Retry and Catch match. So a task handler returns these
// as they are: *OriginProbeError reports "OriginProbeError", while
// fmt.Errorf("...: %w", err) would report "wrapError" and match nothing but States.ALL.
//
// A guard refusal is not an error: Close returns CloseOutput{Refused: true}.
const (
	ErrNameInvalidInput     = "InvalidInputError"
	ErrNameOriginProbe      = "OriginProbeError"
	ErrNameInstanceNotFound = "InstanceNotFoundError"
	ErrNameStateStore       = "StateStoreError"
)

// InvalidInputError: a detector event or a task input breaks the contract. Not retried: the
// same input fails the same way.
type InvalidInputError struct {
	What     string   // "detector event", "close input", ...
	Problems []string // "field: what is wrong", one per problem
}

func (e *InvalidInputError) Error() string {
	return "invalid " + e.What + ": " + strings.Join(e.Problems, "; ")
}

// OriginProbeError: Confirm could not reach a verdict about the origin (an unreachable origin is
// a verdict, not this error). Retried once by the state machines; then the workflow notifies and
// fails without changing anything.
type OriginProbeError struct {
	URL string
	Err error
}

func (e *OriginProbeError) Error() string { return fmt.Sprintf("probe %s: %v", e.URL, e.Err) }

func (e *OriginProbeError) Unwrap() error { return e.Err }

// InstanceNotFoundError: the event names an instance the state table does not know. Not retried.
type InstanceNotFoundError struct {
	Cluster, Domain string
}

func (e *InstanceNotFoundError) Error() string {
	return fmt.Sprintf("instance %s/%s is not registered", e.Cluster, e.Domain)
}

// StateStoreError: reading or writing the state table failed (throttling, a lost race after the
// task's own retries, the control region unreachable). Retried twice by the state machines.
type StateStoreError struct {
	Op  string // "close", "reopen", "read"
	Err error
}

func (e *StateStoreError) Error() string { return fmt.Sprintf("state store %s: %v", e.Op, e.Err) }

func (e *StateStoreError) Unwrap() error { return e.Err }
