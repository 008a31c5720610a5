package dynamo_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/state/statetest"
)

var ctx = context.Background()

func reg(cluster, domain string) state.Registration {
	return state.Registration{
		Cluster: cluster, Domain: domain, Region: "eu-west-1",
		DistributionPlaylistURL: "https://" + domain + "/index.m3u8",
		OriginPlaylistURL:       "https://origin.example/" + domain + "/index.m3u8",
	}
}

// rawItems returns every item of a table, for checking what other readers of the table (the
// edge sync, operators with the console) see.
func rawItems(t *testing.T, c *dynamodb.Client, table string) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		out, err := c.Scan(ctx, in)
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		items = append(items, out.Items...)
		if out.LastEvaluatedKey == nil {
			return items
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// shape describes an item as attribute name -> type letter (S, N, BOOL).
func shape(item map[string]types.AttributeValue) map[string]string {
	out := map[string]string{}
	for k, v := range item {
		switch v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = "S"
		case *types.AttributeValueMemberN:
			out[k] = "N"
		case *types.AttributeValueMemberBOOL:
			out[k] = "BOOL"
		default:
			out[k] = "?"
		}
	}
	return out
}

func s(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	if v, ok := item[name].(*types.AttributeValueMemberBOOL); ok {
		return strconv.FormatBool(v.Value)
	}
	return "<missing>"
}

// TestItemShapes pins the attribute names and types of the table's items (design.md 4.1), which
// the edge sync reads from the table's stream.
func TestItemShapes(t *testing.T) {
	d := db.Get(t)
	table := d.StateTable(t)
	client := d.Client("eu-west-1")
	clk := statetest.NewClock(statetest.T0)
	st, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "eu-west-1", Control: client, Now: clk.Now, AuditRetention: 45 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Register(ctx, reg("news", "d1.example"), state.Change{By: "ops", Reason: "new"}); err != nil {
		t.Fatal(err)
	}
	vouched := clk.Advance(time.Second)
	if _, err := st.RecordHealth(ctx, "news", "d1.example", state.HealthUnreachable, state.Change{By: "detector", Reason: "timeout"}); err != nil {
		t.Fatal(err)
	}
	at := clk.Advance(time.Second)
	if _, err := st.Close(ctx, "news", "d1.example", state.Change{By: "ops", Reason: "maintenance", Force: true}); err != nil {
		t.Fatal(err)
	}

	instanceShape := map[string]string{
		"cluster": "S", "domain": "S", "kind": "S", "region": "S", "distribution_playlist_url": "S",
		"origin_playlist_url": "S", "distro_open": "BOOL", "stale": "BOOL", "health": "S",
		"health_changed_at": "S", "open_changed_at": "S", "reason": "S", "changed_by": "S", "version": "N",
		"detector_at": "N",
	}
	auditShape := map[string]string{
		"cluster": "S", "domain": "S", "kind": "S", "instance_domain": "S", "at": "S", "field": "S",
		"before": "S", "after": "S", "by": "S", "reason": "S", "force": "BOOL", "version": "N", "expires_at": "N",
	}
	kinds := map[string]int{}
	for _, item := range rawItems(t, client, table) {
		kind := s(item, "kind")
		kinds[kind]++
		switch kind {
		case dynamo.KindInstance:
			if diff := cmp.Diff(instanceShape, shape(item)); diff != "" {
				t.Errorf("instance item attributes (-want +got):\n%s", diff)
			}
			want := map[string]string{
				"distro_open": "false", "stale": "true", "health": "unreachable", "version": "3",
				"open_changed_at": at.Format(time.RFC3339Nano), "changed_by": "ops",
				"detector_at": strconv.FormatInt(vouched.UnixMilli(), 10), // epoch ms, for the guard's condition
			}
			for k, v := range want {
				if got := s(item, k); got != v {
					t.Errorf("instance %s = %q, want %q", k, got, v)
				}
			}
		case dynamo.KindAudit:
			if diff := cmp.Diff(auditShape, shape(item)); diff != "" {
				t.Errorf("audit item attributes (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(s(item, "domain"), "audit#") || s(item, "cluster") != "news" || s(item, "instance_domain") != "d1.example" {
				t.Errorf("audit item key %s/%s, instance_domain %s", s(item, "cluster"), s(item, "domain"), s(item, "instance_domain"))
			}
			recAt, err := time.Parse(time.RFC3339Nano, s(item, "at"))
			if err != nil {
				t.Fatalf("audit at %q: %v", s(item, "at"), err)
			}
			if got, want := s(item, "expires_at"), strconv.FormatInt(recAt.Add(45*24*time.Hour).Unix(), 10); got != want {
				t.Errorf("expires_at = %s, want at + 45 days = %s", got, want)
			}
			if s(item, "field") == "distro_open" && s(item, "force") != "true" {
				t.Errorf("forced close's audit item has force = %s", s(item, "force"))
			}
		case dynamo.KindCluster:
			if got, want := s(item, "cluster")+"/"+s(item, "domain"), dynamo.RegistryPartition+"/news"; got != want {
				t.Errorf("registry item key = %s, want %s", got, want)
			}
		case dynamo.KindDomain:
			if diff := cmp.Diff(map[string]string{"cluster": "S", "domain": "S", "kind": "S", "owner": "S"}, shape(item)); diff != "" {
				t.Errorf("domain registry item attributes (-want +got):\n%s", diff)
			}
			if got, want := s(item, "cluster")+"/"+s(item, "domain")+" owner "+s(item, "owner"), dynamo.DomainRegistryPartition+"/d1.example owner news"; got != want {
				t.Errorf("domain registry item = %s, want %s", got, want)
			}
		default:
			t.Errorf("item of unknown kind %q: %v", kind, shape(item))
		}
	}
	if diff := cmp.Diff(map[string]int{"instance": 1, "audit": 3, "cluster": 1, "domain": 1}, kinds); diff != "" {
		t.Errorf("items by kind (-want +got):\n%s", diff)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "eu-west-1"})
	for _, tc := range []struct {
		name string
		cfg  dynamo.Config
	}{
		{"no table", dynamo.Config{Control: client}},
		{"no control client", dynamo.Config{Table: "t"}},
		{"audit kept less than 30 days", dynamo.Config{Table: "t", Control: client, AuditRetention: 29 * 24 * time.Hour}},
		{"negative heartbeat max age", dynamo.Config{Table: "t", Control: client, HeartbeatMaxAge: -time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := dynamo.New(tc.cfg); err == nil {
				t.Fatalf("New(%+v) succeeded", tc.cfg)
			}
		})
	}
}
