package tablestream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/tablestream"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// TestCustomResource runs the handler as Lambda would (cfn.LambdaWrap) against DynamoDB Local,
// and reads what it PUTs to the pre-signed response URL, as CloudFormation does.
func TestCustomResource(t *testing.T) {
	db := testenv.DynamoDB(t)
	client := db.Client("eu-west-1")
	state := db.StateTable(t)
	ctx := context.Background()
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(state)})
	if err != nil {
		t.Fatal(err)
	}
	stream := aws.ToString(desc.Table.LatestStreamArn)
	if !strings.Contains(stream, ":table/"+state+"/stream/") {
		t.Fatalf("DynamoDB Local gave the state table the stream %q", stream)
	}
	plain := "plain-" + state
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(plain),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("cluster"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("cluster"), KeyType: types.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		request    cfn.RequestType
		table      any
		physicalID string
		wantStatus cfn.StatusType
		wantID     string
		wantReason string
	}{
		{name: "create answers the replica's stream", request: cfn.RequestCreate, table: state, wantStatus: cfn.StatusSuccess, wantID: stream},
		{name: "update answers it again", request: cfn.RequestUpdate, table: state, physicalID: stream, wantStatus: cfn.StatusSuccess, wantID: stream},
		{name: "no replica in this region", request: cfn.RequestCreate, table: "cvs-state-nowhere", wantStatus: cfn.StatusFailed, wantReason: "StateReplicaRegions"},
		{name: "a table without a stream", request: cfn.RequestCreate, table: plain, wantStatus: cfn.StatusFailed, wantReason: "has no stream"},
		{name: "no table name", request: cfn.RequestCreate, table: nil, wantStatus: cfn.StatusFailed, wantReason: "property TableName"},
		{name: "a table name that is not a string", request: cfn.RequestCreate, table: 7, wantStatus: cfn.StatusFailed, wantReason: "property TableName"},
		{name: "delete changes nothing", request: cfn.RequestDelete, table: "cvs-state-nowhere", physicalID: stream, wantStatus: cfn.StatusSuccess, wantID: stream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got cfn.Response
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPut {
					t.Errorf("response sent with %s, want PUT", r.Method)
				}
				b, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(b, &got); err != nil {
					t.Errorf("response %q: %v", b, err)
				}
			}))
			defer srv.Close()
			props := map[string]any{"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:f"}
			if tt.table != nil {
				props[tablestream.PropertyTableName] = tt.table
			}
			ev := cfn.Event{RequestType: tt.request, RequestID: "r-1", ResponseURL: srv.URL + "/presigned",
				StackID: "arn:aws:cloudformation:eu-west-1:123456789012:stack/cvs/1", LogicalResourceID: "LocalStateStream",
				PhysicalResourceID: tt.physicalID, ResourceType: "Custom::TableStream", ResourceProperties: props}
			var logs bytes.Buffer
			fn := cfn.LambdaWrap(tablestream.Handler(dynamo.StreamFinder{Client: client}, slog.New(slog.NewJSONHandler(&logs, nil))))
			lctx := lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "a-1"})
			if _, err := fn(lctx, ev); err != nil {
				t.Fatalf("the wrapper failed to answer CloudFormation: %v", err)
			}
			if got.Status != tt.wantStatus {
				t.Fatalf("status %s (reason %q), want %s", got.Status, got.Reason, tt.wantStatus)
			}
			if tt.wantReason != "" && !strings.Contains(got.Reason, tt.wantReason) {
				t.Errorf("reason %q, want it to mention %q", got.Reason, tt.wantReason)
			}
			if tt.wantStatus == cfn.StatusFailed && !strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("a refusal was not logged: %s", logs.String())
			}
			if tt.wantID == "" {
				return
			}
			if got.PhysicalResourceID != tt.wantID {
				t.Errorf("physical ID %q, want %q", got.PhysicalResourceID, tt.wantID)
			}
			if tt.request != cfn.RequestDelete && got.Data[tablestream.AttributeStreamArn] != stream {
				t.Errorf("data %v, want %s = %s", got.Data, tablestream.AttributeStreamArn, stream)
			}
		})
	}
}
