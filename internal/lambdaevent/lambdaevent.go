// Package lambdaevent decodes the Lambda event sources the functions receive (S3 via SNS, SQS,
// DynamoDB Streams, the EventBridge schedule, API Gateway v2) with aws-lambda-go's event types,
// one file per source, and tells from a raw payload which source it is (Classify).
package lambdaevent

import (
	"errors"
	"fmt"

	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// Kind is the source of a Lambda payload.
type Kind string

// Kinds of payload. A record batch is named by its first record's event source.
const (
	Unknown     Kind = ""             // records from another source, or an empty batch
	S3          Kind = "aws:s3"       // S3 event notification records, or S3's test event
	SNS         Kind = "aws:sns"      // SNS notification records
	SQS         Kind = "aws:sqs"      // an SQS batch
	DynamoDB    Kind = "aws:dynamodb" // a DynamoDB stream batch
	EventBridge Kind = "aws.events"   // an EventBridge event (the schedule: see Schedule)
	HTTP        Kind = "http"         // an API Gateway v2 (HTTP API, payload 2.0) request
	Direct      Kind = "direct"       // an object without any AWS envelope: a direct invocation
)

// Envelope says what Classify found in a payload.
type Envelope struct {
	Kind Kind
	// Records is the number of records of a batch; RecordSource the first one's event source.
	Records      int
	RecordSource string
	// Source and DetailType are the top-level "source" and "detail-type" (EventBridge).
	Source, DetailType string
}

// ErrShape is matched by every error about a payload that is not the event a decoder wants.
var ErrShape = errors.New("not the expected Lambda event")

// Classify tells which source a payload comes from. It refuses (with ErrShape) a payload that is
// not one JSON object, or that has a key twice or a key differing from a known one only in case;
// unknown keys are skipped, as AWS may add some.
func Classify(payload []byte) (Envelope, error) {
	var probe struct {
		Records *[]struct {
			EventSource string `json:"eventSource"`
			// SNS records spell it with a capital E: named, so that neither is a case-folded
			// match of the other.
			SNSEventSource string `json:"EventSource"`
		} `json:"Records"`
		Source     string  `json:"source"`
		DetailType string  `json:"detail-type"`
		Version    string  `json:"version"`
		RouteKey   *string `json:"routeKey"`
		Event      string  `json:"Event"`
	}
	if err := strictjson.DecodeAllowUnknown(payload, &probe); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrShape, err)
	}
	e := Envelope{Source: probe.Source, DetailType: probe.DetailType}
	switch {
	case probe.Records != nil:
		e.Records = len(*probe.Records)
		if e.Records > 0 {
			r := (*probe.Records)[0]
			e.RecordSource = r.EventSource + r.SNSEventSource
			switch Kind(e.RecordSource) {
			case S3, SNS, SQS, DynamoDB:
				e.Kind = Kind(e.RecordSource)
			}
		}
	case probe.Source == string(EventBridge):
		e.Kind = EventBridge
	case probe.Version == "2.0" && probe.RouteKey != nil:
		e.Kind = HTTP
	case probe.Event == s3TestEvent:
		e.Kind = S3
	case probe.Source == "" && probe.DetailType == "" && probe.Event == "":
		e.Kind = Direct
	}
	return e, nil
}
