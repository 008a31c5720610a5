// Package kvs reads and writes a CloudFront KeyValueStore: the adapter behind edgekv.Store,
// which maps the service's not-found and conflict answers to edgekv's errors.
package kvs

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	kvstypes "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore/types"

	"github.com/clustered-video-streams/cvs/internal/edgekv"
)

var _ edgekv.Store = (*Store)(nil)

// Client is the part of *cloudfrontkeyvaluestore.Client the adapter calls.
type Client interface {
	DescribeKeyValueStore(ctx context.Context, in *awskvs.DescribeKeyValueStoreInput, optFns ...func(*awskvs.Options)) (*awskvs.DescribeKeyValueStoreOutput, error)
	GetKey(ctx context.Context, in *awskvs.GetKeyInput, optFns ...func(*awskvs.Options)) (*awskvs.GetKeyOutput, error)
	UpdateKeys(ctx context.Context, in *awskvs.UpdateKeysInput, optFns ...func(*awskvs.Options)) (*awskvs.UpdateKeysOutput, error)
	ListKeys(ctx context.Context, in *awskvs.ListKeysInput, optFns ...func(*awskvs.Options)) (*awskvs.ListKeysOutput, error)
}

// Store is one KeyValueStore, by ARN, through a client the caller built (SigV4A-capable, as
// the service requires).
type Store struct {
	Client Client
	ARN    string
}

// New returns the store arn through c.
func New(c Client, arn string) *Store { return &Store{Client: c, ARN: arn} }

// Describe returns the store's ETag and item count.
func (s *Store) Describe(ctx context.Context) (edgekv.Description, error) {
	out, err := s.Client.DescribeKeyValueStore(ctx, &awskvs.DescribeKeyValueStoreInput{KvsARN: aws.String(s.ARN)})
	if err != nil {
		return edgekv.Description{}, fmt.Errorf("describe key value store: %w", mapError(err))
	}
	if out.ETag == nil {
		return edgekv.Description{}, errors.New("describe key value store returned no ETag")
	}
	return edgekv.Description{ETag: *out.ETag, ItemCount: int(aws.ToInt32(out.ItemCount))}, nil
}

// Get returns the value of key, or edgekv.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (string, error) {
	out, err := s.Client.GetKey(ctx, &awskvs.GetKeyInput{KvsARN: aws.String(s.ARN), Key: aws.String(key)})
	if err != nil {
		return "", fmt.Errorf("get key %s: %w", key, mapError(err))
	}
	return aws.ToString(out.Value), nil
}

// List returns one page of up to edgekv.PageSize entries.
func (s *Store) List(ctx context.Context, token string) (edgekv.Page, error) {
	in := &awskvs.ListKeysInput{KvsARN: aws.String(s.ARN), MaxResults: aws.Int32(edgekv.PageSize)}
	if token != "" {
		in.NextToken = aws.String(token)
	}
	out, err := s.Client.ListKeys(ctx, in)
	if err != nil {
		return edgekv.Page{}, fmt.Errorf("list keys: %w", mapError(err))
	}
	p := edgekv.Page{Next: aws.ToString(out.NextToken), Items: make([]edgekv.Item, 0, len(out.Items))}
	for _, it := range out.Items {
		p.Items = append(p.Items, edgekv.Item{Key: aws.ToString(it.Key), Value: aws.ToString(it.Value)})
	}
	return p, nil
}

// Update writes puts and deletes against ifMatch in one UpdateKeys request.
func (s *Store) Update(ctx context.Context, ifMatch string, writes []edgekv.Write) (string, error) {
	if len(writes) == 0 || len(writes) > edgekv.MaxWrites {
		return "", fmt.Errorf("update %d keys: one update carries 1 to %d: %w", len(writes), edgekv.MaxWrites, edgekv.ErrInvalid)
	}
	in := &awskvs.UpdateKeysInput{KvsARN: aws.String(s.ARN), IfMatch: aws.String(ifMatch)}
	for _, w := range writes {
		if w.Delete {
			in.Deletes = append(in.Deletes, kvstypes.DeleteKeyRequestListItem{Key: aws.String(w.Key)})
		} else {
			in.Puts = append(in.Puts, kvstypes.PutKeyRequestListItem{Key: aws.String(w.Key), Value: aws.String(w.Value)})
		}
	}
	out, err := s.Client.UpdateKeys(ctx, in)
	if err != nil {
		return "", fmt.Errorf("update %d keys, delete %d: %w", len(in.Puts), len(in.Deletes), mapError(err))
	}
	if out.ETag == nil {
		return "", errors.New("update keys returned no ETag")
	}
	return *out.ETag, nil
}

// mapError turns the service's answers callers act on into edgekv's errors, keeping the
// SDK's error in the chain for logs.
func mapError(err error) error {
	var notFound *kvstypes.ResourceNotFoundException
	var conflict *kvstypes.ConflictException
	var invalid *kvstypes.ValidationException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: %w", edgekv.ErrNotFound, err)
	case errors.As(err, &conflict):
		return fmt.Errorf("%w: %w", edgekv.ErrConflict, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("%w: %w", edgekv.ErrInvalid, err)
	}
	return err
}
