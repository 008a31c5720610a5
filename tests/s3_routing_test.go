package tests

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	awss3 "github.com/clustered-video-streams/cvs/internal/aws/s3"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gopkg.in/yaml.v3"

	"github.com/clustered-video-streams/cvs/internal/encoderpair"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// templateValue reads a value of template.yaml by its path, resolving !Sub and !Ref against the
// parameters' defaults, so a test can use the very filters the stack deploys.
func templateValue(t *testing.T, path ...string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	defaults := map[string]string{}
	if params := child(root, "Parameters"); params != nil {
		for i := 0; i+1 < len(params.Content); i += 2 {
			if d := child(params.Content[i+1], "Default"); d != nil {
				defaults[params.Content[i].Value] = d.Value
			}
		}
	}
	n := root
	for _, p := range path {
		if n = child(n, p); n == nil {
			t.Fatalf("template.yaml has no %s", strings.Join(path, "."))
		}
	}
	return plain(t, n, defaults)
}

func child(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var subVar = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)

func plain(t *testing.T, n *yaml.Node, defaults map[string]string) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = plain(t, n.Content[i+1], defaults)
		}
		return m
	case yaml.SequenceNode:
		var s []any
		for _, c := range n.Content {
			s = append(s, plain(t, c, defaults))
		}
		return s
	}
	switch n.Tag {
	case "!Sub":
		return subVar.ReplaceAllStringFunc(n.Value, func(v string) string {
			name := subVar.FindStringSubmatch(v)[1]
			d, ok := defaults[name]
			if !ok {
				t.Fatalf("!Sub %q names %s, which has no default", n.Value, name)
			}
			return d
		})
	case "!Ref":
		return defaults[n.Value]
	}
	return n.Value
}

