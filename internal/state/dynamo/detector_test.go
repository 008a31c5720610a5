package dynamo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/detector/detectortest"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

var _ detector.MemoryStore = (*dynamo.Store)(nil)

func TestDetectorMemoryContract(t *testing.T) {
	detectortest.RunMemoryContract(t, func(t *testing.T) (state.Store, detector.MemoryStore) {
		s := newStore(t, nil)
		return s, s
	})
}

// TestDetectorMemoryOnTheInstanceItem checks where the memory lives: two attributes of the
// instance's item, the document as a string, read back as written; and that the registry entry
// and bytes that are not text are refused.
func TestDetectorMemoryOnTheInstanceItem(t *testing.T) {
	d := db.Get(t)
	client := d.Client("eu-west-1")
	table := d.StateTable(t)
	s, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "eu-west-1", Control: client})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Register(ctx, state.Registration{Cluster: "news", Domain: "d1.example.com", Region: "eu-west-1",
		DistributionPlaylistURL: "https://d1.example.com/index.m3u8", OriginPlaylistURL: "https://origin.example.com/index.m3u8"},
		state.Change{By: "local:test"}); err != nil {
		t.Fatal(err)
	}
	doc := `{"v":1,"seq":1700000000000,"note":"é"}`
	if _, err := s.SaveDetector(ctx, "news", "d1.example.com", []byte(doc), 0); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"cluster": &types.AttributeValueMemberS{Value: "news"}, "domain": &types.AttributeValueMemberS{Value: "d1.example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := out.Item[dynamo.AttrDetector].(*types.AttributeValueMemberS); !ok || got.Value != doc {
		t.Errorf("item %s = %#v, want the string %s", dynamo.AttrDetector, out.Item[dynamo.AttrDetector], doc)
	}
	if got, ok := out.Item[dynamo.AttrDetectorRev].(*types.AttributeValueMemberN); !ok || got.Value != "1" {
		t.Errorf("item %s = %#v, want the number 1", dynamo.AttrDetectorRev, out.Item[dynamo.AttrDetectorRev])
	}
	// The cluster's registry entry is not an instance: its key is refused before any read.
	if _, _, err := s.LoadDetector(ctx, dynamo.RegistryPartition, "news"); !errors.Is(err, state.ErrInvalid) {
		t.Errorf("LoadDetector of the registry entry: %v, want ErrInvalid", err)
	}
	if _, err := s.SaveDetector(ctx, "news", "d1.example.com", []byte{0xff, 0xfe}, 1); !errors.Is(err, state.ErrInvalid) {
		t.Errorf("SaveDetector of bytes that are not UTF-8: %v, want ErrInvalid", err)
	}
}
