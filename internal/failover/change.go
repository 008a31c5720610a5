package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// CloseStore is what Close needs of the state store (state.Store has it).
type CloseStore interface {
	HistoryReader
	Instance(ctx context.Context, cluster, domain string) (state.Instance, error)
	Close(ctx context.Context, cluster, domain string, c state.Change) (state.Instance, error)
}

// ReopenStore is what Reopen needs of the state store (state.Store has it).
type ReopenStore interface {
	HistoryReader
	Instance(ctx context.Context, cluster, domain string) (state.Instance, error)
	Open(ctx context.Context, cluster, domain string, c state.Change) (state.Instance, error)
}

// maxConflicts bounds the read-decide-write rounds of one task when concurrent writes to the
// instance (a detector recording health, an operator) change it between the read and the write.
const maxConflicts = 3

// Closer is the Close task: the guarded close of one instance's distribution.
type Closer struct {
	Store CloseStore
	// HoldDown: Close refuses while the instance was reopened less than this long ago, so a
	// flapping origin is closed at most once per hold-down window. Zero: no hold-down.
	HoldDown time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives one line per decision; nil means slog.Default().
	Log *slog.Logger
}

// Close closes the instance's distribution unless it is closed already, the event is not newer
// than the last one a workflow acted upon or the instance was reopened within the hold-down
// (Skipped: routine), or the guard refuses (Refused: no other instance of the cluster open and
// healthy, an operator must act). Skips and refusals are results, never errors, and write
// nothing. Errors are workflow's named errors,
// returned unwrapped: *InvalidInputError, *InstanceNotFoundError, *StateStoreError.
func (c *Closer) Close(ctx context.Context, in contract.CloseInput) (contract.CloseOutput, error) {
	if err := in.ValidateAt(now(c.Now)); err != nil {
		logger(c.Log).Warn("close: invalid input", "cluster", in.Cluster, "domain", in.Domain, "err", err.Error())
		return contract.CloseOutput{}, err
	}
	var conflict error
	for range maxConflicts {
		out, err := c.attempt(ctx, in)
		if errors.Is(err, state.ErrVersionConflict) {
			conflict = err
			continue
		}
		if err != nil {
			return contract.CloseOutput{}, err
		}
		logger(c.Log).Info("close", "cluster", in.Cluster, "domain", in.Domain, "sequence", in.Sequence,
			"closed", out.Closed, "changed", out.Changed, "refused", out.Refused, "reason", out.Reason, "by", in.ChangedBy)
		return out, nil
	}
	return contract.CloseOutput{}, &contract.StateStoreError{Op: "close", Err: fmt.Errorf("close %s/%s: %d concurrent changes in a row: %w", in.Cluster, in.Domain, maxConflicts, conflict)}
}

// attempt is one read-decide-write round; a state.ErrVersionConflict means "read again".
func (c *Closer) attempt(ctx context.Context, in contract.CloseInput) (contract.CloseOutput, error) {
	inst, oc, err := readInstance(ctx, c.Store, in.Cluster, in.Domain)
	if err != nil {
		return contract.CloseOutput{}, err
	}
	if !inst.Open {
		out := contract.CloseOutput{Closed: true, Reason: "already closed"}
		if oc.latest != nil {
			out.Reason = "already " + describe(oc.latest)
			// A retry of this very execution (its first answer was lost) did close it.
			out.Changed = oc.latest.By == in.ChangedBy && oc.latest.After == "false"
		}
		return out, nil
	}
	if oc.automated != nil && oc.seq >= in.Sequence {
		return skippedClose(fmt.Sprintf("detector event #%d is not newer than event #%d, whose workflow %s: a duplicate or out-of-order event changes nothing",
			in.Sequence, oc.seq, describe(oc.automated))), nil
	}
	now := now(c.Now)
	if r := oc.latest; c.HoldDown > 0 && r != nil && r.After == "true" && now.Sub(r.At) < c.HoldDown {
		return skippedClose(fmt.Sprintf("the distribution was %s, %s ago, within the %s hold-down: a flapping origin is closed at most once per hold-down",
			describe(r), now.Sub(r.At).Round(time.Second), c.HoldDown)), nil
	}
	_, err = c.Store.Close(ctx, in.Cluster, in.Domain, state.Change{By: in.ChangedBy, Reason: in.Reason, ExpectedVersion: inst.Version})
	var guard *state.GuardError
	switch {
	case err == nil:
		return contract.CloseOutput{Closed: true, Changed: true, Reason: in.Reason}, nil
	case errors.As(err, &guard):
		return refusedClose(guard.Error()), nil
	default:
		return contract.CloseOutput{}, storeError("close", in.Cluster, in.Domain, err)
	}
}

func refusedClose(reason string) contract.CloseOutput {
	return contract.CloseOutput{Refused: true, Reason: limitReason(reason)}
}

func skippedClose(reason string) contract.CloseOutput {
	return contract.CloseOutput{Skipped: true, Reason: limitReason(reason)}
}

