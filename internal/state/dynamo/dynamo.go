// Package dynamo is the state.Store on a DynamoDB global table, which decides every read and
// write in one control region's replica so that two guarded closes can never both win. When that
// region is unreachable, only reads and an operator's forced closes and opens fall back to this
// region's replica (README "The state table and the control region").
package dynamo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/clustered-video-streams/cvs/internal/state"
)

var _ state.Store = (*Store)(nil)

// API is what the store needs of a DynamoDB client (*dynamodb.Client has it).
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Defaults of Config.
const (
	DefaultAuditRetention = 90 * 24 * time.Hour
	MinAuditRetention     = 30 * 24 * time.Hour
	DefaultMaxAttempts    = 8
	DefaultControlTimeout = 5 * time.Second
)

// Config configures a Store.
type Config struct {
	// Table is the state table's name (the same in every region of a global table).
	Table string
	// ControlRegion names the region of Control, for errors and logs.
	ControlRegion string
	// Control is a client of the control region's replica: every read and write goes there.
	Control API
	// Local is a client of this region's replica, used when the control region is unreachable
	// for reads and for an operator's forced closes and opens (see the package doc). Nil: no
	// fallback, every call needs the control region.
	Local API
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AuditRetention is how long audit records are kept (their expires_at), at least 30 days;
	// zero means DefaultAuditRetention.
	AuditRetention time.Duration
	// MaxAttempts bounds the read-decide-write attempts of one write when concurrent writes
	// cancel its transaction; zero means DefaultMaxAttempts.
	MaxAttempts int
	// ControlTimeout bounds each call to the control region, after which it counts as
	// unreachable; zero means DefaultControlTimeout.
	ControlTimeout time.Duration
	// HeartbeatMaxAge is how recently a peer's detector must have vouched for it (its
	// detector_at) for a guarded close to count it; zero means state.DefaultHeartbeatMaxAge.
	HeartbeatMaxAge time.Duration
}

// Store is the DynamoDB state store. Use New.
type Store struct {
	cfg   Config
	stats struct {
		retries, fallbacks, guardRetries atomic.Int64
	}
}

// Stats counts what a store did beyond the plain path, for tests and logs.
type Stats struct {
	// Retries counts transactions cancelled by a concurrent write (condition failed on the
	// target or a transaction conflict) and tried again after a fresh read.
	Retries int64
	// GuardRetries counts guarded closes whose peer stopped being open, fresh and vouched for
	// before the transaction committed, tried again with a fresh read.
	GuardRetries int64
	// Fallbacks counts calls (reads, forced closes and opens) that went to the local replica
	// because the control region was unreachable.
	Fallbacks int64
}

