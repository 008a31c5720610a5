package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableDescriber is the DynamoDB call StreamFinder needs (*dynamodb.Client in Lambda).
type TableDescriber interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// StreamFinder looks up a table's stream for the tablestream custom resource.
type StreamFinder struct{ Client TableDescriber }

// StreamARN returns the latest stream ARN of table in the client's region. A missing table or a
// table without a NEW_AND_OLD_IMAGES stream is an error that says what to deploy first.
func (f StreamFinder) StreamARN(ctx context.Context, table string) (string, error) {
	out, err := f.Client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var missing *types.ResourceNotFoundException
	if errors.As(err, &missing) {
		return "", fmt.Errorf("no replica of table %s in this region: add the region to StateReplicaRegions of the control region's stack and deploy it first", table)
	}
	if err != nil {
		return "", fmt.Errorf("describe table %s: %w", table, err)
	}
	t := out.Table
	arn := aws.ToString(t.LatestStreamArn)
	if arn == "" || t.StreamSpecification == nil || !aws.ToBool(t.StreamSpecification.StreamEnabled) {
		return "", fmt.Errorf("table %s has no stream in this region: it is not the state table the control region's stack creates", table)
	}
	if v := t.StreamSpecification.StreamViewType; v != types.StreamViewTypeNewAndOldImages {
		return "", fmt.Errorf("table %s streams %s, want %s: it is not the state table the control region's stack creates", table, v, types.StreamViewTypeNewAndOldImages)
	}
	return arn, nil
}
