package edgesync

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/clustered-video-streams/cvs/internal/strictjson"
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
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	// AWS may add keys to its events; strictjson still refuses a second value, a key twice and
	// one that differs from a known key only in case.
	if err := strictjson.DecodeAllowUnknown(payload, &probe); err != nil {
		return nil, f.refuse(&InvalidEventError{Problem: "the event " + err.Error()})
	}
	switch {
	case len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:dynamodb":
		var ev events.DynamoDBEvent
		if err := strictjson.DecodeAllowUnknown(payload, &ev); err != nil {
			return nil, f.refuse(&InvalidEventError{Problem: fmt.Sprintf("DynamoDB stream batch: %v", err)})
		}
		return f.Stream.Handle(ctx, ev)
	case probe.Source == "aws.events" && probe.DetailType == "Scheduled Event":
		return f.Reconcile.Reconcile(ctx)
	case len(probe.Records) > 0:
		return nil, f.refuse(&InvalidEventError{Problem: fmt.Sprintf("records from %q, want aws:dynamodb", probe.Records[0].EventSource)})
	default:
		return nil, f.refuse(&InvalidEventError{Problem: fmt.Sprintf("source %q, detail-type %q (want aws.events, Scheduled Event)", probe.Source, probe.DetailType)})
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
