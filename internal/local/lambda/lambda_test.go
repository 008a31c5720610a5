package lambda_test

import (
	"context"
	"errors"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/invoke"
	"github.com/clustered-video-streams/cvs/internal/local/lambda"
)

type RefusedError struct{}

func (*RefusedError) Error() string { return "refused" }

func TestInvoke(t *testing.T) {
	var f lambda.Functions
	f.Add("echo", func(_ context.Context, in map[string]string) (map[string]string, error) { return in, nil })
	f.Add("refuse", func(context.Context, map[string]string) (string, error) { return "", &RefusedError{} })
	ctx := context.Background()
	t.Run("result comes back as JSON", func(t *testing.T) {
		out, err := f.Invoke(ctx, "echo", []byte(`{"cluster":"news"}`))
		if err != nil || string(out) != `{"cluster":"news"}` {
			t.Fatalf("Invoke = %s, %v", out, err)
		}
	})
	t.Run("handler error is a FunctionError with its type name", func(t *testing.T) {
		_, err := f.Invoke(ctx, "refuse", []byte(`{}`))
		var fe *invoke.FunctionError
		if !errors.As(err, &fe) || fe.Type != "RefusedError" || fe.Message != "refused" {
			t.Fatalf("Invoke = %v, want FunctionError RefusedError", err)
		}
	})
	t.Run("unknown function is ErrNotFound", func(t *testing.T) {
		if _, err := f.Invoke(ctx, "nope", nil); !errors.Is(err, invoke.ErrNotFound) {
			t.Fatalf("Invoke = %v, want invoke.ErrNotFound", err)
		}
	})
}
