package dynamo_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

// interleaved is a real DynamoDB client that runs a concurrent writer's change once, after the
// store has read and just before its first transaction: the race the guard's ConditionCheck
// exists for, made deterministic.
type interleaved struct {
	dynamo.API
	once   sync.Once
	before func()
}

func (c *interleaved) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.once.Do(c.before)
	return c.API.TransactWriteItems(ctx, in, opts...)
}

func TestGuardUnderInterleavedWrites(t *testing.T) {
	d := db.Get(t)
	forced := state.Change{By: "other", Reason: "concurrent", Force: true}
	for _, tc := range []struct {
		name    string
		peers   []string // all fresh and open; the store checks the first one first
		meddle  func(other state.Store, raw *dynamodb.Client, table string) error
		wantErr bool // *state.GuardError
		// what target a.example looks like afterwards
		wantOpen bool
	}{
		{
			name:  "the only peer closes before the commit",
			peers: []string{"b.example"},
			meddle: func(o state.Store, _ *dynamodb.Client, _ string) error {
				_, err := o.Close(ctx, "news", "b.example", forced)
				return err
			},
			wantErr: true, wantOpen: true,
		},
		{
			name:  "the only peer goes stale before the commit",
			peers: []string{"b.example"},
			meddle: func(o state.Store, _ *dynamodb.Client, _ string) error {
				_, err := o.RecordHealth(ctx, "news", "b.example", state.HealthStale, state.Change{By: "detector"})
				return err
			},
			wantErr: true, wantOpen: true,
		},
		{
			// Global tables replicate whole items last-writer-wins: an older copy of the peer
			// from another region can bring back an old heartbeat. The peer check must see it.
			name:  "the only peer's heartbeat turns old before the commit",
			peers: []string{"b.example"},
			meddle: func(_ state.Store, raw *dynamodb.Client, table string) error {
				old := time.Now().Add(-time.Hour).UnixMilli()
				_, err := raw.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName:                 aws.String(table),
					Key:                       map[string]types.AttributeValue{"cluster": &types.AttributeValueMemberS{Value: "news"}, "domain": &types.AttributeValueMemberS{Value: "b.example"}},
					UpdateExpression:          aws.String("SET detector_at = :old"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":old": &types.AttributeValueMemberN{Value: strconv.FormatInt(old, 10)}},
				})
				return err
			},
			wantErr: true, wantOpen: true,
		},
		{
			name:  "the checked peer closes but another stays healthy",
			peers: []string{"b.example", "c.example"},
			meddle: func(o state.Store, _ *dynamodb.Client, _ string) error {
				_, err := o.Close(ctx, "news", "b.example", forced)
				return err
			},
			wantOpen: false,
		},
		{
			name:  "someone else closes the target first",
			peers: []string{"b.example"},
			meddle: func(o state.Store, _ *dynamodb.Client, _ string) error {
				_, err := o.Close(ctx, "news", "a.example", forced)
				return err
			},
			wantOpen: false,
		},
		{
			name:  "the target's health changes before the commit",
			peers: []string{"b.example"},
			meddle: func(o state.Store, _ *dynamodb.Client, _ string) error {
				_, err := o.RecordHealth(ctx, "news", "a.example", state.HealthUnreachable, state.Change{By: "detector"})
				return err
			},
			wantOpen: false,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := d.StateTable(t)
			client := d.Client("eu-west-1")
			other, err := dynamo.New(dynamo.Config{Table: table, Control: client})
			if err != nil {
				t.Fatal(err)
			}
			for _, dom := range append([]string{"a.example"}, tc.peers...) {
				if _, err := other.Register(ctx, reg("news", dom), state.Change{By: "ops"}); err != nil {
					t.Fatal(err)
				}
				if _, err := other.RecordHealth(ctx, "news", dom, state.HealthFresh, state.Change{By: "detector"}); err != nil {
					t.Fatal(err)
				}
			}
			hook := &interleaved{API: client, before: func() {
				if err := tc.meddle(other, client, table); err != nil {
					t.Errorf("concurrent writer: %v", err)
				}
			}}
			st, err := dynamo.New(dynamo.Config{Table: table, Control: hook})
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.Close(ctx, "news", "a.example", state.Change{By: "workflow", Reason: "stale"})
			var guard *state.GuardError
			if got := errors.As(err, &guard); got != tc.wantErr {
				t.Fatalf("Close error = %v, want a GuardError: %v", err, tc.wantErr)
			}
			if !tc.wantErr && err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := st.Stats(); got.Retries+got.GuardRetries != 1 {
				t.Errorf("Stats = %+v, want exactly one retried transaction", got)
			}
			ins, err := other.Instances(ctx, "news")
			if err != nil {
				t.Fatal(err)
			}
			healthy := 0
			for _, in := range ins {
				if in.Domain == "a.example" && in.Open != tc.wantOpen {
					t.Errorf("target open = %v, want %v", in.Open, tc.wantOpen)
				}
				if in.HealthyAt(time.Now(), state.DefaultHeartbeatMaxAge) {
					healthy++
				}
			}
			if healthy == 0 {
				t.Errorf("no instance is open and healthy: %+v", ins)
			}
			// Exactly one close of the target in the trail, whoever made it.
			p, err := other.History(ctx, state.HistoryQuery{Cluster: "news", Domain: "a.example"})
			if err != nil {
				t.Fatal(err)
			}
			closes := 0
			for _, r := range p.Records {
				if r.Field == state.FieldOpen && r.After == "false" {
					closes++
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tc.wantOpen]; closes != want {
				t.Errorf("closes of the target in the audit trail = %d, want %d", closes, want)
			}
		})
	}
}
