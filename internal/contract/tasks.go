package contract

import (
	"time"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// The state machines' DefinitionSubstitutions (the ${Name} placeholders in statemachines/).
const (
	SubstConfirmFunctionArn   = "ConfirmFunctionArn"
	SubstCloseFunctionArn     = "CloseFunctionArn"
	SubstReopenFunctionArn    = "ReopenFunctionArn"
	SubstNotificationTopicArn = "NotificationTopicArn"
	// SubstPartition is the AWS partition of the service integrations' ARNs
	// (arn:${Partition}:states:::lambda:invoke); the template gives it AWS::Partition.
	SubstPartition = "Partition"
)

// ConfirmMode says what the Confirm task is asked to confirm.
type ConfirmMode string

// Confirm modes.
const (
	// ConfirmStale (failover): is the origin still stale or unreachable?
	ConfirmStale ConfirmMode = "stale"
	// ConfirmFresh (failback): is the origin fresh now, and has it stayed fresh since the event?
	ConfirmFresh ConfirmMode = "fresh"
)

// ConfirmInput is the payload of the Confirm task (the failover's Confirm state and the
// failback's Reprobe state). Confirm probes the origin itself, bypassing caches, and does not
// trust the detector's verdict.
type ConfirmInput struct {
	Mode  ConfirmMode   `json:"mode"`
	Event DetectorEvent `json:"event"`
}

// UnmarshalJSON decodes the input strictly (strictjson.Decode), so that a handler acts on exactly
// the fields the state machine sent; a problem is an *InvalidInputError.
func (in *ConfirmInput) UnmarshalJSON(b []byte) error {
	type plain ConfirmInput
	return decodeInput("confirm input", b, (*plain)(in))
}

// Validate reports every way the input breaks the contract, as an *InvalidInputError. In stale
// mode the event must be stale or unreachable; in fresh mode, fresh.
func (in ConfirmInput) Validate() error {
	var p problems
	if err := in.Event.Validate(); err != nil {
		for _, s := range err.(*InvalidInputError).Problems {
			p = append(p, "event."+s)
		}
	}
	switch in.Mode {
	case ConfirmStale:
		if !StartsFailover(in.Event.Event) {
			p.add("event.event", "is %q; stale mode confirms stale or unreachable events only", in.Event.Event)
		}
	case ConfirmFresh:
		if in.Event.Event != state.HealthFresh {
			p.add("event.event", "is %q; fresh mode confirms fresh events only", in.Event.Event)
		}
	default:
		p.add("mode", "is %q, want stale or fresh", in.Mode)
	}
	return p.err("confirm input")
}

// ConfirmOutput is the Confirm task's result. Every field is always present: the state machines
// select them with ResultSelector, where a missing field is an uncatchable runtime error.
type ConfirmOutput struct {
	// Confirmed: in stale mode, the origin is still stale or unreachable (an ended stream or a
	// restarted media sequence is not); in fresh mode, it is fresh and its recorded health has
	// not been stale or unreachable since the event's detected_at.
	Confirmed bool `json:"confirmed"`
	// Health is what the probe saw.
	Health state.Health `json:"health"`
	// Reason says why, for operators: it is quoted in notifications and the audit trail.
	Reason   string    `json:"reason"`
	ProbedAt time.Time `json:"probed_at"`
}

// CloseInput is the payload of the Close task: close one instance's distribution in the state
// table, guarded (state.Store.Close without Force).
type CloseInput struct {
	Cluster string `json:"cluster"`
	Domain  string `json:"domain"`
	// Reason is recorded in the state table and the audit trail.
	Reason string `json:"reason"`
	// ChangedBy is the Step Functions execution ARN ($$.Execution.Id).
	ChangedBy string `json:"changed_by"`
	// Sequence is the detector event's sequence, for the audit trail.
	Sequence int64 `json:"sequence"`
}

// UnmarshalJSON decodes the input strictly (see ConfirmInput.UnmarshalJSON).
func (in *CloseInput) UnmarshalJSON(b []byte) error {
	type plain CloseInput
	return decodeInput("close input", b, (*plain)(in))
}

// Validate reports every way the input breaks the contract, as an *InvalidInputError.
func (in CloseInput) Validate() error {
	return validateChange("close input", in.Cluster, in.Domain, in.Reason, in.ChangedBy, in.Sequence, time.Time{})
}

// ValidateAt is Validate for a task acting at now: it also refuses a sequence more than
// MaxSequenceAhead ahead of now, which would make every later genuine event look old.
func (in CloseInput) ValidateAt(now time.Time) error {
	return validateChange("close input", in.Cluster, in.Domain, in.Reason, in.ChangedBy, in.Sequence, now)
}

// CloseOutput is the Close task's result. A skip and a guard refusal are results, not errors:
// {"closed":false,"changed":false,"skipped":false,"refused":true,"reason":"..."} ends the
// workflow successfully with a notification that says why. At most one of Closed, Skipped and
// Refused is true. Every field is always present (see ConfirmOutput).
type CloseOutput struct {
	// Closed: the distribution is closed now (by this call, or it already was).
	Closed bool `json:"closed"`
	// Changed: this call closed it.
	Changed bool `json:"changed"`
	// Skipped: nothing was changed, as the rules for events want, which is routine: the event is
	// not newer than the last one a workflow acted upon (a duplicate or late delivery), or the
	// distribution was reopened within the hold-down (a flapping origin).
	Skipped bool `json:"skipped"`
	// Refused: the guard refused, because no other instance of the cluster is open and healthy:
	// viewers on the instance may stall, and an operator must act.
	Refused bool   `json:"refused"`
	Reason  string `json:"reason"`
}

// ReopenInput is the payload of the Reopen task (failback): reopen a distribution that the
// failover workflow closed.
type ReopenInput struct {
	Cluster   string `json:"cluster"`
	Domain    string `json:"domain"`
	Reason    string `json:"reason"`
	ChangedBy string `json:"changed_by"`
	Sequence  int64  `json:"sequence"`
}

// UnmarshalJSON decodes the input strictly (see ConfirmInput.UnmarshalJSON).
func (in *ReopenInput) UnmarshalJSON(b []byte) error {
	type plain ReopenInput
	return decodeInput("reopen input", b, (*plain)(in))
}

// Validate reports every way the input breaks the contract, as an *InvalidInputError.
func (in ReopenInput) Validate() error {
	return validateChange("reopen input", in.Cluster, in.Domain, in.Reason, in.ChangedBy, in.Sequence, time.Time{})
}

// ValidateAt is Validate for a task acting at now (see CloseInput.ValidateAt).
func (in ReopenInput) ValidateAt(now time.Time) error {
	return validateChange("reopen input", in.Cluster, in.Domain, in.Reason, in.ChangedBy, in.Sequence, now)
}

// ReopenOutput is the Reopen task's result. Skipped and Refused are results, not errors. At
// most one of Opened, Skipped and Refused is true. Every field is always present (see
// ConfirmOutput).
type ReopenOutput struct {
	// Opened: the distribution is open now (by this call, or it already was).
	Opened bool `json:"opened"`
	// Changed: this call opened it.
	Changed bool `json:"changed"`
	// Skipped: the event is not newer than the last one a workflow acted upon (a duplicate or
	// late delivery); nothing was changed, which is routine.
	Skipped bool `json:"skipped"`
	// Refused: automation never reopens a distribution an operator closed (the instance's
	// changed_by is not a workflow execution); an operator may reopen it.
	Refused bool   `json:"refused"`
	Reason  string `json:"reason"`
}

// MaxHoldDown bounds the failback hold-down (Step Functions waits up to a year; an operator
// does not want a reopen a day later).
const MaxHoldDown = 24 * time.Hour

// FailbackInput is the failback workflow's input: a fresh detector event and how long the
// origin must stay fresh before its distribution is reopened.
type FailbackInput struct {
	DetectorEvent   DetectorEvent `json:"detector_event"`
	HoldDownSeconds int           `json:"hold_down_seconds"`
}

// UnmarshalJSON decodes the input strictly (see ConfirmInput.UnmarshalJSON).
func (in *FailbackInput) UnmarshalJSON(b []byte) error {
	type plain FailbackInput
	return decodeInput("failback input", b, (*plain)(in))
}

// Validate reports every way the input breaks the contract, as an *InvalidInputError.
func (in FailbackInput) Validate() error {
	var p problems
	if err := in.DetectorEvent.Validate(); err != nil {
		for _, s := range err.(*InvalidInputError).Problems {
			p = append(p, "detector_event."+s)
		}
	}
	if in.DetectorEvent.Event != state.HealthFresh {
		p.add("detector_event.event", "is %q; failback starts on fresh events only", in.DetectorEvent.Event)
	}
	if in.HoldDownSeconds < 0 || in.HoldDownSeconds > int(MaxHoldDown/time.Second) {
		p.add("hold_down_seconds", "is %d, want 0 to %d", in.HoldDownSeconds, int(MaxHoldDown/time.Second))
	}
	return p.err("failback input")
}

// decodeInput decodes a task input strictly into v; a problem is an *InvalidInputError, which
// aws-lambda-go reports by that name, so the state machines' Catch matches it.
func decodeInput(what string, b []byte, v any) error {
	if err := strictjson.Decode(b, v); err != nil {
		return &InvalidInputError{What: what, Problems: []string{err.Error()}}
	}
	return nil
}

// validateChange checks a Close or Reopen input; a zero now skips the sequence's clock check.
func validateChange(what, cluster, domain, reason, changedBy string, sequence int64, now time.Time) error {
	var p problems
	p.name("cluster", cluster)
	p.name("domain", domain)
	if reason == "" {
		p.add("reason", "is required")
	}
	if changedBy == "" {
		p.add("changed_by", "is required")
	}
	if sequence < 1 {
		p.add("sequence", "is %d, want >= 1", sequence)
	}
	if !now.IsZero() {
		p.sequence("sequence", sequence, now)
	}
	return p.err(what)
}
