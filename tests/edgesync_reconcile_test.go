package tests

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	awskvs "github.com/clustered-video-streams/cvs/internal/aws/kvs"
	"github.com/clustered-video-streams/cvs/internal/edgestate"
	"github.com/clustered-video-streams/cvs/internal/edgesync"
	"github.com/clustered-video-streams/cvs/internal/local/kvsfake"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestEdgeSyncReconcileOnDynamoDBLocal runs the reconcile on a state table in DynamoDB Local
// (the real store: the cluster registry, instances, audit records in the same partitions) and
// the fake KeyValueStore. It fills an empty store, then measures a reconcile with nothing
// drifted (reads only: counted on the wire for both services), then repairs drift the stream
// path cannot see: a close whose stream record was lost, a key deleted by hand, and the key of
// an instance item deleted from the table by hand.
func TestEdgeSyncReconcileOnDynamoDBLocal(t *testing.T) {
	ctx := context.Background()
	d := testenv.DynamoDB(t)
	table := d.StateTable(t)
	ddbOps := &opCounter{base: http.DefaultTransport, op: func(r *http.Request) string {
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		return op
	}}
	ddb := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(d.Endpoint), HTTPClient: &http.Client{Transport: ddbOps},
	})
	store, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "us-east-1", Control: ddb})
	if err != nil {
		t.Fatal(err)
	}
	srv := kvsfake.New()
	t.Cleanup(srv.Close)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	syncer := &edgesync.Syncer{
		Store: store, SteeringTTL: 6, Log: quiet,
		KVS: awskvs.New(cloudfrontkeyvaluestore.New(cloudfrontkeyvaluestore.Options{
			Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
			BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.HTTPClient(),
		}), kvsfake.ARN),
	}
	r := &edgesync.Reconciler{Sync: syncer, Registry: store, Authority: store, Log: quiet}

	const n = 20
	clusters := make([]string, n)
	for i := range clusters {
		clusters[i] = fmt.Sprintf("channel-%02d", i)
		testenv.FreshInstances(t, store, clusters[i], "us-east-1", clusters[i]+"-a.cloudfront.net")
		testenv.FreshInstances(t, store, clusters[i], "eu-west-1", clusters[i]+"-b.cloudfront.net")
	}
	wantStore := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, c := range clusters {
			ins, err := store.Instances(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			e, err := edgestate.Entries(c, ins, 6)
			if err != nil {
				t.Fatal(err)
			}
			maps.Copy(out, e)
		}
		return out
	}

	rep, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatalf("first reconcile: %v", err)
	}
	if rep.Puts != 3*n {
		t.Fatalf("first reconcile %+v, want %d puts", rep, 3*n)
	}
	if diff := cmp.Diff(wantStore(), srv.Items()); diff != "" {
		t.Fatalf("store after the first reconcile (-want +got):\n%s", diff)
	}

	// Nothing drifted: reads only.
	kvsBefore, ddbBefore := srv.Requests(), ddbOps.counts()
	rep, err = r.Reconcile(ctx)
	if err != nil {
		t.Fatalf("in-sync reconcile: %v", err)
	}
	kvsReads, ddbReads := diffCounts(kvsBefore, srv.Requests()), diffCounts(ddbBefore, ddbOps.counts())
	if rep.KeysRepaired != 0 || kvsReads["UpdateKeys"] != 0 {
		t.Fatalf("in-sync reconcile wrote: %+v, requests %v", rep, kvsReads)
	}
	if got := slices.Sorted(maps.Keys(ddbReads)); !cmp.Equal(got, []string{"Query"}) {
		t.Errorf("state table requests of an in-sync reconcile: %v, want Queries only", ddbReads)
	}
	t.Logf("in-sync reconcile of %d clusters (%d keys): key value store %v; state table %v; report kvs_reads=%d state_reads=%d",
		n, rep.KeysChecked, kvsReads, ddbReads, rep.KVSReads, rep.StateReads)

	// Drift: a close the stream never delivered, a key deleted by hand, an instance item
	// deleted from the table by hand (its key is an orphan the control region confirms gone).
	if _, err := store.Close(ctx, "channel-03", "channel-03-a.cloudfront.net", state.Change{By: "arn:aws:iam::123456789012:user/ops", Reason: "maintenance"}); err != nil {
		t.Fatal(err)
	}
	srv.Delete("channel-07-b.cloudfront.net")
	if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		dynamo.AttrCluster: &types.AttributeValueMemberS{Value: "channel-11"},
		dynamo.AttrDomain:  &types.AttributeValueMemberS{Value: "channel-11-b.cloudfront.net"},
	}}); err != nil {
		t.Fatal(err)
	}
	rep, err = r.Reconcile(ctx)
	if err != nil {
		t.Fatalf("repairing reconcile: %v", err)
	}
	// channel-03: its entry and steering; channel-07: its entry; channel-11: the orphan's delete
	// and its steering manifest, which now lists one region.
	if rep.Puts != 4 || rep.Deletes != 1 || len(rep.OrphansKept) != 0 {
		t.Errorf("repairing reconcile %+v, want 4 puts and 1 delete", rep)
	}
	if diff := cmp.Diff(wantStore(), srv.Items()); diff != "" {
		t.Fatalf("store after the repair (-want +got):\n%s", diff)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("requests the service would refuse: %v", v)
	}
}

