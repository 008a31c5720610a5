package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// OpenLocal returns a store on table in the DynamoDB (Local) at endpoint, with dummy static
// credentials, creating the table as template.yaml defines it when it does not exist: the state
// store of `cvsctl local --dynamodb-endpoint`.
func OpenLocal(ctx context.Context, endpoint, table string) (*Store, error) {
	const region = "us-east-1"
	client := dynamodb.New(dynamodb.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var missing *types.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		if err := CreateTable(ctx, client, table); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("state table %s at %s: %w", table, endpoint, err)
	}
	return New(Config{Table: table, ControlRegion: region, Control: client})
}
