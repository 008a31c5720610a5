package cloudformation_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/aws/cloudformation"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// outputsTemplate is a stack with the given outputs: one SNS topic, because a template needs a
// resource. StateReplicaRegions is a String here: moto answers a CommaDelimitedList parameter's
// value as a Python list ("['a', 'b']"), where CloudFormation answers "a,b".
func outputsTemplate(t *testing.T, outputs map[string]string) string {
	t.Helper()
	tmpl := map[string]any{
		"Parameters": map[string]any{"StateReplicaRegions": map[string]any{"Type": "String", "Default": ""}},
		"Resources":  map[string]any{"Topic": map[string]any{"Type": "AWS::SNS::Topic"}},
	}
	out := map[string]any{}
	for k, v := range outputs {
		out[k] = map[string]any{"Value": v}
	}
	tmpl["Outputs"] = out
	b, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDescribe reads stacks that moto_server created, in two regions, over CloudFormation's
// query protocol.
func TestDescribe(t *testing.T) {
	endpoint := testenv.Moto(t, "the CloudFormation adapter")
	client := awscfn.NewFromConfig(motoclient.Config(endpoint))
	ctx := context.Background()
	for region, outputs := range map[string]map[string]string{
		"eu-west-1": {"MasterDistributionId": "E2EXAMPLE", "MasterPlaylistBucketDomain": "cvs-master-123456789012-eu-west-1.s3.eu-west-1.amazonaws.com"},
		"us-east-1": {"MasterPlaylistBucketDomain": "cvs-master-123456789012-us-east-1.s3.us-east-1.amazonaws.com"},
	} {
		if _, err := client.CreateStack(ctx, &awscfn.CreateStackInput{StackName: aws.String("cvs"), TemplateBody: aws.String(outputsTemplate(t, outputs)),
			Parameters: []cfntypes.Parameter{{ParameterKey: aws.String("StateReplicaRegions"), ParameterValue: aws.String("us-east-1,ap-northeast-1")}}},
			func(o *awscfn.Options) { o.Region = region }); err != nil {
			t.Fatalf("create stack in %s: %v", region, err)
		}
	}
	stacks := cloudformation.New(client)
	tests := []struct {
		name, region, stack string
		want                cloudformation.Stack
		wantErr             error
	}{
		{"outputs and parameters of one region", "eu-west-1", "cvs", cloudformation.Stack{Name: "cvs", Region: "eu-west-1", Status: "CREATE_COMPLETE",
			Parameters: map[string]string{"StateReplicaRegions": "us-east-1,ap-northeast-1"},
			Outputs:    map[string]string{"MasterDistributionId": "E2EXAMPLE", "MasterPlaylistBucketDomain": "cvs-master-123456789012-eu-west-1.s3.eu-west-1.amazonaws.com"}}, nil},
		{"the same name in another region is another stack", "us-east-1", "cvs", cloudformation.Stack{Name: "cvs", Region: "us-east-1", Status: "CREATE_COMPLETE",
			Parameters: map[string]string{"StateReplicaRegions": "us-east-1,ap-northeast-1"},
			Outputs:    map[string]string{"MasterPlaylistBucketDomain": "cvs-master-123456789012-us-east-1.s3.us-east-1.amazonaws.com"}}, nil},
		{"a region without the stack", "ap-northeast-1", "cvs", cloudformation.Stack{}, cloudformation.ErrStackNotFound},
		{"a name never deployed", "eu-west-1", "other", cloudformation.Stack{}, cloudformation.ErrStackNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stacks.Describe(ctx, tt.region, tt.stack)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Describe = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stack (-want +got):\n%s", diff)
			}
		})
	}
}
