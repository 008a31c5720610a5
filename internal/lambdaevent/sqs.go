package lambdaevent

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// SQSBatch decodes an SQS batch (Classify says SQS); a function answers it with
// events.SQSEventResponse, listing the messages to deliver again.
func SQSBatch(payload []byte) (events.SQSEvent, error) {
	var ev events.SQSEvent
	if err := strictjson.DecodeAllowUnknown(payload, &ev); err != nil {
		return events.SQSEvent{}, fmt.Errorf("%w: SQS event: %v", ErrShape, err)
	}
	return ev, nil
}