// New checks cfg and returns a store.
func New(cfg Config) (*Store, error) {
	if cfg.Table == "" {
		return nil, errors.New("dynamo state store: no table name")
	}
	if cfg.Control == nil {
		return nil, errors.New("dynamo state store: no control region client")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AuditRetention == 0 {
		cfg.AuditRetention = DefaultAuditRetention
	}
	if cfg.AuditRetention < MinAuditRetention {
		return nil, fmt.Errorf("dynamo state store: audit retention %v is shorter than the required %v", cfg.AuditRetention, MinAuditRetention)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.ControlTimeout <= 0 {
		cfg.ControlTimeout = DefaultControlTimeout
	}
	if cfg.HeartbeatMaxAge == 0 {
		cfg.HeartbeatMaxAge = state.DefaultHeartbeatMaxAge
	}
	if cfg.HeartbeatMaxAge < 0 {
		return nil, fmt.Errorf("dynamo state store: negative heartbeat max age %v", cfg.HeartbeatMaxAge)
	}
	return &Store{cfg: cfg}, nil
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Retries:      s.stats.retries.Load(),
		GuardRetries: s.stats.guardRetries.Load(),
		Fallbacks:    s.stats.fallbacks.Load(),
	}
}

// Register creates an instance (open, health unknown) or updates its region and URLs. A domain
// registered to another cluster is refused with *state.DomainTakenError: the write claims the
// domain in the domain registry (DomainRegistryPartition) in the same transaction, conditioned
// on no other cluster owning it, so two clusters registering one domain at once cannot both
// win.
func (s *Store) Register(ctx context.Context, r state.Registration, c state.Change) (state.Instance, error) {
	if err := state.ValidateRegistration(r); err != nil {
		return state.Instance{}, fmt.Errorf("register %s/%s: %w", r.Cluster, r.Domain, err)
	}
	return s.write(ctx, "register", r.Cluster, r.Domain, c, writeOpts{claimDomain: true},
		func(cur *state.Instance, _ []state.Instance, now time.Time, _ int) (plan, error) {
			if cur == nil {
				if c.ExpectedVersion != 0 {
					return plan{}, fmt.Errorf("expected version %d of a new instance: %w", c.ExpectedVersion, state.ErrVersionConflict)
				}
				in, rec := state.NewInstance(r, c, now)
				return plan{next: in, rec: &rec, isNew: true}, nil
			}
			in, rec := cur.WithRegistration(r, c, now)
			return plan{next: in, rec: rec}, nil
		})
}

// RecordHealth records a detector's conclusion about an instance.
func (s *Store) RecordHealth(ctx context.Context, cluster, domain string, h state.Health, c state.Change) (state.Instance, error) {
	if err := state.ValidateHealth(h); err != nil {
		return state.Instance{}, fmt.Errorf("record health %s/%s: %w", cluster, domain, err)
	}
	return s.write(ctx, "record health", cluster, domain, c, writeOpts{},
		func(cur *state.Instance, _ []state.Instance, now time.Time, _ int) (plan, error) {
			if cur == nil {
				return plan{}, state.ErrNotFound
			}
			in, rec := cur.WithHealth(h, c, now)
			return plan{next: in, rec: rec, heartbeat: true}, nil
		})
}

// Open opens an instance's distribution. Only with c.Force (an operator's explicit choice) may
// it fall back to the local replica (see the package doc).
func (s *Store) Open(ctx context.Context, cluster, domain string, c state.Change) (state.Instance, error) {
	return s.write(ctx, "open", cluster, domain, c, writeOpts{fallback: c.Force},
		func(cur *state.Instance, _ []state.Instance, now time.Time, _ int) (plan, error) {
			if cur == nil {
				return plan{}, state.ErrNotFound
			}
			in, rec := cur.WithOpen(true, c, now)
			return plan{next: in, rec: rec}, nil
		})
}

// Close closes an instance's distribution. Unless c.Force, it commits only together with a
// ConditionCheck that another instance of the cluster is open and fresh and that its detector
// vouched for it within HeartbeatMaxAge (detector_at), in the control region (see the package
// doc), and refuses with *state.GuardError when no such peer is left.
func (s *Store) Close(ctx context.Context, cluster, domain string, c state.Change) (state.Instance, error) {
	opts := writeOpts{fallback: c.Force, cluster: !c.Force, requireOpen: true}
	return s.write(ctx, "close", cluster, domain, c, opts,
		func(cur *state.Instance, all []state.Instance, now time.Time, attempt int) (plan, error) {
			if cur == nil {
				return plan{}, state.ErrNotFound
			}
			in, rec := cur.WithOpen(false, c, now)
			p := plan{next: in, rec: rec}
			if rec == nil || c.Force {
				return p, nil
			}
			peers := state.HealthyPeers(all, domain, now, s.cfg.HeartbeatMaxAge)
			if len(peers) == 0 {
				return plan{}, &state.GuardError{Cluster: cluster, Domain: domain}
			}
			// Another peer on each attempt: the one checked last may be the one in the way.
			p.peer = peers[attempt%len(peers)].Domain
			p.cutoff = state.HeartbeatCutoff(now, s.cfg.HeartbeatMaxAge)
			return p, nil
		})
}

// Instance returns one instance, or state.ErrNotFound.
func (s *Store) Instance(ctx context.Context, cluster, domain string) (state.Instance, error) {
	if err := state.ValidateKey(cluster, domain); err != nil {
		return state.Instance{}, fmt.Errorf("instance %s/%s: %w", cluster, domain, err)
	}
	var in *state.Instance
	err := s.read(ctx, true, func(ctx context.Context, api API) error {
		var err error
		in, err = s.get(ctx, api, cluster, domain)
		return err
	})
	if err != nil {
		return state.Instance{}, fmt.Errorf("instance %s/%s: %w", cluster, domain, err)
	}
	if in == nil {
		return state.Instance{}, fmt.Errorf("instance %s/%s: %w", cluster, domain, state.ErrNotFound)
	}
	return *in, nil
}

// Instances returns a cluster's instances ordered by domain, or state.ErrNotFound when the
// cluster has none.
func (s *Store) Instances(ctx context.Context, cluster string) ([]state.Instance, error) {
	if err := state.ValidateCluster(cluster); err != nil {
		return nil, fmt.Errorf("instances of %s: %w", cluster, err)
	}
	var all []state.Instance
	err := s.read(ctx, true, func(ctx context.Context, api API) error {
		var err error
		all, err = s.instances(ctx, api, cluster)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("instances of %s: %w", cluster, err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("instances of %s: %w", cluster, state.ErrNotFound)
	}
	return all, nil
}

// Clusters returns the names of all clusters, sorted: one Query of the registry partition
// (RegistryPartition), which Register fills in the transaction that creates a cluster's first
// instance, so the cost does not grow with the audit trail as a Scan's would.
func (s *Store) Clusters(ctx context.Context) ([]string, error) {
	names := []string{}
	err := s.read(ctx, true, func(ctx context.Context, api API) error {
		names = names[:0]
		return s.query(ctx, api, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String("#c = :c"),
			ExpressionAttributeNames:  map[string]string{"#c": AttrCluster},
			ExpressionAttributeValues: map[string]types.AttributeValue{":c": str(RegistryPartition)},
			ProjectionExpression:      aws.String("#d"),
		}, map[string]string{"#c": AttrCluster, "#d": AttrDomain}, func(item map[string]types.AttributeValue) (bool, error) {
			d, ok := item[AttrDomain].(*types.AttributeValueMemberS)
			if !ok {
				return false, fmt.Errorf("registry item without a %s", AttrDomain)
			}
			names = append(names, d.Value)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("clusters: %w", err)
	}
	return names, nil
}

// History returns a page of a cluster's audit trail, newest first: a Query of the cluster's
// partition for sort keys starting with AuditPrefix, backwards, filtered by instance_domain
// when q.Domain is set. An unknown cluster has an empty history. The cursor is the last
// returned record's sort key.
func (s *Store) History(ctx context.Context, q state.HistoryQuery) (state.HistoryPage, error) {
	limit, err := q.PageLimit()
	if err != nil {
		return state.HistoryPage{}, fmt.Errorf("history of %s: %w", q.Cluster, err)
	}
	var start map[string]types.AttributeValue
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || !isAuditKey(string(b)) {
			return state.HistoryPage{}, fmt.Errorf("history of %s: %w", q.Cluster, &state.InvalidError{Field: "cursor", Problem: "not a cursor from a previous page"})
		}
		start = map[string]types.AttributeValue{AttrCluster: str(q.Cluster), AttrDomain: str(string(b))}
	}
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#c = :c AND begins_with(#d, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": str(q.Cluster), ":p": str(AuditPrefix)},
		ScanIndexForward:          aws.Bool(false),
		ExclusiveStartKey:         start,
		// One more than the page, to know whether there is a next page.
		Limit: aws.Int32(int32(limit + 1)),
	}
	names := map[string]string{"#c": AttrCluster, "#d": AttrDomain}
	if q.Domain != "" {
		in.FilterExpression = aws.String("#i = :i")
		names["#i"] = AttrInstanceDomain
		in.ExpressionAttributeValues[":i"] = str(q.Domain)
	}
	var page state.HistoryPage
	err = s.read(ctx, true, func(ctx context.Context, api API) error {
		page = state.HistoryPage{Records: []state.AuditRecord{}}
		return s.query(ctx, api, in, names, func(item map[string]types.AttributeValue) (bool, error) {
			rec, err := fromAuditItem(item)
			if err != nil {
				return false, err
			}
			if len(page.Records) == limit {
				page.Next = base64.RawURLEncoding.EncodeToString([]byte(auditKey(page.Records[limit-1])))
				return false, nil
			}
			page.Records = append(page.Records, rec)
			return true, nil
		})
	})
	if err != nil {
		return state.HistoryPage{}, fmt.Errorf("history of %s: %w", q.Cluster, err)
	}
	return page, nil
}

// plan is what one attempt of a write decided: the instance after it and its audit record
// (nil: nothing to write).
type plan struct {
	next  state.Instance
	rec   *state.AuditRecord
	isNew bool
	peer  string // a guarded close's peer, checked open, fresh and vouched for in the same transaction
	// cutoff is the oldest heartbeat (detector_at) the peer check accepts.
	cutoff time.Time
	// heartbeat: the write stamps detector_at (a health record). Other writes leave it alone, so
	// that they never put back an older heartbeat than a detector memory save just wrote.
	heartbeat bool
}

type writeOpts struct {
	// fallback lets the write go to the local replica when the control region is unreachable:
	// only an operator's forced close or open (see the package doc).
	fallback    bool
	cluster     bool // decide needs all the cluster's instances, not just the target
	requireOpen bool // the target must still be open when the transaction commits
	// claimDomain refuses a domain registered to another cluster and claims it for this one
	// in the same transaction (the domain registry).
	claimDomain bool
}

type decideFunc func(cur *state.Instance, all []state.Instance, now time.Time, attempt int) (plan, error)

// write runs read, decide, transact until the transaction commits, decide says there is
// nothing to write or refuses, or MaxAttempts transactions were cancelled.
func (s *Store) write(ctx context.Context, op, cluster, domain string, c state.Change, o writeOpts, decide decideFunc) (state.Instance, error) {
	fail := func(err error) (state.Instance, error) {
		return state.Instance{}, fmt.Errorf("%s %s/%s: %w", op, cluster, domain, err)
	}
	if err := state.ValidateKey(cluster, domain); err != nil {
		return fail(err)
	}
	if err := state.ValidateChange(c); err != nil {
		return fail(err)
	}
	api, fallback := s.cfg.Control, false
	lastCancel := ""
	for attempt := 0; attempt < s.cfg.MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return fail(err)
			}
		}
		next, err := s.attempt(ctx, api, fallback, cluster, domain, c, o, decide, attempt)
		var cancel *cancelled
		switch {
		case err == nil:
			return next, nil
		case errors.As(err, &cancel):
			lastCancel = cancel.reason
			if cancel.reason == "peer" {
				s.stats.guardRetries.Add(1)
			} else {
				s.stats.retries.Add(1)
			}
			continue
		case !fallback && isUnavailable(ctx, err):
			if !o.fallback || s.cfg.Local == nil {
				return fail(&state.ControlRegionUnavailableError{Op: op, Cluster: cluster, Domain: domain, ControlRegion: s.cfg.ControlRegion, Err: err})
			}
			s.stats.fallbacks.Add(1)
			api, fallback = s.cfg.Local, true
			attempt-- // the control region's failure does not count as a lost race
			continue
		default:
			return fail(err)
		}
	}
	if lastCancel == "peer" {
		return fail(&state.GuardError{Cluster: cluster, Domain: domain})
	}
	return fail(fmt.Errorf("%d attempts lost to concurrent writes: %w", s.cfg.MaxAttempts, state.ErrVersionConflict))
}

