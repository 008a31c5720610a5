// Package trigger turns detector events (SNS messages) into Step Functions executions: stale and
// unreachable events start the failover workflow, fresh events the failback workflow when
// failback is enabled. Execution names derive from the event, so duplicate deliveries start one
// execution; malformed messages are logged and dropped, never retried.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/clustered-video-streams/cvs/internal/workflow"
)

// Starter starts Step Functions executions (*sfn.Client is one).
type Starter interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// Handler is the trigger Lambda's handler. Build it with New.
type Handler struct {
	sfn         Starter
	failoverArn string
	failbackArn string // "" when failback is disabled
	holdDown    int
	log         *slog.Logger
}

// Config configures a Handler.
type Config struct {
	SFN Starter
	// FailoverArn is the failover state machine.
	FailoverArn string
	// FailbackArn is the failback state machine; "" disables failback (fresh events then start
	// nothing).
	FailbackArn string
	// HoldDown is how long the origin must stay fresh before failback reopens its distribution.
	HoldDown time.Duration
	// Log receives one line per message; nil means slog.Default().
	Log *slog.Logger
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.SFN == nil {
		return nil, errors.New("trigger: no Step Functions client")
	}
	if cfg.FailoverArn == "" {
		return nil, errors.New("trigger: no failover state machine ARN")
	}
	if cfg.HoldDown < 0 || cfg.HoldDown > workflow.MaxHoldDown || cfg.HoldDown%time.Second != 0 {
		return nil, fmt.Errorf("trigger: hold-down %s is not a whole number of seconds from 0 to %s", cfg.HoldDown, workflow.MaxHoldDown)
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Handler{sfn: cfg.SFN, failoverArn: cfg.FailoverArn, failbackArn: cfg.FailbackArn,
		holdDown: int(cfg.HoldDown / time.Second), log: log}, nil
}

// failbackInput is workflow.FailbackInput with the detector event as published.
type failbackInput struct {
	DetectorEvent   json.RawMessage `json:"detector_event"`
	HoldDownSeconds int             `json:"hold_down_seconds"`
}

// Outcome is what the trigger did with one message.
type Outcome string

// Outcomes.
const (
	// Started: StartExecution succeeded. For a duplicate delivery while the event's execution
	// is still running, Step Functions answers this way too (same name and input: it returns the
	// running execution and starts none).
	Started Outcome = "started"
	// AlreadyStarted: the event's execution has ended (or ran with another input), and
	// StartExecution answered ExecutionAlreadyExists: a duplicate delivery.
	AlreadyStarted Outcome = "already_started"
	// Ignored: a valid event that starts nothing (ended, or fresh with failback disabled).
	Ignored Outcome = "ignored"
	// Dropped: a malformed message, logged with its reason.
	Dropped Outcome = "dropped"
)

// Handle handles an SNS delivery. Malformed messages are logged and dropped (a retry would fail
// the same way); only a failure to start an execution is returned, so Lambda retries the
// delivery, and the derived execution name keeps the retry from starting a second one.
func (h *Handler) Handle(ctx context.Context, e events.SNSEvent) error {
	var errs []error
	for _, r := range e.Records {
		if _, err := h.HandleRecord(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// HandleRecord handles one SNS record and says what it did.
func (h *Handler) HandleRecord(ctx context.Context, r events.SNSEventRecord) (Outcome, error) {
	log := h.log.With("message_id", r.SNS.MessageID, "topic", r.SNS.TopicArn)
	ev, err := workflow.ParseDetectorEvent([]byte(r.SNS.Message))
	if err != nil {
		log.Warn("dropped a malformed detector event", "reason", err.Error(), "bytes", len(r.SNS.Message))
		return Dropped, nil
	}
	log = log.With("event", ev.Event, "cluster", ev.Cluster, "domain", ev.Domain, "sequence", ev.Sequence)
	// The execution input carries the event as published, fields this trigger does not know
	// included, for a Confirm that knows them (version 1 only gains optional fields).
	published := json.RawMessage(r.SNS.Message)
	var arn string
	var input any
	switch {
	case ev.Event.StartsFailover():
		arn, input = h.failoverArn, published
	case ev.Event == workflow.EventFresh && h.failbackArn != "":
		arn, input = h.failbackArn, failbackInput{DetectorEvent: published, HoldDownSeconds: h.holdDown}
	default:
		why := "an ended stream needs no failover"
		if ev.Event == workflow.EventFresh {
			why = "failback is disabled"
		}
		log.Info("ignored a detector event", "reason", why)
		return Ignored, nil
	}
	body, err := json.Marshal(input)
	if err != nil {
		return "", fmt.Errorf("encode the execution input of %s/%s #%d: %w", ev.Cluster, ev.Domain, ev.Sequence, err)
	}
	name := workflow.ExecutionName(ev)
	out, err := h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(arn),
		Name:            aws.String(name),
		Input:           aws.String(string(body)),
	})
	var exists *types.ExecutionAlreadyExists
	switch {
	case errors.As(err, &exists):
		log.Info("execution already started", "state_machine", arn, "execution_name", name)
		return AlreadyStarted, nil
	case err != nil:
		log.Error("could not start an execution", "state_machine", arn, "execution_name", name, "err", err.Error())
		return "", fmt.Errorf("start %s for %s/%s #%d: %w", name, ev.Cluster, ev.Domain, ev.Sequence, err)
	}
	log.Info("started an execution", "state_machine", arn, "execution_arn", aws.ToString(out.ExecutionArn))
	return Started, nil
}
