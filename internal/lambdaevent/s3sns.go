package lambdaevent

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// s3TestEvent is the Event S3 sends once when a bucket's notifications are configured.
const s3TestEvent = "s3:TestEvent"

// Object is one S3 object event: which object, which version of it, and what happened.
type Object struct {
	// EventName is the S3 event name without the "s3:" prefix, for example ObjectCreated:Put.
	EventName string
	// EventTime is as S3 wrote it (RFC 3339 with milliseconds; moto omits the zone).
	EventTime string
	Region    string
	Bucket    string
	// Key is the object key, URL-decoded (S3 sends keys form-encoded: a space is '+').
	Key string
	// VersionID is the version the event is about; empty for unversioned buckets (and in moto).
	VersionID string
	// ETag is the object's ETag without quotes.
	ETag string
	Size int64
}

// Created reports whether the event is an ObjectCreated event.
func (o Object) Created() bool { return strings.HasPrefix(o.EventName, "ObjectCreated:") }

// s3Record is an S3 notification record with its event time as written: moto omits the zone,
// which time.Time refuses. Decoded on its own, so that its own EventTime is the one matched.
type s3Record struct {
	EventTime string `json:"eventTime"`
	events.S3EventRecord
}

// s3Envelope is an S3 notification (or S3's test event) or an SNS event: each record is decoded
// as what its event source says, since an SNS record's keys case-fold onto an S3 record's.
type s3Envelope struct {
	Records *[]json.RawMessage `json:"Records"`
	Event   string             `json:"Event"`
}

// recordSource is the event source of one record, however the source spells it.
type recordSource struct {
	EventSource    string `json:"eventSource"`
	SNSEventSource string `json:"EventSource"`
}

// S3Objects reads an S3 event notification, or an SNS event whose messages are S3 event
// notifications (S3 -> SNS -> Lambda, the fan-out that lets several functions watch one bucket),
// and returns its object events in order. S3's test event yields no objects and no error.
// Anything else is an error that matches ErrShape and names the problem.
func S3Objects(payload []byte) ([]Object, error) {
	return s3Objects(payload, 0)
}

func s3Objects(payload []byte, depth int) ([]Object, error) {
	var env s3Envelope
	// AWS may add keys to its notifications: unknown ones are skipped, but a second value, a
	// key twice or one differing from a known key only in case is refused.
	if err := strictjson.DecodeAllowUnknown(payload, &env); err != nil {
		return nil, fmt.Errorf("%w: not an S3 event notification: %v", ErrShape, err)
	}
	if env.Records == nil {
		if env.Event == s3TestEvent {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: not an S3 event notification: no Records", ErrShape)
	}
	var out []Object
	for i, raw := range *env.Records {
		var src recordSource
		if err := strictjson.DecodeAllowUnknown(raw, &src); err != nil {
			return nil, fmt.Errorf("%w: not an S3 event notification: record %d: %v", ErrShape, i, err)
		}
		switch {
		case src.SNSEventSource == string(SNS):
			if depth > 0 {
				return nil, fmt.Errorf("%w: record %d: SNS inside SNS", ErrShape, i)
			}
			var r events.SNSEventRecord
			if err := strictjson.DecodeAllowUnknown(raw, &r); err != nil {
				return nil, fmt.Errorf("%w: record %d: SNS record: %v", ErrShape, i, err)
			}
			inner, err := s3Objects([]byte(r.SNS.Message), depth+1)
			if err != nil {
				return nil, fmt.Errorf("record %d (SNS message): %w", i, err)
			}
			out = append(out, inner...)
		case src.EventSource == string(S3):
			var r s3Record
			if err := strictjson.DecodeAllowUnknown(raw, &r); err != nil {
				return nil, fmt.Errorf("%w: record %d: S3 record: %v", ErrShape, i, err)
			}
			o, err := r.object()
			if err != nil {
				return nil, fmt.Errorf("record %d: %w", i, err)
			}
			out = append(out, o)
		default:
			return nil, fmt.Errorf("%w: not an S3 event notification: record %d has event source %q", ErrShape, i, src.EventSource+src.SNSEventSource)
		}
	}
	return out, nil
}

func (r s3Record) object() (Object, error) {
	if r.S3.Bucket.Name == "" || r.S3.Object.Key == "" {
		return Object{}, fmt.Errorf("%w: S3 record without a bucket or key", ErrShape)
	}
	key, err := url.QueryUnescape(r.S3.Object.Key)
	if err != nil {
		return Object{}, fmt.Errorf("%w: S3 record key %q: %v", ErrShape, r.S3.Object.Key, err)
	}
	return Object{
		EventName: strings.TrimPrefix(r.EventName, "s3:"),
		EventTime: r.EventTime,
		Region:    r.AWSRegion,
		Bucket:    r.S3.Bucket.Name,
		Key:       key,
		VersionID: r.S3.Object.VersionID,
		ETag:      strings.Trim(r.S3.Object.ETag, `"`),
		Size:      r.S3.Object.Size,
	}, nil
}
