// Package trigger starts a failover or failback execution for each detector event SNS delivers,
// named after the event so that a repeated delivery starts one; what no retry would mend is
// dead-lettered at once, and only transient failures are returned for Lambda to retry.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/execution"
	"github.com/clustered-video-streams/cvs/internal/queue"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// Handler is the trigger Lambda's handler. Build it with New.
type Handler struct {
	sfn         execution.Starter
	failoverArn string
	failbackArn string // "" when failback is disabled
	holdDown    int
	dlq         queue.Sender
	now         func() time.Time
	log         *slog.Logger
}

// Config configures a Handler.
type Config struct {
	// SFN starts the workflows: internal/aws/sfn in Lambda, internal/local/sfn on this machine.
	SFN execution.Starter
	// FailoverArn is the failover state machine.
	FailoverArn string
	// FailbackArn is the failback state machine; "" disables failback (fresh events then start
	// nothing).
	FailbackArn string
	// HoldDown is how long the origin must stay fresh before failback reopens its distribution.
	HoldDown time.Duration
	// DeadLetterQueueURL names the queue where messages go that no retry would mend (the queue
	// that is also the function's on-failure destination), and DeadLetters sends to it. Both or
	// neither: without them such messages are only logged.
	DeadLetters        queue.Sender
	DeadLetterQueueURL string
	// Now is the clock that event sequences are checked against (contract.MaxSequenceAhead)
	// and that stamps dead-letter records; nil means time.Now.
	Now func() time.Time
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
	if cfg.HoldDown < 0 || cfg.HoldDown > contract.MaxHoldDown || cfg.HoldDown%time.Second != 0 {
		return nil, fmt.Errorf("trigger: hold-down %s is not a whole number of seconds from 0 to %s", cfg.HoldDown, contract.MaxHoldDown)
	}
	if (cfg.DeadLetters == nil) != (cfg.DeadLetterQueueURL == "") {
		return nil, errors.New("trigger: a dead-letter queue needs both its client and its URL")
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Handler{sfn: cfg.SFN, failoverArn: cfg.FailoverArn, failbackArn: cfg.FailbackArn,
		holdDown: int(cfg.HoldDown / time.Second), dlq: cfg.DeadLetters, now: now, log: log}, nil
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
	// Dropped: a malformed message, logged with its reason and dead-lettered (when a queue is
	// configured and takes it). Never retried: it would fail the same way.
	Dropped Outcome = "dropped"
	// DeadLettered: Step Functions refused the execution for a reason no retry mends (the
	// state machine is missing or being deleted, the input or name is refused, access is
	// denied); the message was logged and put on the dead-letter queue for an operator.
	DeadLettered Outcome = "dead_lettered"
)

// Handle handles an SNS delivery. It returns an error only when an execution could not be
// started for a transient reason (or a message that no retry mends could not be dead-lettered),
// so that Lambda retries the delivery; the derived execution name keeps the retry from starting
// a second execution. Malformed messages are never retried.
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
	ev, err := contract.ParseDetectorEventAt([]byte(r.SNS.Message), h.now())
	if err != nil {
		return h.drop(ctx, log, r, err), nil
	}
	log = log.With("event", ev.Event, "cluster", ev.Cluster, "domain", ev.Domain, "sequence", ev.Sequence)
	// The execution input is the event as validated, encoded again: the state machine's
	// JSONPaths and the tasks see exactly the fields checked here, whatever the message's
	// spelling. The same event always encodes the same, so a repeated delivery still meets its
	// execution under the same name with the same input.
	var arn string
	var input any
	switch {
	case contract.StartsFailover(ev.Event):
		arn, input = h.failoverArn, ev
	case ev.Event == state.HealthFresh && h.failbackArn != "":
		arn, input = h.failbackArn, contract.FailbackInput{DetectorEvent: ev, HoldDownSeconds: h.holdDown}
	default:
		why := "an ended stream needs no failover"
		if ev.Event == state.HealthFresh {
			why = "failback is disabled"
		}
		log.Info("ignored a detector event", "reason", why)
		return Ignored, nil
	}
	body, err := json.Marshal(input)
	if err != nil { // a validated event always encodes; were it not to, a retry would fail alike
		return h.drop(ctx, log, r, &contract.InvalidInputError{What: "detector event", Problems: []string{"cannot be encoded: " + err.Error()}}), nil
	}
	name := contract.ExecutionName(ev)
	out, err := h.sfn.Start(ctx, arn, name, body)
	var refused *execution.RefusedError
	switch {
	case err == nil && out.Outcome == execution.AlreadyExists:
		log.Info("execution already started", "state_machine", arn, "execution_name", name)
		return AlreadyStarted, nil
	case errors.As(err, &refused):
		log.Error("Step Functions refused the execution; dead-lettering the event", "state_machine", arn, "execution_name", name, "err", err.Error())
		if dlErr := h.deadLetter(ctx, r, conditionRefused, refused.Code, err); dlErr != nil {
			log.Error("could not dead-letter the event", "err", dlErr.Error())
			return "", fmt.Errorf("start %s for %s/%s #%d: %w; and dead-letter it: %w", name, ev.Cluster, ev.Domain, ev.Sequence, err, dlErr)
		}
		return DeadLettered, nil
	case err != nil:
		log.Error("could not start an execution (retried)", "state_machine", arn, "execution_name", name, "err", err.Error())
		return "", fmt.Errorf("start %s for %s/%s #%d: %w", name, ev.Cluster, ev.Domain, ev.Sequence, err)
	}
	log.Info("started an execution", "state_machine", arn, "execution_arn", out.ExecutionARN)
	return Started, nil
}