// TestEdgeSyncTemplateGrantsWhatTheCodeCalls: the edge sync's KeyValueStore policy grants
// exactly the operations of the KeyValueStore adapter's client (what the code can call), and the function is started
// by the state table's stream and by the reconcile schedule.
func TestEdgeSyncTemplateGrantsWhatTheCodeCalls(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	fn := edgeNode(doc.Content[0], "Resources", "EdgeSyncFunction", "Properties")
	if fn == nil {
		t.Fatal("template.yaml has no Resources.EdgeSyncFunction.Properties")
	}
	// The function's statements, or its own role's (Role: !GetAtt <role>.Arn).
	policies, statement := edgeNode(fn, "Policies"), []string{"Statement"}
	if role := edgeNode(fn, "Role"); role != nil {
		policies = edgeNode(doc.Content[0], "Resources", strings.TrimSuffix(role.Value, ".Arn"), "Properties", "Policies")
		statement = []string{"PolicyDocument", "Statement"}
	}
	var granted []string
	for _, p := range edgeContent(policies) {
		for _, s := range edgeContent(edgeNode(p, statement...)) {
			if sid := edgeNode(s, "Sid"); sid == nil || sid.Value != "EdgeKeyValueStore" {
				continue
			}
			for _, a := range edgeContent(edgeNode(s, "Action")) {
				granted = append(granted, a.Value)
			}
		}
	}
	var called []string
	api := reflect.TypeFor[awskvs.Client]() // every call the adapter makes
	for i := range api.NumMethod() {
		called = append(called, "cloudfront-keyvaluestore:"+api.Method(i).Name)
	}
	slices.Sort(granted)
	if diff := cmp.Diff(called, granted); diff != "" {
		t.Errorf("KeyValueStore actions (-kvs.Client +granted):\n%s", diff)
	}

	kinds := map[string]string{}
	events := edgeContent(edgeNode(fn, "Events"))
	for i := 0; i+1 < len(events); i += 2 {
		if typ := edgeNode(events[i+1], "Type"); typ != nil {
			kinds[events[i].Value] = typ.Value
		}
	}
	if diff := cmp.Diff(map[string]string{"StateStream": "DynamoDB", "Reconcile": "Schedule"}, kinds); diff != "" {
		t.Errorf("EdgeSyncFunction events (-want +got):\n%s", diff)
	}
	schedule := edgeNode(fn, "Events", "Reconcile", "Properties", "Schedule")
	if schedule == nil || schedule.Tag != "!Sub" || schedule.Value != "rate(${EdgeReconcileMinutes} minutes)" {
		t.Errorf("reconcile schedule %+v, want !Sub rate(${EdgeReconcileMinutes} minutes)", schedule)
	}
	param := edgeNode(doc.Content[0], "Parameters", "EdgeReconcileMinutes", "MinValue")
	if param == nil || param.Value != "2" {
		t.Errorf("EdgeReconcileMinutes MinValue %+v, want 2 (rate(1 minutes) is not a valid expression)", param)
	}
}

// edgeContent returns a node's children, none for a missing node.
func edgeContent(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	return n.Content
}

// edgeNode follows mapping keys from n; nil when one is missing.
func edgeNode(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n == nil {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// opCounter counts the requests a client sends, by the operation op names.
type opCounter struct {
	base http.RoundTripper
	op   func(*http.Request) string
	mu   sync.Mutex
	ops  map[string]int
}

func (c *opCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.ops == nil {
		c.ops = map[string]int{}
	}
	c.ops[c.op(r)]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *opCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ops)
}

// diffCounts returns after - before, without the operations that did not change.
func diffCounts(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for op, n := range after {
		if d := n - before[op]; d != 0 {
			out[op] = d
		}
	}
	return out
}
