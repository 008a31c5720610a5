// Package failover holds the task handlers of the failover and failback state machines, Confirm,
// Close and Reopen: each takes a workflow task input and returns its output, or one of workflow's
// named errors unwrapped so that the state machines' Retry and Catch match it by name.
package failover

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// HistoryReader reads an instance's audit trail, newest first (state.Store has it).
type HistoryReader interface {
	History(ctx context.Context, q state.HistoryQuery) (state.HistoryPage, error)
}

// Limits on audit trail scans: a task reads pages until it has what it needs or the records
// are older than it cares about, and never more than this many records.
const (
	historyPage    = 100
	maxHistoryRead = 2000
)

// openChanges is what the audit trail says about an instance's open state.
type openChanges struct {
	// latest is the newest change of distro_open, by anyone; nil when there is none.
	latest *state.AuditRecord
	// automated is the newest change of distro_open made by a workflow execution whose name
	// derives from a detector event, and seq that event's sequence; nil when there is none.
	automated *state.AuditRecord
	seq       int64
}

// readOpenChanges scans the instance's audit trail, newest first, for its newest change of
// distro_open and its newest change by a workflow execution.
func readOpenChanges(ctx context.Context, h HistoryReader, cluster, domain string) (openChanges, error) {
	var oc openChanges
	q := state.HistoryQuery{Cluster: cluster, Domain: domain, Limit: historyPage}
	for read := 0; read < maxHistoryRead; {
		page, err := h.History(ctx, q)
		if err != nil {
			return oc, err
		}
		for i := range page.Records {
			r := page.Records[i]
			if r.Field != state.FieldOpen || r.Domain != domain {
				continue
			}
			if oc.latest == nil {
				oc.latest = &r
			}
			if seq, ok := eventSequence(cluster, domain, r.By); ok {
				oc.automated, oc.seq = &r, seq
				return oc, nil
			}
		}
		read += len(page.Records)
		if page.Next == "" || len(page.Records) == 0 {
			break
		}
		q.Cursor = page.Next
	}
	return oc, nil
}

// eventSequence returns the detector event sequence of a workflow execution that changed the
// instance: by must be a Step Functions execution ARN whose name is contract.ExecutionName of an
// event of this instance. Anything else (an operator, a renamed execution) is not automated.
func eventSequence(cluster, domain, by string) (int64, bool) {
	name, ok := executionName(by)
	if !ok {
		return 0, false
	}
	parts := strings.Split(name, "_")
	if len(parts) < 4 {
		return 0, false
	}
	seq, err := strconv.ParseInt(parts[len(parts)-2], 10, 64)
	if err != nil {
		return 0, false
	}
	e := contract.DetectorEvent{Cluster: cluster, Domain: domain, Sequence: seq}
	if contract.ExecutionName(e) != name {
		return 0, false
	}
	return seq, true
}

// executionName returns the execution name of a Step Functions execution ARN
// (arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>).
func executionName(arn string) (string, bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 8 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "execution" || parts[7] == "" {
		return "", false
	}
	return parts[7], true
}

// isExecution reports whether by names a Step Functions execution (automation, not a person).
func isExecution(by string) bool {
	_, ok := executionName(by)
	return ok
}

// describe words an audit record for operators: "closed at <time> by <who> (<reason>)".
func describe(r *state.AuditRecord) string {
	what := "reopened"
	if r.After == "false" {
		what = "closed"
	}
	s := fmt.Sprintf("%s at %s by %s", what, r.At.UTC().Format(time.RFC3339), r.By)
	if r.Reason != "" {
		s += " (" + r.Reason + ")"
	}
	return s
}

// limitReason keeps a reason within what notifications and the audit trail should carry.
func limitReason(s string) string {
	const max = 1500
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
