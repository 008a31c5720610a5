// Package sfn starts Step Functions executions: the adapter behind execution.Starter, which
// turns ExecutionAlreadyExists into an outcome and permanent refusals into
// *execution.RefusedError.
package sfn

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/clustered-video-streams/cvs/internal/execution"
)

var _ execution.Starter = (*Starter)(nil)

// Client is the part of *sfn.Client the adapter calls.
type Client interface {
	StartExecution(ctx context.Context, in *awssfn.StartExecutionInput, opts ...func(*awssfn.Options)) (*awssfn.StartExecutionOutput, error)
}

// Starter starts executions with a Step Functions client the caller built.
type Starter struct {
	Client Client
}

// New returns a Starter over c.
func New(c Client) *Starter { return &Starter{Client: c} }

// permanent are the StartExecution error codes no retry mends.
var permanent = map[string]bool{
	"InvalidArn": true, "InvalidName": true, "InvalidExecutionInput": true, "ValidationException": true,
	"StateMachineDoesNotExist": true, "StateMachineDeleting": true,
	"KmsAccessDeniedException": true, "KmsInvalidStateException": true,
	"AccessDeniedException": true, "UnrecognizedClientException": true,
}

// Start starts the execution name of stateMachineARN with input.
func (s *Starter) Start(ctx context.Context, stateMachineARN, name string, input []byte) (execution.Result, error) {
	out, err := s.Client.StartExecution(ctx, &awssfn.StartExecutionInput{
		StateMachineArn: aws.String(stateMachineARN), Name: aws.String(name), Input: aws.String(string(input)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	var api smithy.APIError
	switch {
	case errors.As(err, &exists):
		return execution.Result{Outcome: execution.AlreadyExists}, nil
	case errors.As(err, &api) && permanent[api.ErrorCode()]:
		return execution.Result{}, &execution.RefusedError{Code: api.ErrorCode(), Message: api.ErrorMessage()}
	case err != nil:
		return execution.Result{}, fmt.Errorf("start %s of %s: %w", name, stateMachineARN, err)
	}
	return execution.Result{Outcome: execution.Started, ExecutionARN: aws.ToString(out.ExecutionArn)}, nil
}
