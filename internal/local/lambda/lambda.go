// Package lambda is the in-process twin of synchronous Lambda invocation for local runs and
// tests: it calls Go handlers through aws-lambda-go, as Lambda runs them.
package lambda

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/clustered-video-streams/cvs/internal/invoke"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
)

var _ invoke.Invoker = (*Functions)(nil)

// Functions invokes Go handlers by function name. The zero value has no functions.
type Functions struct {
	mu    sync.Mutex
	funcs map[string]*function
}

type function struct {
	mu sync.Mutex // one invocation at a time, as in one execution environment
	h  lambda.Handler
}

// Add registers handler (any signature lambda.Start takes) as function name.
func (f *Functions) Add(name string, handler any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.funcs == nil {
		f.funcs = map[string]*function{}
	}
	f.funcs[name] = &function{h: lambda.NewHandler(handler)}
}

// Invoke calls function with payload. An error the handler returned is an
// *invoke.FunctionError with the type name Lambda reports.
func (f *Functions) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	f.mu.Lock()
	fn, ok := f.funcs[name]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("invoke %s: %w", name, invoke.ErrNotFound)
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return call(ctx, name, fn.h, payload)
}

// call runs h and reports its error or panic as Lambda does: the error's type name and message.
func call(ctx context.Context, name string, h lambda.Handler, payload []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &invoke.FunctionError{Function: name, Type: asl.LambdaErrorType(p), Message: fmt.Sprint(p)}
		}
	}()
	out, err = h.Invoke(ctx, payload)
	var reported messages.InvokeResponse_Error
	switch {
	case errors.As(err, &reported):
		return nil, &invoke.FunctionError{Function: name, Type: reported.Type, Message: reported.Message}
	case err != nil:
		return nil, &invoke.FunctionError{Function: name, Type: asl.LambdaErrorType(err), Message: err.Error()}
	}
	// The handler reuses its output buffer on the next invocation.
	return append([]byte(nil), out...), nil
}
