package mastermerge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/clustered-video-streams/cvs/internal/lambdaevent"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// Dispatch returns the merge function's Lambda handler: direct invocations (regeneration
// requests, {"cluster":...}) go to master.HandleRequest and every other payload, the encoder
// pair's S3 notifications, to other (encoderpair's Handler.HandleEvent). Each answer and error
// comes back as the callee gave it.
func Dispatch[T any](master *Service, other func(context.Context, []byte) (T, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		if env, err := lambdaevent.Classify(payload); err == nil && env.Kind == lambdaevent.Direct {
			return master.HandleRequest(ctx, payload)
		}
		return other(ctx, payload)
	}
}

// HandleRequest is the merge function's entry for regeneration requests. Failures an operator
// can act on (bad request, unknown cluster, a region that did not answer, a bucket that refused)
// come back as a Result with ErrorKind set, so they survive the Lambda invocation whole; only
// internal failures (the state table unreachable, an undecodable payload) are errors.
func (s *Service) HandleRequest(ctx context.Context, payload []byte) (*regen.Result, error) {
	var req regen.Request
	if err := strictjson.Decode(payload, &req); err != nil {
		s.log.ErrorContext(ctx, "mastermerge: refused request", "err", err.Error())
		return nil, fmt.Errorf("mastermerge: request %w", err)
	}
	res, err := s.Regenerate(ctx, req)
	var e *regen.Error
	if errors.As(err, &e) {
		return e.Result, nil
	}
	return res, err
}
