// Package tablestream is the CloudFormation custom resource that gives a stack outside the
// control region the stream ARN of its region's replica of the state table, which CloudFormation
// cannot look up (the global table belongs to the control region's stack).
package tablestream

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"
)

// PropertyTableName is the custom resource's property naming the table; AttributeStreamArn is
// the attribute (Fn::GetAtt) it answers with.
const (
	PropertyTableName  = "TableName"
	AttributeStreamArn = "StreamArn"
)

// Finder looks up the latest stream ARN of a table in this region (internal/state/dynamo's
// StreamFinder in Lambda). A missing table or one without the state table's stream is an error
// that says what to deploy first.
type Finder interface {
	StreamARN(ctx context.Context, table string) (string, error)
}

// Handler answers the custom resource's requests: Create and Update look the stream up (its
// ARN is the physical ID and the StreamArn attribute), Delete changes nothing.
func Handler(db Finder, log *slog.Logger) cfn.CustomResourceFunction {
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
		arn, err := db.StreamARN(ctx, table)
		if err != nil {
			log.Error("tablestream: lookup failed", "logical_id", ev.LogicalResourceID, "table", table, "error", err)
			return "", nil, err
		}
		log.Info("tablestream: found", "table", table, "stream_arn", arn, "request", string(ev.RequestType))
		return arn, map[string]any{AttributeStreamArn: arn}, nil
	}
}
