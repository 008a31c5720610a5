package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// The detector's memory of an instance lives on the instance's item, in two attributes that
// the store's own writes never touch (they SET only the instance's attributes): the document as
// a string, and its revision, which every save bumps and is conditioned on. Every save also
// stamps detector_at, the detector's heartbeat that the close guard requires of a healthy peer
// (a health record stamps it too; no other write touches it). Saving the memory does not bump
// the instance's version, so it never conflicts with operators' or the workflow's writes.
const (
	AttrDetector    = "detector"
	AttrDetectorRev = "detector_rev"
	// MaxDetectorMemory bounds the document (an item holds at most 400 KB).
	MaxDetectorMemory = 128 << 10
)

// LoadDetector returns the instance's detector memory and its revision: nil and 0 when none was
// saved, state.ErrNotFound when the instance does not exist. It reads the control region's
// replica, the local one when that is unreachable.
func (s *Store) LoadDetector(ctx context.Context, cluster, domain string) ([]byte, int64, error) {
	fail := func(err error) ([]byte, int64, error) {
		return nil, 0, fmt.Errorf("load detector memory of %s/%s: %w", cluster, domain, err)
	}
	if err := state.ValidateKey(cluster, domain); err != nil {
		return fail(err)
	}
	var item map[string]types.AttributeValue
	err := s.read(ctx, true, func(ctx context.Context, api API) error {
		out, err := api.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:                aws.String(s.cfg.Table),
			Key:                      key(cluster, domain),
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     aws.String("#k, #m, #r"),
			ExpressionAttributeNames: map[string]string{"#k": AttrKind, "#m": AttrDetector, "#r": AttrDetectorRev},
		})
		if err != nil {
			return err
		}
		item = out.Item
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if k, ok := item[AttrKind].(*types.AttributeValueMemberS); !ok || k.Value != KindInstance {
		return fail(state.ErrNotFound)
	}
	data, rev, err := detectorAttrs(item)
	if err != nil {
		return fail(err)
	}
	return data, rev, nil
}

// SaveDetector replaces the instance's detector memory if its revision is prev (0: none saved
// yet), stamps detector_at (the detector's heartbeat, the store's now) and returns the new
// revision, prev+1. Otherwise it writes nothing and fails with
// state.ErrVersionConflict, or state.ErrNotFound for an unknown instance, or *state.InvalidError
// for data that is empty, not UTF-8 or over MaxDetectorMemory. Like every automated write of the
// store, it goes to the control region's replica only (all writes of one item in one region, so
// that global-table replication never drops one): when that is unreachable it fails with
// *state.ControlRegionUnavailableError and writes nothing.
func (s *Store) SaveDetector(ctx context.Context, cluster, domain string, data []byte, prev int64) (int64, error) {
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("save detector memory of %s/%s: %w", cluster, domain, err)
	}
	if err := state.ValidateKey(cluster, domain); err != nil {
		return fail(err)
	}
	switch {
	case len(data) == 0:
		return fail(&state.InvalidError{Field: AttrDetector, Problem: "empty"})
	case len(data) > MaxDetectorMemory:
		return fail(&state.InvalidError{Field: AttrDetector, Problem: fmt.Sprintf("%d bytes, more than %d", len(data), MaxDetectorMemory)})
	case !utf8.Valid(data):
		return fail(&state.InvalidError{Field: AttrDetector, Problem: "not UTF-8 text"})
	case prev < 0:
		return fail(&state.InvalidError{Field: AttrDetectorRev, Problem: "negative"})
	}
	cond := "#k = :k AND attribute_not_exists(#r)"
	values := map[string]types.AttributeValue{
		":k":  str(KindInstance),
		":m":  str(string(data)),
		":n":  &types.AttributeValueMemberN{Value: strconv.FormatInt(prev+1, 10)},
		":da": &types.AttributeValueMemberN{Value: strconv.FormatInt(state.HeartbeatTime(s.cfg.Now()).UnixMilli(), 10)},
	}
	if prev > 0 {
		cond = "#k = :k AND #r = :p"
		values[":p"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(prev, 10)}
	}
	// One Update in a transaction: the store's client interface writes only through
	// TransactWriteItems; a cancelled transaction reports the failed condition.
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(s.cfg.Table),
		Key:                       key(cluster, domain),
		UpdateExpression:          aws.String("SET #m = :m, #r = :n, #da = :da"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#k": AttrKind, "#m": AttrDetector, "#r": AttrDetectorRev, "#da": AttrDetectorAt},
		ExpressionAttributeValues: values,
	}}}}
	err := s.call(ctx, s.cfg.Control, false, func(ctx context.Context) error {
		_, err := s.cfg.Control.TransactWriteItems(ctx, in)
		return err
	})
	var tce *types.TransactionCanceledException
	switch {
	case err == nil:
		return prev + 1, nil
	case errors.As(err, &tce):
		if c := cancellation(tce, false); !errors.As(c, new(*cancelled)) {
			return fail(c)
		}
		// The condition failed: tell a missing instance from another revision.
		_, rev, lerr := s.LoadDetector(ctx, cluster, domain)
		if errors.Is(lerr, state.ErrNotFound) {
			return fail(state.ErrNotFound)
		}
		return fail(fmt.Errorf("at revision %d, expected %d: %w", rev, prev, state.ErrVersionConflict))
	case isUnavailable(ctx, err):
		return fail(&state.ControlRegionUnavailableError{Op: "save detector memory", Cluster: cluster, Domain: domain, ControlRegion: s.cfg.ControlRegion, Err: err})
	}
	return fail(err)
}

func detectorAttrs(item map[string]types.AttributeValue) ([]byte, int64, error) {
	var data []byte
	switch v := item[AttrDetector].(type) {
	case nil:
	case *types.AttributeValueMemberS:
		data = []byte(v.Value)
	default:
		return nil, 0, fmt.Errorf("attribute %s is not a string", AttrDetector)
	}
	var rev int64
	switch v := item[AttrDetectorRev].(type) {
	case nil:
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil || n < 0 {
			return nil, 0, fmt.Errorf("attribute %s is %q, not a revision", AttrDetectorRev, v.Value)
		}
		rev = n
	default:
		return nil, 0, fmt.Errorf("attribute %s is not a number", AttrDetectorRev)
	}
	return data, rev, nil
}