// cancelled is a transaction cancelled by a concurrent write; reason is "target" (the target
// changed or a conflict) or "peer" (the peer is no longer open, fresh and vouched for).
type cancelled struct{ reason string }

func (c *cancelled) Error() string { return "transaction cancelled: " + c.reason }

func (s *Store) attempt(ctx context.Context, api API, fallback bool, cluster, domain string, c state.Change, o writeOpts, decide decideFunc, attempt int) (state.Instance, error) {
	var cur *state.Instance
	var all []state.Instance
	owner := ""
	err := s.call(ctx, api, fallback, func(ctx context.Context) error {
		var err error
		if o.claimDomain {
			if owner, err = s.domainOwner(ctx, api, domain); err != nil {
				return err
			}
		}
		if o.cluster {
			all, err = s.instances(ctx, api, cluster)
			for i := range all {
				if all[i].Domain == domain {
					cur = &all[i]
				}
			}
			return err
		}
		cur, err = s.get(ctx, api, cluster, domain)
		return err
	})
	if err != nil {
		return state.Instance{}, err
	}
	if owner != "" && owner != cluster {
		return state.Instance{}, &state.DomainTakenError{Domain: domain, Cluster: cluster, Owner: owner}
	}
	if cur != nil && c.ExpectedVersion != 0 && cur.Version != c.ExpectedVersion {
		return state.Instance{}, fmt.Errorf("at version %d, expected %d: %w", cur.Version, c.ExpectedVersion, state.ErrVersionConflict)
	}
	p, err := decide(cur, all, s.cfg.Now(), attempt)
	if err != nil {
		return state.Instance{}, err
	}
	if p.rec == nil {
		return p.next, nil
	}
	p.rec.Fallback = fallback
	items := s.transaction(cur, p, o)
	err = s.call(ctx, api, fallback, func(ctx context.Context) error {
		_, err := api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		return err
	})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return state.Instance{}, cancellation(tce, p.peer != "")
	}
	if err != nil {
		return state.Instance{}, err
	}
	return p.next, nil
}

