package lambdaevent

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// DynamoDBBatch decodes a DynamoDB stream batch (Classify says DynamoDB); a function answers it
// with events.DynamoDBEventResponse, listing the records to deliver again.
func DynamoDBBatch(payload []byte) (events.DynamoDBEvent, error) {
	var ev events.DynamoDBEvent
	if err := strictjson.DecodeAllowUnknown(payload, &ev); err != nil {
		return events.DynamoDBEvent{}, fmt.Errorf("%w: DynamoDB stream batch: %v", ErrShape, err)
	}
	return ev, nil
}
