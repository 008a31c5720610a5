package detector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Handler is the Lambda handler of the detector, started every minute by an EventBridge
// schedule.
type Handler struct {
	Detector *Detector
	Log      *slog.Logger // nil: slog.Default()
}

// InvalidEventError is an event that is not an EventBridge scheduled event.
type InvalidEventError struct {
	Source, DetailType string
}

func (e *InvalidEventError) Error() string {
	return fmt.Sprintf("not an EventBridge scheduled event: source %q, detail-type %q (want aws.events, Scheduled Event)", e.Source, e.DetailType)
}

// Handle runs the detector once. Its lease owner is the Lambda request ID, and health records
// name the function's ARN.
func (h *Handler) Handle(ctx context.Context, ev events.EventBridgeEvent) (Summary, error) {
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	if ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
		err := &InvalidEventError{Source: ev.Source, DetailType: ev.DetailType}
		log.Error("detector: refusing the event", "err", err)
		return Summary{}, err
	}
	inv := Invocation{By: "detector:" + h.Detector.cfg.Region}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		inv.Owner = lc.AwsRequestID
		if lc.InvokedFunctionArn != "" {
			inv.By = lc.InvokedFunctionArn
		}
	}
	if inv.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		inv.Owner = "local-" + hex.EncodeToString(b[:])
	}
	return h.Detector.Run(ctx, inv)
}
