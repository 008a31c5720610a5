// Package invoke is the vocabulary of calling a function synchronously (Lambda): payload in,
// payload out, and the error a function itself raised, apart from failures to call it.
package invoke

import (
	"context"
	"errors"
	"fmt"
)

// Invoker calls a function by name with a JSON payload and returns its JSON result. An error
// the function raised is a *FunctionError; any other error is a failure to call it.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// FunctionError is an error the function raised, as Lambda reports it: the error's type name
// (what Step Functions' ErrorEquals matches) and message.
type FunctionError struct {
	Function, Type, Message string
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function %s failed: %s: %s", e.Function, e.Type, e.Message)
}

// ErrNotFound says no function has that name.
var ErrNotFound = errors.New("function not found")
