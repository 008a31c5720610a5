package edgesync

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// Syncs is what the stream handler needs from a Syncer.
type Syncs interface {
	SyncCluster(ctx context.Context, cluster string, removed []string) (Outcome, error)
}

// Handler turns a batch of DynamoDB Streams records of the state table into one sync per
// changed cluster. Audit records are ignored, and so are MODIFY records of an instance whose
// version did not change: every store write that changes what the edge reads (open state,
// health, reason, region: see edgestate.NewInstance and NewSteering) bumps the version, and the
// writes that do not are the detector saving its memory on the item (attributes detector and
// detector_rev, twice a minute per instance), which the edge never reads. A record that cannot be read, or whose cluster
// could not be written, is reported in BatchItemFailures (by sequence number), so Lambda
// retries from it while the rest of the batch, already written, is idempotent to redo; after
// the event source's retry limit, the record goes to the on-failure destination and the
// stream moves on.
type Handler struct {
	Sync Syncs
	Log  *slog.Logger // nil: slog.Default()
}

// MalformedRecordError says why a stream record is not a state table record edgesync can use.
type MalformedRecordError struct {
	EventID string
	Problem string
}

func (e *MalformedRecordError) Error() string {
	return fmt.Sprintf("malformed stream record %s: %s", e.EventID, e.Problem)
}

// versionAttr is the instance item's version attribute (internal/state/dynamo AttrVersion).
const versionAttr = "version"

type recordKey struct {
	kind    string // "instance", "ignore" (not an instance), "unchanged" (nothing the edge reads changed)
	cluster string
	domain  string
	removed bool
}

// Handle processes one batch. It never fails the whole batch: failures are per record.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	var resp events.DynamoDBEventResponse
	fail := func(rec events.DynamoDBEventRecord) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
	}
	type clusterWork struct {
		records []events.DynamoDBEventRecord
		removed []string
	}
	work := map[string]*clusterWork{}
	var order []string
	ignored, unchanged := 0, 0
	for _, rec := range ev.Records {
		k, err := classify(rec)
		if err != nil {
			log.Error("edgesync: skipping a record it cannot read; reporting it as failed", "err", err, "sequence", rec.Change.SequenceNumber)
			fail(rec)
			continue
		}
		switch k.kind {
		case "ignore":
			ignored++
			continue
		case "unchanged":
			unchanged++
			continue
		}
		w, ok := work[k.cluster]
		if !ok {
			w = &clusterWork{}
			work[k.cluster] = w
			order = append(order, k.cluster)
		}
		w.records = append(w.records, rec)
		if k.removed {
			w.removed = append(w.removed, k.domain)
		}
	}
	for _, cluster := range order {
		w := work[cluster]
		out, err := h.Sync.SyncCluster(ctx, cluster, w.removed)
		if err != nil {
			log.Error("edgesync: cluster not synced; reporting its records as failed", "cluster", cluster, "records", len(w.records), "err", err)
			for _, rec := range w.records {
				fail(rec)
			}
			continue
		}
		log.Info("edgesync: cluster synced", "cluster", cluster, "records", len(w.records), "puts", out.Puts, "deletes", out.Deletes, "skipped", out.Skipped, "attempts", out.Attempts)
	}
	log.Info("edgesync: batch done", "records", len(ev.Records), "clusters", len(order), "ignored", ignored,
		"unchanged", unchanged, "failed", len(resp.BatchItemFailures))
	return resp, nil
}

// classify reads a record's key: which cluster and domain it is about, or that it is not an
// instance (an audit record) and is to be ignored.
func classify(rec events.DynamoDBEventRecord) (recordKey, error) {
	bad := func(format string, args ...any) (recordKey, error) {
		return recordKey{}, &MalformedRecordError{EventID: rec.EventID, Problem: fmt.Sprintf(format, args...)}
	}
	if rec.Change.SequenceNumber == "" {
		return bad("no sequence number")
	}
	var image map[string]events.DynamoDBAttributeValue
	switch events.DynamoDBOperationType(rec.EventName) {
	case events.DynamoDBOperationTypeInsert, events.DynamoDBOperationTypeModify:
		image = rec.Change.NewImage
	case events.DynamoDBOperationTypeRemove:
		image = rec.Change.OldImage
	default:
		return bad("event name %q, want INSERT, MODIFY or REMOVE", rec.EventName)
	}
	domain, ok := stringAttr(rec.Change.Keys, "domain")
	if !ok {
		domain, ok = stringAttr(image, "domain")
	}
	if !ok {
		return bad("no string key attribute domain")
	}
	// Only instance items count. Audit records share the table (kind "audit", domain
	// "audit#..."); items written before kind existed have none and are instances.
	if kind, hasKind := image["kind"]; hasKind {
		if kind.DataType() != events.DataTypeString {
			return bad("attribute kind is not a string")
		}
		if kind.String() != "instance" {
			return recordKey{kind: "ignore"}, nil
		}
	} else if strings.HasPrefix(domain, "audit#") {
		return recordKey{kind: "ignore"}, nil
	}
	cluster, ok := stringAttr(rec.Change.Keys, "cluster")
	if !ok {
		cluster, ok = stringAttr(image, "cluster")
	}
	if !ok {
		return bad("no string key attribute cluster")
	}
	if err := state.ValidateKey(cluster, domain); err != nil {
		return bad("%v", err)
	}
	if rec.EventName == string(events.DynamoDBOperationTypeModify) && sameVersion(rec.Change.OldImage, rec.Change.NewImage) {
		return recordKey{kind: "unchanged", cluster: cluster, domain: domain}, nil
	}
	return recordKey{kind: "instance", cluster: cluster, domain: domain, removed: rec.EventName == string(events.DynamoDBOperationTypeRemove)}, nil
}

// sameVersion reports whether both images hold the same version number. An image without one
// (a stream that sends only new images, an item from before versions) is taken as changed.
func sameVersion(before, after map[string]events.DynamoDBAttributeValue) bool {
	o, ok1 := numberAttr(before, versionAttr)
	n, ok2 := numberAttr(after, versionAttr)
	return ok1 && ok2 && o == n
}

func numberAttr(m map[string]events.DynamoDBAttributeValue, name string) (int64, bool) {
	v, ok := m[name]
	if !ok || v.DataType() != events.DataTypeNumber {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Number(), 10, 64)
	return n, err == nil
}

func stringAttr(m map[string]events.DynamoDBAttributeValue, name string) (string, bool) {
	v, ok := m[name]
	if !ok || v.DataType() != events.DataTypeString {
		return "", false
	}
	return v.String(), true
}
