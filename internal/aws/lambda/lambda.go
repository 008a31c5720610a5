// Package lambda invokes Lambda functions synchronously: the adapter behind invoke.Invoker,
// which tells a function's own error (*invoke.FunctionError) from a failure to call it.
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/clustered-video-streams/cvs/internal/invoke"
)

var _ invoke.Invoker = (*Invoker)(nil)

// Client is the part of *lambda.Client the adapter calls.
type Client interface {
	Invoke(ctx context.Context, in *awslambda.InvokeInput, opts ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error)
}

// Invoker invokes functions with a Lambda client the caller built.
type Invoker struct {
	Client Client
}

// New returns an Invoker over c.
func New(c Client) *Invoker { return &Invoker{Client: c} }

// Invoke calls function (RequestResponse) with payload and returns its result.
func (i *Invoker) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	out, err := i.Client.Invoke(ctx, &awslambda.InvokeInput{
		FunctionName:   aws.String(function),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	var notFound *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return nil, fmt.Errorf("invoke %s: %w: %w", function, invoke.ErrNotFound, err)
	case err != nil:
		return nil, fmt.Errorf("invoke %s: %w", function, err)
	}
	if out.FunctionError != nil {
		var body struct {
			Message string `json:"errorMessage"`
			Type    string `json:"errorType"`
		}
		_ = json.Unmarshal(out.Payload, &body) // an unreadable error body still is an error
		if body.Type == "" {
			body.Type = aws.ToString(out.FunctionError)
		}
		return nil, &invoke.FunctionError{Function: function, Type: body.Type, Message: body.Message}
	}
	return out.Payload, nil
}
