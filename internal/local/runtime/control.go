package runtime

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/clustered-video-streams/cvs/internal/local/liveorigin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// maxControlBody bounds a control request body.
const maxControlBody = 4 << 10

// RegionStatus is one region in GET {control_url}/regions.
type RegionStatus struct {
	Name   string `json:"name"`
	Domain string `json:"domain"`
	liveorigin.Status
	// Instance is the region's instance in the state store; InstanceError says why it is
	// missing.
	Instance      *InstanceStatus `json:"instance,omitempty"`
	InstanceError string          `json:"instance_error,omitempty"`
}

// InstanceStatus is the part of a state.Instance the control API shows.
type InstanceStatus struct {
	Open    bool         `json:"open"`
	Health  state.Health `json:"health"`
	Version int64        `json:"version"`
	Reason  string       `json:"reason"`
}

// EncoderRequest is the body of POST {control_url}/regions/{name}/encoder.
type EncoderRequest struct {
	State string `json:"state"`
}

// control is the control API: the regions' encoders and what they and the store say.
type control struct {
	regions []*region
	store   state.Store
	log     *slog.Logger
}

func (c *control) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /regions", c.list)
	mux.HandleFunc("POST /regions/{name}/encoder", c.setEncoder)
	return mux
}

func (c *control) list(w http.ResponseWriter, r *http.Request) {
	out := make([]RegionStatus, 0, len(c.regions))
	for _, reg := range c.regions {
		st := RegionStatus{Name: reg.name, Domain: reg.domain, Status: reg.origin.Status()}
		in, err := c.store.Instance(r.Context(), cluster, reg.domain)
		if err != nil {
			st.InstanceError = err.Error()
		} else {
			st.Instance = &InstanceStatus{Open: in.Open, Health: in.Health, Version: in.Version, Reason: in.Reason}
		}
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *control) setEncoder(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var reg *region
	for _, x := range c.regions {
		if x.name == name {
			reg = x
		}
	}
	if reg == nil {
		c.refuse(w, http.StatusNotFound, "not_found", "no region named "+name)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil {
		c.refuse(w, http.StatusBadRequest, "invalid_request", "body unreadable: "+err.Error())
		return
	}
	if len(body) > maxControlBody {
		c.refuse(w, http.StatusRequestEntityTooLarge, "too_large", "body over 4 KiB")
		return
	}
	var req EncoderRequest
	if err := strictjson.Decode(body, &req); err != nil {
		c.refuse(w, http.StatusBadRequest, "invalid_request", "body: "+err.Error())
		return
	}
	s, err := liveorigin.ParseState(req.State)
	if err == nil {
		err = reg.origin.SetState(s)
	}
	if err != nil {
		c.refuse(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	reg.log.Info("encoder state set", "encoder_state", s)
	writeJSON(w, http.StatusOK, RegionStatus{Name: reg.name, Domain: reg.domain, Status: reg.origin.Status()})
}

func (c *control) refuse(w http.ResponseWriter, code int, kind, message string) {
	c.log.Warn("control: request refused", "code", kind, "message", message)
	writeJSON(w, code, map[string]string{"code": kind, "message": message})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
