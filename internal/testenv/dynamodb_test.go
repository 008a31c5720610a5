package testenv

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestDynamoDBLocalStateTable starts DynamoDB Local and checks the state table has the
// template's shape: key schema, stream with both images, TTL on expires_at.
func TestDynamoDBLocalStateTable(t *testing.T) {
	d := DynamoDB(t)
	name := d.StateTable(t)
	ctx := context.Background()
	c := d.Client("eu-west-1")
	desc, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	tbl := desc.Table
	var keys []string
	for _, k := range tbl.KeySchema {
		keys = append(keys, aws.ToString(k.AttributeName)+"/"+string(k.KeyType))
	}
	if got, want := len(keys), 2; got != want || keys[0] != "cluster/HASH" || keys[1] != "domain/RANGE" {
		t.Errorf("key schema = %v, want [cluster/HASH domain/RANGE]", keys)
	}
	if s := tbl.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) || s.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Errorf("stream = %+v, want NEW_AND_OLD_IMAGES", s)
	}
	if tbl.LatestStreamArn == nil {
		t.Errorf("no stream ARN")
	}
	ttl, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "expires_at" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TTL = %+v, want enabled on expires_at", d)
	}
}