// transaction builds the items of one write: the instance Put (new) or Update (conditioned on
// the version read, and for a close on being open), the audit record's Put, the cluster's
// registry entry for a new instance, a registration's claim of its domain (conditioned on no
// other cluster owning it; a lost race cancels the transaction and the next attempt reads the
// owner), and a guarded close's peer ConditionCheck. The peer check comes second so
// cancellation reasons can be matched by position.
func (s *Store) transaction(cur *state.Instance, p plan, o writeOpts) []types.TransactWriteItem {
	table := aws.String(s.cfg.Table)
	var items []types.TransactWriteItem
	if p.isNew {
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:                table,
			Item:                     mustMarshal(toInstanceItem(p.next)),
			ConditionExpression:      aws.String("attribute_not_exists(#d)"),
			ExpressionAttributeNames: map[string]string{"#d": AttrDomain},
		}})
	} else {
		items = append(items, types.TransactWriteItem{Update: s.update(cur.Version, p.next, o.requireOpen, p.heartbeat)})
	}
	if p.peer != "" {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                table,
			Key:                      key(p.next.Cluster, p.peer),
			ConditionExpression:      aws.String("#k = :k AND #o = :t AND #h = :f AND #da >= :da"),
			ExpressionAttributeNames: map[string]string{"#k": AttrKind, "#o": AttrOpen, "#h": AttrHealth, "#da": AttrDetectorAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":k": str(KindInstance), ":t": &types.AttributeValueMemberBOOL{Value: true}, ":f": str(string(state.HealthFresh)),
				":da": &types.AttributeValueMemberN{Value: strconv.FormatInt(p.cutoff.UnixMilli(), 10)},
			},
		}})
	}
	items = append(items, types.TransactWriteItem{Put: &types.Put{
		TableName:                table,
		Item:                     mustMarshal(toAuditItem(*p.rec, s.cfg.AuditRetention)),
		ConditionExpression:      aws.String("attribute_not_exists(#d)"),
		ExpressionAttributeNames: map[string]string{"#d": AttrDomain},
	}})
	if p.isNew {
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: table,
			Item:      mustMarshal(registryItem{Cluster: RegistryPartition, Domain: p.next.Cluster, Kind: KindCluster}),
		}})
	}
	if o.claimDomain {
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:                 table,
			Item:                      mustMarshal(domainItem{Cluster: DomainRegistryPartition, Domain: p.next.Domain, Kind: KindDomain, Owner: p.next.Cluster}),
			ConditionExpression:       aws.String("attribute_not_exists(#o) OR #o = :o"),
			ExpressionAttributeNames:  map[string]string{"#o": AttrOwner},
			ExpressionAttributeValues: map[string]types.AttributeValue{":o": str(p.next.Cluster)},
		}})
	}
	return items
}