// TestS3PlaylistRouting deploys the encoder bucket's notifications and the merge function's SNS
// filter policy from template.yaml onto moto (S3 -> SNS -> one SQS queue per function), uploads
// what encoders upload, and checks who hears of what: the merge only of the two masters, the
// sweeper of every playlist, neither of segments nor of the merge's own output, which it then
// writes for real without triggering anything.
func TestS3PlaylistRouting(t *testing.T) {
	endpoint := testenv.Moto(t, "the S3 notification routing test")
	ctx := context.Background()
	cfg := motoclient.Config(endpoint)
	s3c, snsc, sqsc := motoclient.S3(endpoint), sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	const bucket = "cvs-encoder-example"
	motoclient.Bucket(t, s3c, bucket, true)

	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("playlist-events")})
	if err != nil {
		t.Fatal(err)
	}
	queue := func(name string, filter any) string {
		q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
		if err != nil {
			t.Fatal(err)
		}
		sub := map[string]string{}
		if filter != nil {
			b, _ := json.Marshal(filter)
			sub = map[string]string{"FilterPolicy": string(b), "FilterPolicyScope": "MessageBody"}
		}
		if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
			Endpoint: aws.String(attrs.Attributes["QueueArn"]), Attributes: sub}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(q.QueueUrl)
	}
	mergeQ := queue("merge", templateValue(t, "Resources", "MergeFunction", "Properties", "Events", "MasterUploads", "Properties", "FilterPolicy"))
	sweepQ := queue("sweeper", nil)

	var topics []s3types.TopicConfiguration
	for _, c := range templateValue(t, "Resources", "EncoderBucket", "Properties", "NotificationConfiguration", "TopicConfigurations").([]any) {
		var rules []s3types.FilterRule
		for _, r := range c.(map[string]any)["Filter"].(map[string]any)["S3Key"].(map[string]any)["Rules"].([]any) {
			rm := r.(map[string]any)
			rules = append(rules, s3types.FilterRule{Name: s3types.FilterRuleName(rm["Name"].(string)), Value: aws.String(rm["Value"].(string))})
		}
		topics = append(topics, s3types.TopicConfiguration{TopicArn: topic.TopicArn, Events: []s3types.Event{s3types.Event(c.(map[string]any)["Event"].(string))},
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: rules}}})
	}
	if len(topics) != 2 {
		t.Fatalf("template has %d topic configurations, want primary/ and failover/", len(topics))
	}
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{TopicConfigurations: topics}}); err != nil {
		t.Fatal(err)
	}

	// drain returns the object keys of the S3 events waiting in a queue, and the events as the
	// SNS-to-Lambda events the functions receive.
	drain := func(queueURL string) (keys []string, lambdaEvents [][]byte) {
		for {
			out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) == 0 {
				slices.Sort(keys)
				return keys, lambdaEvents
			}
			for _, m := range out.Messages {
				var note struct{ Message string }
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &note); err != nil {
					t.Fatal(err)
				}
				var s3ev struct {
					Records []struct {
						S3 struct{ Object struct{ Key string } }
					}
				}
				if json.Unmarshal([]byte(note.Message), &s3ev) == nil {
					for _, r := range s3ev.Records {
						k, err := url.QueryUnescape(r.S3.Object.Key)
						if err != nil {
							t.Fatal(err)
						}
						keys = append(keys, k)
					}
				}
				ev, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{"EventSource": "aws:sns", "Sns": map[string]any{"Message": note.Message}}}})
				lambdaEvents = append(lambdaEvents, ev)
				sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
			}
		}
	}
	drain(mergeQ)
	drain(sweepQ) // moto's s3:TestEvent

	master, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "encoderpair", "testdata", "master.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	media := []byte("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\ns1.ts\n")
	for key, body := range map[string][]byte{
		"primary/index.m3u8": master, "failover/index.m3u8": master, "primary/index_1.m3u8": media,
		"failover/index_1.m3u8": media, "primary/index_1_00001.ts": []byte("segment"), "other/index.m3u8": master,
	} {
		motoclient.Put(t, s3c, bucket, key, body)
	}
	mergeKeys, mergeEvents := drain(mergeQ)
	if want := []string{"failover/index.m3u8", "primary/index.m3u8"}; !slices.Equal(mergeKeys, want) {
		t.Errorf("merge heard of %v, want %v", mergeKeys, want)
	}
	if sweepKeys, _ := drain(sweepQ); !slices.Equal(sweepKeys, []string{"failover/index.m3u8", "failover/index_1.m3u8", "primary/index.m3u8", "primary/index_1.m3u8"}) {
		t.Errorf("sweeper heard of %v, want the four playlists under primary/ and failover/", sweepKeys)
	}

	// The merge function runs on what it heard, writes index.m3u8 at the root, and nobody hears
	// of that write: the merge can never trigger itself.
	key := templateValue(t, "Parameters", "MergedMasterKey", "Default").(string)
	h, err := encoderpair.New(encoderpair.Config{S3: awss3.New(s3c), Bucket: bucket, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Layout: encoderpair.Layout{PrimaryKey: mergeKeys[1], FailoverKey: mergeKeys[0], OutputKey: key}})
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for _, ev := range mergeEvents {
		out, err := h.HandleEvent(ctx, ev)
		if err != nil {
			t.Fatalf("merge: %v", err)
		}
		if out.Written {
			written++
		}
	}
	if written != 1 {
		t.Errorf("%d writes for two master events of the same masters, want 1 (the second is unchanged)", written)
	}
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if m, err := hls.ParseMaster(body); err != nil || len(m.Variants) != 6 {
		t.Fatalf("merged master: %v, %d variants; want 6", err, len(m.Variants))
	}
	if keys, _ := drain(mergeQ); len(keys) != 0 {
		t.Errorf("writing %s notified the merge of %v", key, keys)
	}
	if keys, _ := drain(sweepQ); len(keys) != 0 {
		t.Errorf("writing %s notified the sweeper of %v", key, keys)
	}
}
