package edgesync

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/clustered-video-streams/cvs/internal/lambdaevent"
)

// Function is the edge sync Lambda: batches of the state table's stream go to Stream, the
// reconcile schedule's EventBridge events to Reconcile.
type Function struct {
	Stream    *Handler
	Reconcile *Reconciler
	Log       *slog.Logger // nil: slog.Default()
}

// InvalidEventError says an invocation's payload is neither a DynamoDB stream batch nor an
// EventBridge scheduled event.
type InvalidEventError struct {
	Problem string
}

func (e *InvalidEventError) Error() string {
	return "edgesync: not a DynamoDB stream batch nor a scheduled event: " + e.Problem
}

// Invoke runs the handler the payload is for. A stream batch answers partial batch failures
// (events.DynamoDBEventResponse); a scheduled event answers the reconcile's Report. Any other
// payload is refused with an *InvalidEventError, logged, and changes nothing.
func (f *Function) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	env, err := lambdaevent.Classify(payload)
	if err != nil {
		return nil, f.refuse(&InvalidEventError{Problem: "the event " + err.Error()})
	}
	switch {
	case env.Kind == lambdaevent.DynamoDB:
		ev, err := lambdaevent.DynamoDBBatch(payload)
		if err != nil {
			return nil, f.refuse(&InvalidEventError{Problem: err.Error()})
		}
		return f.Stream.Handle(ctx, ev)
	case env.Scheduled():
		return f.Reconcile.Reconcile(ctx)
	case env.Records > 0:
		return nil, f.refuse(&InvalidEventError{Problem: fmt.Sprintf("records from %q, want aws:dynamodb", env.RecordSource)})
	default:
		return nil, f.refuse(&InvalidEventError{Problem: fmt.Sprintf("source %q, detail-type %q (want aws.events, Scheduled Event)", env.Source, env.DetailType)})
	}
}

func (f *Function) refuse(err error) error {
	log := f.Log
	if log == nil {
		log = slog.Default()
	}
	log.Error("edgesync: refusing the event", "err", err)
	return err
}
