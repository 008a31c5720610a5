package mastermerge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// IsRequest reports whether a merge function payload is a regeneration request ({"cluster":...})
// rather than an S3 notification.
func IsRequest(payload []byte) bool {
	var probe struct {
		Cluster *string          `json:"cluster"`
		Records *json.RawMessage `json:"Records"`
	}
	return strictjson.DecodeAllowUnknown(payload, &probe) == nil && probe.Cluster != nil && probe.Records == nil
}

// Dispatch returns the merge function's Lambda handler: regeneration requests (IsRequest) go to
// master.HandleRequest and every other payload, the encoder pair's S3 notifications, to other
// (encoderpair's Handler.HandleEvent). Each answer and error comes back as the callee gave it.
func Dispatch[T any](master *Service, other func(context.Context, []byte) (T, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		if IsRequest(payload) {
			return master.HandleRequest(ctx, payload)
		}
		return other(ctx, payload)
	}
}

// HandleRequest is the merge function's entry for regeneration requests. Failures an operator
// can act on (bad request, unknown cluster, a region that did not answer, a bucket that refused)
// come back as a Result with ErrorKind set, so they survive the Lambda invocation whole; only
// internal failures (the state table unreachable, an undecodable payload) are errors.
func (s *Service) HandleRequest(ctx context.Context, payload []byte) (*Result, error) {
	var req Request
	if err := strictjson.Decode(payload, &req); err != nil {
		s.log.ErrorContext(ctx, "mastermerge: refused request", "err", err.Error())
		return nil, fmt.Errorf("mastermerge: request %w", err)
	}
	res, err := s.Regenerate(ctx, req)
	var e *Error
	if errors.As(err, &e) {
		return e.Result, nil
	}
	return res, err
}

// LambdaClient invokes Lambda functions; *lambda.Client is one.
type LambdaClient interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Invoker regenerates masters by invoking the merge function synchronously: what the API does,
// so that only the merge function may write the master buckets and invalidate the master
// distribution.
type Invoker struct {
	Client       LambdaClient
	FunctionName string
}

// FunctionError is a merge function invocation that failed inside the function.
type FunctionError struct {
	Function, Type, Message string
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("merge function %s failed: %s: %s", e.Function, e.Type, e.Message)
}

// Regenerate invokes the merge function and returns its Result; a Result with ErrorKind set comes
// back as the same *Error that Service.Regenerate returns.
func (i *Invoker) Regenerate(ctx context.Context, req Request) (*Result, error) {
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	out, err := i.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(i.FunctionName),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", i.FunctionName, err)
	}
	if out.FunctionError != nil {
		var body struct {
			Message string `json:"errorMessage"`
			Type    string `json:"errorType"`
		}
		_ = json.Unmarshal(out.Payload, &body) // an unreadable error body still is an error
		return nil, &FunctionError{Function: i.FunctionName, Type: body.Type, Message: body.Message}
	}
	var res Result
	if err := json.Unmarshal(out.Payload, &res); err != nil {
		return nil, fmt.Errorf("invoke %s: decode result: %w", i.FunctionName, err)
	}
	if res.ErrorKind != "" {
		return &res, &Error{Kind: res.ErrorKind, Message: res.Error, Result: &res}
	}
	return &res, nil
}
