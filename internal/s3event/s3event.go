// Package s3event reads the S3 object notifications the playlist functions receive: S3 event
// notification records delivered directly, or wrapped in SNS notifications (S3 -> SNS -> Lambda,
// the fan-out that lets several functions watch one bucket without overlapping filters). It does
// no IO.
package s3event

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// Object is one object event: which object, which version of it, and what happened.
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

// ErrShape is matched by every error about an event that is not an S3 or SNS-wrapped S3
// notification.
var ErrShape = errors.New("not an S3 event notification")

// record is an S3 event notification record, or an SNS record carrying one in its Message.
type record struct {
	EventSource string `json:"eventSource"`
	EventSrcSNS string `json:"EventSource"` // SNS records capitalise it
	AWSRegion   string `json:"awsRegion"`
	EventTime   string `json:"eventTime"`
	EventName   string `json:"eventName"`
	S3          struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"eTag"`
			VersionID string `json:"versionId"`
		} `json:"object"`
	} `json:"s3"`
	SNS *struct {
		Message string `json:"Message"`
	} `json:"Sns"`
}

type envelope struct {
	Records *[]record `json:"Records"`
	// S3 sends {"Event":"s3:TestEvent",...} once when notifications are configured.
	Event string `json:"Event"`
}

// Parse reads an S3 event notification, or an SNS event whose messages are S3 event
// notifications, and returns its object events in order. S3's test event (sent when a bucket's
// notifications are configured) yields no objects and no error. Anything else is an error that
// matches ErrShape and names the problem.
func Parse(payload []byte) ([]Object, error) {
	return parse(payload, 0)
}

func parse(payload []byte, depth int) ([]Object, error) {
	var env envelope
	// AWS may add keys to its notifications: unknown ones are skipped, but a second value, a
	// key twice or one differing from a known key only in case is refused.
	if err := strictjson.DecodeAllowUnknown(payload, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShape, err)
	}
	if env.Records == nil {
		if env.Event == "s3:TestEvent" {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: no Records", ErrShape)
	}
	var out []Object
	for i, r := range *env.Records {
		switch {
		case r.EventSrcSNS == "aws:sns" && r.SNS != nil:
			if depth > 0 {
				return nil, fmt.Errorf("%w: record %d: SNS inside SNS", ErrShape, i)
			}
			inner, err := parse([]byte(r.SNS.Message), depth+1)
			if err != nil {
				return nil, fmt.Errorf("record %d (SNS message): %w", i, err)
			}
			out = append(out, inner...)
		case r.EventSource == "aws:s3":
			o, err := r.object()
			if err != nil {
				return nil, fmt.Errorf("record %d: %w", i, err)
			}
			out = append(out, o)
		default:
			return nil, fmt.Errorf("%w: record %d has event source %q", ErrShape, i, r.EventSource+r.EventSrcSNS)
		}
	}
	return out, nil
}

func (r record) object() (Object, error) {
	if r.S3.Bucket.Name == "" || r.S3.Object.Key == "" {
		return Object{}, fmt.Errorf("%w: no bucket or key", ErrShape)
	}
	key, err := url.QueryUnescape(r.S3.Object.Key)
	if err != nil {
		return Object{}, fmt.Errorf("%w: key %q: %v", ErrShape, r.S3.Object.Key, err)
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