// update sets every attribute of the instance item (others' extra attributes stay; detector_at
// only with heartbeat) if the item is still at version and, for a close, still open.
func (s *Store) update(version int64, next state.Instance, requireOpen, heartbeat bool) *types.Update {
	av := mustMarshal(toInstanceItem(next))
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	expr := "SET "
	i := 0
	attrs := []string{AttrKind, AttrRegion, AttrDistributionPlaylistURL, AttrOriginPlaylistURL, AttrOpen, AttrStale,
		AttrHealth, AttrHealthChangedAt, AttrOpenChangedAt, AttrReason, AttrChangedBy, AttrVersion}
	if heartbeat {
		attrs = append(attrs, AttrDetectorAt)
	}
	for _, name := range attrs {
		if i > 0 {
			expr += ", "
		}
		n, v := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		names[n], values[v] = name, av[name]
		expr += n + " = " + v
		i++
	}
	cond := "#cv = :cv"
	names["#cv"] = AttrVersion
	values[":cv"] = &types.AttributeValueMemberN{Value: fmt.Sprint(version)}
	if requireOpen {
		cond += " AND #co = :co"
		names["#co"] = AttrOpen
		values[":co"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	return &types.Update{
		TableName:                 aws.String(s.cfg.Table),
		Key:                       key(next.Cluster, next.Domain),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
}

// cancellation maps a cancelled transaction to *cancelled. Reasons are positional: item 0 is
// the target, item 1 the peer when guarded.
func cancellation(tce *types.TransactionCanceledException, guarded bool) error {
	reason := "target"
	for i, r := range tce.CancellationReasons {
		code := aws.ToString(r.Code)
		switch code {
		case "", "None", "ConditionalCheckFailed", "TransactionConflict":
		default:
			// Validation errors, size limits, throttling: not a race, do not retry blindly.
			return fmt.Errorf("transaction cancelled (item %d: %s %s): %w", i, code, aws.ToString(r.Message), tce)
		}
		if guarded && i == 1 && code == "ConditionalCheckFailed" {
			reason = "peer"
		}
	}
	return &cancelled{reason: reason}
}

// read runs a read on the control region, falling back to the local replica when it is
// unreachable and fallback allows: reads decide nothing, and a slightly stale answer beats
// none.
func (s *Store) read(ctx context.Context, fallback bool, f func(ctx context.Context, api API) error) error {
	err := s.call(ctx, s.cfg.Control, false, func(ctx context.Context) error { return f(ctx, s.cfg.Control) })
	if err == nil || !fallback || s.cfg.Local == nil || !isUnavailable(ctx, err) {
		return err
	}
	s.stats.fallbacks.Add(1)
	return f(ctx, s.cfg.Local)
}

// call runs f with the control-region timeout unless the call goes to the local replica.
func (s *Store) call(ctx context.Context, api API, local bool, f func(ctx context.Context) error) error {
	if local {
		return f(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ControlTimeout)
	defer cancel()
	return f(ctx)
}

// domainOwner returns the cluster a domain is registered to in the domain registry, "" when
// none.
func (s *Store) domainOwner(ctx context.Context, api API, domain string) (string, error) {
	out, err := api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.cfg.Table),
		Key:                      key(DomainRegistryPartition, domain),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#o"),
		ExpressionAttributeNames: map[string]string{"#o": AttrOwner},
	})
	if err != nil {
		return "", err
	}
	v, ok := out.Item[AttrOwner].(*types.AttributeValueMemberS)
	if !ok {
		return "", nil
	}
	return v.Value, nil
}

func (s *Store) get(ctx context.Context, api API, cluster, domain string) (*state.Instance, error) {
	out, err := api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.cfg.Table),
		Key:            key(cluster, domain),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if out.Item == nil {
		return nil, nil
	}
	in, err := fromInstanceItem(out.Item)
	if err != nil {
		return nil, err
	}
	return &in, nil
}

