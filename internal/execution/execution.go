// Package execution is the vocabulary of starting state machine executions (Step Functions):
// the starter, the already-exists outcome of a reused name, and refusals no retry mends.
package execution

import (
	"context"
	"fmt"
)

// Starter starts executions. Start names the execution, so a caller that derives the name from
// what it handles starts one execution however often it handles it.
type Starter interface {
	Start(ctx context.Context, stateMachineARN, name string, input []byte) (Result, error)
}

// Outcome says what Start did.
type Outcome string

// Outcomes of Start.
const (
	// Started: a new execution, or the running one of the same name and input (Step Functions
	// treats that call as idempotent and answers with the running execution).
	Started Outcome = "started"
	// AlreadyExists: an execution of that name exists and has ended, or runs with another input.
	// Nothing was started.
	AlreadyExists Outcome = "already_exists"
)

// Result is Start's answer.
type Result struct {
	Outcome Outcome
	// ExecutionARN is the started (or running) execution; empty for AlreadyExists.
	ExecutionARN string
}

// RefusedError is a start that Step Functions refuses for a reason no retry mends: the state
// machine is missing or being deleted, the name or input is invalid, access is denied. Every
// other error from Start may pass when tried again.
type RefusedError struct {
	// Code is the service's error code (StateMachineDoesNotExist, InvalidName, ...).
	Code    string
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("execution refused: %s: %s", e.Code, e.Message)
}

// Refusal codes the twin and the adapters use.
const (
	CodeInvalidArn               = "InvalidArn"
	CodeInvalidName              = "InvalidName"
	CodeInvalidExecutionInput    = "InvalidExecutionInput"
	CodeStateMachineDoesNotExist = "StateMachineDoesNotExist"
)
