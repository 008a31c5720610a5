// Package tablestream is the CloudFormation custom resource that gives a stack outside the
// control region the stream ARN of its region's replica of the state table, which CloudFormation
// cannot look up (the global table belongs to the control region's stack).
package tablestream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PropertyTableName is the custom resource's property naming the table; AttributeStreamArn is
// the attribute (Fn::GetAtt) it answers with.
const (
	PropertyTableName  = "TableName"
	AttributeStreamArn = "StreamArn"
)

// Describer is the DynamoDB call the lookup needs (*dynamodb.Client in Lambda).
type Describer interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// StreamARN returns the latest stream ARN of table in db's region. A missing table or a table
// without a NEW_AND_OLD_IMAGES stream is an error that says what to deploy first.
func StreamARN(ctx context.Context, db Describer, table string) (string, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
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

// Handler answers the custom resource's requests: Create and Update look the stream up (its
// ARN is the physical ID and the StreamArn attribute), Delete changes nothing.
func Handler(db Describer, log *slog.Logger) cfn.CustomResourceFunction {
	return func(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
		if ev.RequestType == cfn.RequestDelete {
			return ev.PhysicalResourceID, nil, nil
		}
		table, _ := ev.ResourceProperties[PropertyTableName].(string)
		if table == "" {
			err := fmt.Errorf("tablestream: property %s (the state table's name) is required", PropertyTableName)
			log.Error("tablestream: refused", "logical_id", ev.LogicalResourceID, "error", err)
			return "", nil, err
		}
		arn, err := StreamARN(ctx, db, table)
		if err != nil {
			log.Error("tablestream: lookup failed", "logical_id", ev.LogicalResourceID, "table", table, "error", err)
			return "", nil, err
		}
		log.Info("tablestream: found", "table", table, "stream_arn", arn, "request", string(ev.RequestType))
		return arn, map[string]any{AttributeStreamArn: arn}, nil
	}
}