// instances reads a cluster's instance items in domain order: the sort keys below AuditPrefix,
// then those from auditEnd on, so the audit records between them are never read.
func (s *Store) instances(ctx context.Context, api API, cluster string) ([]state.Instance, error) {
	var all []state.Instance
	for _, r := range []struct{ cond, bound string }{
		{"#c = :c AND #d < :k", AuditPrefix},
		{"#c = :c AND #d >= :k", auditEnd},
	} {
		err := s.query(ctx, api, &dynamodb.QueryInput{
			KeyConditionExpression:    aws.String(r.cond),
			ExpressionAttributeValues: map[string]types.AttributeValue{":c": str(cluster), ":k": str(r.bound)},
		}, map[string]string{"#c": AttrCluster, "#d": AttrDomain}, func(item map[string]types.AttributeValue) (bool, error) {
			in, err := fromInstanceItem(item)
			if err != nil {
				return false, err
			}
			all = append(all, in)
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return all, nil
}

// query runs a consistent Query page by page, handing each item to f until f says stop.
func (s *Store) query(ctx context.Context, api API, in *dynamodb.QueryInput, names map[string]string, f func(map[string]types.AttributeValue) (bool, error)) error {
	q := *in
	q.TableName = aws.String(s.cfg.Table)
	q.ConsistentRead = aws.Bool(true)
	q.ExpressionAttributeNames = names
	for {
		out, err := api.Query(ctx, &q)
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			more, err := f(item)
			if err != nil || !more {
				return err
			}
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		q.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// isUnavailable reports whether err says the region did not answer usefully: the request was
// not sent or got no response, timed out, or got a 5xx. Conditional failures, throttling and
// validation errors are answers, not unavailability; so is the caller's own cancellation.
func isUnavailable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	var send *smithyhttp.RequestSendError
	var ne net.Error
	if errors.As(err, &send) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// The SDK wraps even a failure to send in a ResponseError, with status 0.
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.HTTPStatusCode() >= 500 || re.HTTPStatusCode() == 0
	}
	return false
}

// backoff waits a few jittered milliseconds before another attempt, so that closers racing for
// the same items do not collide again at once.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(5*time.Millisecond) << min(attempt, 5)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func key(cluster, domain string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrCluster: str(cluster), AttrDomain: str(domain)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
