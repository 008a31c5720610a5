package api_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestOpenDuringControlRegionOutage reopens an instance through the API while the control
// region's replica is unreachable (a closed port) and this region's is DynamoDB Local: an open
// is refused with 503 and writes nothing, a forced open falls back and is audited as such.
func TestOpenDuringControlRegionOutage(t *testing.T) {
	d := testenv.DynamoDB(t)
	table := d.StateTable(t)
	local := d.Client("eu-west-1")
	healthy, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "eu-west-1", Control: local})
	if err != nil {
		t.Fatal(err)
	}
	testenv.FreshInstances(t, healthy, cluster, "eu-west-1", d1, d2)
	if _, err := healthy.Close(ctx, cluster, d1, state.Change{By: seeder, Reason: "encoder maintenance"}); err != nil {
		t.Fatal(err)
	}
	dead := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), RetryMaxAttempts: 1,
	})
	st, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "us-east-1", Control: dead, Local: local, ControlTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lambda := api.LambdaHandler(api.New(api.Options{Store: st, Logger: slog.New(slog.DiscardHandler)}))
	for _, tc := range []struct {
		name, event string
		wantStatus  int
		wantOpen    bool
	}{
		{"an open is refused while the control region is down", "open", http.StatusServiceUnavailable, false},
		{"a forced open falls back to this region's replica", "open-force", http.StatusOK, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := lambda(ctx, loadEvent(t, tc.event))
			if err != nil || resp.StatusCode != tc.wantStatus {
				t.Fatalf("POST open: %d %s %v, want %d", resp.StatusCode, resp.Body, err, tc.wantStatus)
			}
			inst, err := healthy.Instance(ctx, cluster, d1)
			if err != nil || inst.Open != tc.wantOpen {
				t.Fatalf("d1 open = %v (%v), want %v", inst.Open, err, tc.wantOpen)
			}
			page, err := healthy.History(ctx, state.HistoryQuery{Cluster: cluster, Domain: d1, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			r := page.Records[0]
			if tc.wantOpen && (r.After != "true" || !r.Force || !r.Fallback || r.By != alice) {
				t.Fatalf("newest record = %+v, want an open by alice, forced, fallback", r)
			}
			if !tc.wantOpen && r.After != "false" {
				t.Fatalf("newest record = %+v, want the close from before the outage", r)
			}
		})
	}
}
