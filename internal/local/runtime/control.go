package runtime

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/clustered-video-streams/cvs/internal/local/liveorigin"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
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

// RedeliverResponse answers POST {control_url}/regions/{name}/redeliver: the detector event
// delivered again to the trigger, and what the trigger did with it.
type RedeliverResponse struct {
	MessageID string `json:"message_id"`
	Event     string `json:"event"`
	Sequence  int64  `json:"sequence"`
	Outcome   string `json:"outcome"`
}

// ControlRegionRequest is the body of POST {control_url}/control-region, and the answer of
// GET and POST {control_url}/control-region.
type ControlRegionRequest struct {
	State string `json:"state"` // "up" or "down"
	// Region is the control region (answers only).
	Region string `json:"region,omitempty"`
}

// control is the control API: the regions' encoders and what they and the store say.
type control struct {
	regions []*region
	store   state.Store
	// memory is the store when it is the memory store: the control-region switch needs it.
	memory *memory.Store
	log    *slog.Logger

	mu   sync.Mutex
	down bool // the control region is switched down
}

func (c *control) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /regions", c.list)
	mux.HandleFunc("POST /regions/{name}/encoder", c.setEncoder)
	mux.HandleFunc("POST /regions/{name}/redeliver", c.redeliver)
	mux.HandleFunc("GET /control-region", c.getControlRegion)
	mux.HandleFunc("POST /control-region", c.setControlRegion)
	return mux
}

// region returns the region named in the path, or answers 404.
func (c *control) region(w http.ResponseWriter, r *http.Request) *region {
	name := r.PathValue("name")
	for _, x := range c.regions {
		if x.name == name {
			return x
		}
	}
	c.refuse(w, http.StatusNotFound, "not_found", "no region named "+name)
	return nil
}

// readBody reads a small JSON body into v, or answers 4xx.
func (c *control) readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil {
		c.refuse(w, http.StatusBadRequest, "invalid_request", "body unreadable: "+err.Error())
		return false
	}
	if len(body) > maxControlBody {
		c.refuse(w, http.StatusRequestEntityTooLarge, "too_large", "body over 4 KiB")
		return false
	}
	if err := strictjson.Decode(body, v); err != nil {
		c.refuse(w, http.StatusBadRequest, "invalid_request", "body: "+err.Error())
		return false
	}
	return true
}

// redeliver hands the region's last detector event to the trigger again, as SNS does when it
// delivers a message twice.
func (c *control) redeliver(w http.ResponseWriter, r *http.Request) {
	reg := c.region(w, r)
	if reg == nil {
		return
	}
	out, d, err := reg.redeliver(r.Context())
	if errors.Is(err, errNothingDelivered) {
		c.refuse(w, http.StatusConflict, "nothing_delivered", "no detector event was delivered in "+reg.name+" yet")
		return
	}
	res := RedeliverResponse{MessageID: d.MessageID, Outcome: string(out)}
	if ev, perr := parseEvent(d); perr == nil {
		res.Event, res.Sequence = string(ev.Event), ev.Sequence
	}
	if err != nil {
		reg.log.Error("event redelivered: the trigger failed", "message_id", d.MessageID, "err", err)
		c.refuse(w, http.StatusBadGateway, "trigger_failed", err.Error())
		return
	}
	reg.log.Info("event redelivered", "message_id", d.MessageID, "event", res.Event, "sequence", res.Sequence, "outcome", res.Outcome)
	writeJSON(w, http.StatusOK, res)
}

func (c *control) controlRegion() string { return c.regions[0].name }

func (c *control) getControlRegion(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	down := c.down
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, ControlRegionRequest{State: upDown(down), Region: c.controlRegion()})
}

// setControlRegion switches the control region down or up: down, the memory store refuses
// automated writes as the dynamo store does while the control region is unreachable, and an
// operator's forced close or open falls back (audited so).
func (c *control) setControlRegion(w http.ResponseWriter, r *http.Request) {
	var req ControlRegionRequest
	if !c.readBody(w, r, &req) {
		return
	}
	if req.State != "up" && req.State != "down" || req.Region != "" {
		c.refuse(w, http.StatusBadRequest, "invalid_request", `want {"state":"down"} or {"state":"up"}`)
		return
	}
	if c.memory == nil {
		c.refuse(w, http.StatusConflict, "not_supported", "the control-region switch needs the memory store: run without --dynamodb-endpoint")
		return
	}
	down := req.State == "down"
	c.mu.Lock()
	c.down = down
	c.memory.SetControlRegionDown(c.controlRegion(), down)
	c.mu.Unlock()
	c.log.Info("control region switched", "control_region", c.controlRegion(), "state", req.State)
	writeJSON(w, http.StatusOK, ControlRegionRequest{State: req.State, Region: c.controlRegion()})
}

func upDown(down bool) string {
	if down {
		return "down"
	}
	return "up"
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
	reg := c.region(w, r)
	if reg == nil {
		return
	}
	var req EncoderRequest
	if !c.readBody(w, r, &req) {
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