// drop logs and dead-letters a malformed message; it is never retried.
func (h *Handler) drop(ctx context.Context, log *slog.Logger, r events.SNSEventRecord, err error) Outcome {
	log.Warn("dropped a malformed detector event", "reason", err.Error(), "bytes", len(r.SNS.Message))
	if dlErr := h.deadLetter(ctx, r, conditionMalformed, "InvalidInputError", err); dlErr != nil {
		// Not returned: a retry would only be as malformed, and Lambda's own on-failure
		// record would land on the same queue that just failed.
		log.Error("could not dead-letter a malformed detector event", "err", dlErr.Error())
	}
	return Dropped
}

// Conditions of the trigger's own dead-letter records (Lambda's are RetriesExhausted and
// EventAgeExceeded).
const (
	conditionMalformed = "MalformedMessage"
	conditionRefused   = "ExecutionRefused"
)

// DeadLetterRecord is what the trigger puts on its dead-letter queue: the shape of the records
// Lambda sends to an asynchronous function's on-failure destination, so that one procedure
// replays both (invoke the trigger again with requestPayload, once the cause is fixed).
type DeadLetterRecord struct {
	Version        string            `json:"version"`
	Timestamp      time.Time         `json:"timestamp"`
	RequestContext DeadLetterContext `json:"requestContext"`
	// RequestPayload is the delivery as the trigger got it, with this one record.
	RequestPayload  events.SNSEvent `json:"requestPayload"`
	ResponsePayload DeadLetterError `json:"responsePayload"`
}

// DeadLetterContext says which invocation dead-lettered a record, and why (Condition).
type DeadLetterContext struct {
	RequestID   string `json:"requestId,omitempty"`
	FunctionArn string `json:"functionArn,omitempty"`
	Condition   string `json:"condition"`
}

// DeadLetterError is the error that made the record a dead letter.
type DeadLetterError struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

// deadLetter puts record r on the dead-letter queue; without one it does nothing.
func (h *Handler) deadLetter(ctx context.Context, r events.SNSEventRecord, condition, errType string, cause error) error {
	if h.dlq == nil {
		return nil
	}
	rec := DeadLetterRecord{Version: "1.0", Timestamp: h.now().UTC(),
		RequestContext:  DeadLetterContext{Condition: condition},
		RequestPayload:  events.SNSEvent{Records: []events.SNSEventRecord{r}},
		ResponsePayload: DeadLetterError{ErrorType: errType, ErrorMessage: cause.Error()}}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		rec.RequestContext.RequestID, rec.RequestContext.FunctionArn = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode the dead-letter record: %w", err)
	}
	if _, err := h.dlq.Send(ctx, string(body), 0); err != nil {
		return fmt.Errorf("send to the dead-letter queue: %w", err)
	}
	h.log.Info("dead-lettered a detector event", "message_id", r.SNS.MessageID, "condition", condition)
	return nil
}
