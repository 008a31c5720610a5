package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
)

// MasterRegenerator regenerates a cluster's merged multi-region master playlist: a
// *regen.Invoker in Lambda (the merge function holds the bucket and CloudFront
// permissions), a *mastermerge.Service in the local runtime.
type MasterRegenerator interface {
	Regenerate(ctx context.Context, req regen.Request) (*regen.Result, error)
}

// MasterRequest is the optional JSON body of POST /clusters/{cluster}/master.
type MasterRequest struct {
	// SteeringURI adds HLS content steering with this steering server URI.
	SteeringURI string `json:"steering_uri,omitempty"`
}

// regenerateMaster fetches every region's master, merges them and writes the result to every
// region's master bucket. A region that fails is named in a 502 and the previous master stays.
func (h *handler) regenerateMaster(r *http.Request) (any, http.Header, error) {
	cluster := r.PathValue("cluster")
	if err := validCluster(cluster); err != nil {
		return nil, nil, err
	}
	by, ok := h.caller(r)
	if !ok || by == "" {
		return nil, nil, Errorf(CodeUnauthenticated, "no caller identity on the request; the API records who makes every change")
	}
	var req MasterRequest
	if r.ContentLength != 0 {
		if err := h.decode(r, &req); err != nil {
			return nil, nil, err
		}
	}
	if req.SteeringURI != "" {
		if err := validPlaylistURL("steering_uri", req.SteeringURI); err != nil {
			return nil, nil, err
		}
	}
	res, err := h.master.Regenerate(r.Context(), regen.Request{Cluster: cluster, SteeringURI: req.SteeringURI})
	var me *regen.Error
	switch {
	case errors.As(err, &me) && me.Kind == regen.KindInvalid:
		return nil, nil, &Error{Code: CodeInvalid, Message: me.Message, Err: err}
	case errors.As(err, &me) && me.Kind == regen.KindNotFound:
		return nil, nil, &Error{Code: CodeNotFound, Message: me.Message, Err: err}
	case errors.As(err, &me):
		// Which region or bucket failed, and why: what the operator needs to act.
		return nil, nil, &Error{Code: CodeUpstream, Message: me.Message, Err: err}
	case err != nil:
		return nil, nil, fmt.Errorf("regenerate the master of %s: %w", cluster, err)
	}
	h.log.InfoContext(r.Context(), "api change", "op", "regenerate-master", "cluster", cluster, "written", res.Written,
		"sha256", res.SHA256, "invalidation", res.InvalidationID, "by", by, "request_id", requestID(r))
	return res, nil, nil
}