// Reopener is the Reopen task of the failback workflow.
type Reopener struct {
	Store ReopenStore
	// Now is the clock event sequences are checked against; nil means time.Now.
	Now func() time.Time
	// Log receives one line per decision; nil means slog.Default().
	Log *slog.Logger
}

// Reopen opens the instance's distribution again unless it is open already, an operator closed
// it (Refused: automation never undoes an operator), or the event is not newer than the last
// one a workflow acted upon (Skipped). Skips and refusals are results and write nothing. Errors are
// workflow's named errors, returned unwrapped.
func (r *Reopener) Reopen(ctx context.Context, in contract.ReopenInput) (contract.ReopenOutput, error) {
	if err := in.ValidateAt(now(r.Now)); err != nil {
		logger(r.Log).Warn("reopen: invalid input", "cluster", in.Cluster, "domain", in.Domain, "err", err.Error())
		return contract.ReopenOutput{}, err
	}
	var conflict error
	for range maxConflicts {
		out, err := r.attempt(ctx, in)
		if errors.Is(err, state.ErrVersionConflict) {
			conflict = err
			continue
		}
		if err != nil {
			return contract.ReopenOutput{}, err
		}
		logger(r.Log).Info("reopen", "cluster", in.Cluster, "domain", in.Domain, "sequence", in.Sequence,
			"opened", out.Opened, "changed", out.Changed, "refused", out.Refused, "reason", out.Reason, "by", in.ChangedBy)
		return out, nil
	}
	return contract.ReopenOutput{}, &contract.StateStoreError{Op: "reopen", Err: fmt.Errorf("reopen %s/%s: %d concurrent changes in a row: %w", in.Cluster, in.Domain, maxConflicts, conflict)}
}

func (r *Reopener) attempt(ctx context.Context, in contract.ReopenInput) (contract.ReopenOutput, error) {
	inst, oc, err := readInstance(ctx, r.Store, in.Cluster, in.Domain)
	if err != nil {
		return contract.ReopenOutput{}, err
	}
	if inst.Open {
		out := contract.ReopenOutput{Opened: true, Reason: "already open"}
		if oc.latest != nil {
			out.Reason = "already " + describe(oc.latest)
			out.Changed = oc.latest.By == in.ChangedBy && oc.latest.After == "true"
		}
		return out, nil
	}
	switch {
	case oc.latest == nil:
		return refusedReopen("the audit trail does not say who closed it; an operator must decide"), nil
	case !isExecution(oc.latest.By):
		return refusedReopen(fmt.Sprintf("it was %s, an operator: automation never reopens what an operator closed", describe(oc.latest))), nil
	case oc.automated != nil && oc.seq >= in.Sequence:
		return skippedReopen(fmt.Sprintf("detector event #%d is not newer than event #%d, whose workflow %s: a duplicate or out-of-order event changes nothing",
			in.Sequence, oc.seq, describe(oc.automated))), nil
	}
	_, err = r.Store.Open(ctx, in.Cluster, in.Domain, state.Change{By: in.ChangedBy, Reason: in.Reason, ExpectedVersion: inst.Version})
	if err != nil {
		return contract.ReopenOutput{}, storeError("reopen", in.Cluster, in.Domain, err)
	}
	return contract.ReopenOutput{Opened: true, Changed: true, Reason: in.Reason}, nil
}

func refusedReopen(reason string) contract.ReopenOutput {
	return contract.ReopenOutput{Refused: true, Reason: limitReason(reason)}
}

func skippedReopen(reason string) contract.ReopenOutput {
	return contract.ReopenOutput{Skipped: true, Reason: limitReason(reason)}
}

// instanceReader is what readInstance needs: CloseStore and ReopenStore both have it.
type instanceReader interface {
	HistoryReader
	Instance(ctx context.Context, cluster, domain string) (state.Instance, error)
}

// readInstance reads the instance and what its audit trail says about its open state.
func readInstance(ctx context.Context, s instanceReader, cluster, domain string) (state.Instance, openChanges, error) {
	inst, err := s.Instance(ctx, cluster, domain)
	if err != nil {
		return inst, openChanges{}, storeError("read", cluster, domain, err)
	}
	oc, err := readOpenChanges(ctx, s, cluster, domain)
	if err != nil {
		return inst, oc, storeError("read", cluster, domain, err)
	}
	return inst, oc, nil
}

// storeError maps a state store error to the named error the state machines match, except
// state.ErrVersionConflict, which it returns as it is for the caller's read-decide-write loop.
func storeError(op, cluster, domain string, err error) error {
	var invalid *state.InvalidError
	switch {
	case errors.Is(err, state.ErrVersionConflict):
		return err
	case errors.Is(err, state.ErrNotFound):
		return &contract.InstanceNotFoundError{Cluster: cluster, Domain: domain}
	case errors.As(err, &invalid):
		return &contract.InvalidInputError{What: op + " input", Problems: []string{invalid.Field + ": " + invalid.Problem}}
	}
	return &contract.StateStoreError{Op: op, Err: fmt.Errorf("%s %s/%s: %w", op, cluster, domain, err)}
}

func now(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
