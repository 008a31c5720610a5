// Package regen holds the request, result and error of a merged master's regeneration, and the
// Invoker that asks the merge function for one: all that the API and cvsctl need of the merge.
package regen

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/clustered-video-streams/cvs/internal/invoke"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// Request asks for one cluster's master to be regenerated.
type Request struct {
	Cluster string `json:"cluster"`
	// SteeringURI, when set, adds EXT-X-CONTENT-STEERING with this server URI, each region a
	// pathway named after it.
	SteeringURI string `json:"steering_uri,omitempty"`
}

// SourceReport is one region's master as fetched.
type SourceReport struct {
	Name   string `json:"name"` // the pathway / namespace: the region
	Domain string `json:"domain"`
	// URL is the distribution's master URL, which the master's relative URIs are resolved
	// against: viewers go through the distribution (and its copilot).
	URL string `json:"url"`
	// Origin is where the master was read: the origin, which answers even while the copilot
	// answers 404 for a closed distribution.
	Origin string `json:"origin_url"`
	// Closed: the distribution is closed now; its variants are listed all the same.
	Closed bool   `json:"closed,omitempty"`
	Bytes  int    `json:"bytes,omitempty"`
	Error  string `json:"error,omitempty"`
}

// TargetReport is one region's bucket as written.
type TargetReport struct {
	Region    string `json:"region"`
	Bucket    string `json:"bucket"`
	Written   bool   `json:"written"`
	Unchanged bool   `json:"unchanged,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Result says what a regeneration did. ErrorKind and Error are set when it failed, so that the
// result survives a Lambda invocation (see Invoker).
type Result struct {
	Cluster        string         `json:"cluster"`
	Key            string         `json:"key"`
	Written        bool           `json:"written"`
	SHA256         string         `json:"sha256,omitempty"`
	Sources        []SourceReport `json:"sources"`
	Targets        []TargetReport `json:"targets,omitempty"`
	InvalidationID string         `json:"invalidation_id,omitempty"`
	Variants       int            `json:"variants"`
	VariantGroups  int            `json:"variant_groups"`
	IFrames        int            `json:"iframes"`
	Renditions     int            `json:"renditions"`
	Warnings       []string       `json:"warnings,omitempty"`
	ErrorKind      ErrorKind      `json:"error_kind,omitempty"`
	Error          string         `json:"error,omitempty"`
}

// ErrorKind classifies a failed regeneration.
type ErrorKind string

// Error kinds.
const (
	KindInvalid  ErrorKind = "invalid"   // the request is wrong
	KindNotFound ErrorKind = "not_found" // the cluster has no instances
	KindSource   ErrorKind = "source"    // a region's master could not be fetched or merged: nothing written
	KindWrite    ErrorKind = "write"     // a bucket or the invalidation failed
)

// Error is a failed regeneration; its message is safe to show an operator.
type Error struct {
	Kind    ErrorKind
	Message string
	Result  *Result // what was done, for KindSource and KindWrite
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, state.ErrNotFound) true for KindNotFound.
func (e *Error) Is(target error) bool { return e.Kind == KindNotFound && target == state.ErrNotFound }

// Invoker regenerates masters by invoking the merge function synchronously: what the API does,
// so that only the merge function may write the master buckets and invalidate the master
// distribution.
type Invoker struct {
	Functions    invoke.Invoker
	FunctionName string
}

// Regenerate invokes the merge function and returns its Result; a Result with ErrorKind set comes
// back as the same *Error that the merge service returns. An error the function raised is an
// *invoke.FunctionError.
func (i *Invoker) Regenerate(ctx context.Context, req Request) (*Result, error) {
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	out, err := i.Functions.Invoke(ctx, i.FunctionName, payload)
	if err != nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("invoke %s: decode result: %w", i.FunctionName, err)
	}
	if res.ErrorKind != "" {
		return &res, &Error{Kind: res.ErrorKind, Message: res.Error, Result: &res}
	}
	return &res, nil
}
