package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// deployedStack is a stack moto_server holds: the replicas parameter and the outputs deploy-plan reads.
type deployedStack struct {
	region, replicas string
	outputs          map[string]string
}

// regionOutputs are what template.yaml's stack answers in region (edge and master
// distribution only where created, as in the control region).
func regionOutputs(region string, control bool) map[string]string {
	out := map[string]string{"MasterPlaylistBucketDomain": fmt.Sprintf("cvs-master-123456789012-%s.s3.%s.amazonaws.com", region, region)}
	if control {
		out["EdgeKeyValueStoreArn"] = "arn:aws:cloudfront::123456789012:key-value-store/0f2b1c3d"
		out["MasterDistributionId"] = "E2QWRUHEXAMPLE"
	}
	return out
}

// createStacks creates the stacks on moto_server under name, with a template whose outputs
// are given literally (one SNS topic, because a template needs a resource). StateReplicaRegions
// is a String: moto answers a CommaDelimitedList's value as a Python list.
func createStacks(t *testing.T, client *awscfn.Client, name string, stacks []deployedStack) {
	t.Helper()
	for _, s := range stacks {
		outputs := map[string]any{}
		for k, v := range s.outputs {
			outputs[k] = map[string]any{"Value": v}
		}
		body, err := json.Marshal(map[string]any{
			"Parameters": map[string]any{"StateReplicaRegions": map[string]any{"Type": "String", "Default": ""}},
			"Resources":  map[string]any{"Topic": map[string]any{"Type": "AWS::SNS::Topic"}},
			"Outputs":    outputs,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.CreateStack(context.Background(), &awscfn.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(string(body)),
			Parameters: []cfntypes.Parameter{{ParameterKey: aws.String("StateReplicaRegions"), ParameterValue: aws.String(s.replicas)}}},
			func(o *awscfn.Options) { o.Region = s.region }); err != nil {
			t.Fatalf("create stack %s in %s: %v", name, s.region, err)
		}
	}
}

// TestDeployPlan runs cvsctl deploy-plan against stacks held by moto_server, which answers
// DescribeStacks over CloudFormation's query protocol as CloudFormation does.
func TestDeployPlan(t *testing.T) {
	moto := testenv.Moto(t, "cvsctl deploy-plan")
	testenv.OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL_CLOUDFORMATION": moto})
	client := awscfn.NewFromConfig(motoclient.Config(moto))
	const (
		kvs  = "arn:aws:cloudfront::123456789012:key-value-store/0f2b1c3d"
		euB  = "cvs-master-123456789012-eu-west-1.s3.eu-west-1.amazonaws.com"
		usB  = "cvs-master-123456789012-us-east-1.s3.us-east-1.amazonaws.com"
		apB  = "cvs-master-123456789012-ap-northeast-1.s3.ap-northeast-1.amazonaws.com"
		usDo = "sam deploy --config-env us-east-1 --parameter-overrides ControlRegion=eu-west-1 EdgeKeyValueStoreArn=" + kvs + " MasterDistributionId=E2QWRUHEXAMPLE "
	)
	tests := []struct {
		name     string
		stacks   []deployedStack
		regions  []string
		wantCode int
		want     string // stdout
		wantErr  string // in stderr
	}{
		{name: "nothing deployed: the control region's stack first, with every replica", regions: []string{"eu-west-1", "us-east-1", "ap-northeast-1"},
			want: "# 1. eu-west-1: create the control region's stack: the state table, the edge and the master distribution\n" +
				`sam deploy --config-env eu-west-1 --parameter-overrides ControlRegion=eu-west-1 'StateReplicaRegions="us-east-1,ap-northeast-1"'` + "\n" +
				"# run cvsctl deploy-plan again once it is CREATE_COMPLETE: the other regions need its outputs\n"},
		{name: "control region deployed: the second region gets its outputs",
			stacks:  []deployedStack{{"eu-west-1", "us-east-1", regionOutputs("eu-west-1", true)}},
			regions: []string{"eu-west-1", "us-east-1"},
			want: "# 1. us-east-1: deploy us-east-1 with the control region's outputs\n" +
				usDo + "PeerMasterBucketDomains=" + euB + "\n" +
				"# not deployed yet: us-east-1; run cvsctl deploy-plan again after their deploys for the control region's update with their master buckets\n"},
		{name: "both deployed: then the control region's update with the peer's bucket",
			stacks:  []deployedStack{{"eu-west-1", "us-east-1", regionOutputs("eu-west-1", true)}, {"us-east-1", "", regionOutputs("us-east-1", false)}},
			regions: []string{"eu-west-1", "us-east-1"},
			want: "# 1. us-east-1: update us-east-1 with the other regions' outputs\n" +
				usDo + "PeerMasterBucketDomains=" + euB + "\n" +
				"# 2. eu-west-1: update the control region with the other regions' master buckets (the master distribution's origin group)\n" +
				"sam deploy --config-env eu-west-1 --parameter-overrides ControlRegion=eu-west-1 PeerMasterBucketDomains=" + usB + " StateReplicaRegions=us-east-1\n"},
		{name: "adding a region: one replica per control update, then every region's peers",
			stacks: []deployedStack{{"eu-west-1", "us-east-1", regionOutputs("eu-west-1", true)}, {"us-east-1", "", regionOutputs("us-east-1", false)},
				{"ap-northeast-1", "", regionOutputs("ap-northeast-1", false)}},
			regions: []string{"eu-west-1", "us-east-1", "ap-northeast-1"},
			want: "# 1. eu-west-1: add ap-northeast-1's replica of the state table (one replica per update)\n" +
				`sam deploy --config-env eu-west-1 --parameter-overrides ControlRegion=eu-west-1 'PeerMasterBucketDomains="` + usB + "," + apB + `"' 'StateReplicaRegions="us-east-1,ap-northeast-1"'` + "\n" +
				"# 2. us-east-1: update us-east-1 with the other regions' outputs\n" +
				usDo + `'PeerMasterBucketDomains="` + euB + "," + apB + `"'` + "\n" +
				"# 3. ap-northeast-1: update ap-northeast-1 with the other regions' outputs\n" +
				"sam deploy --config-env ap-northeast-1 --parameter-overrides ControlRegion=eu-west-1 EdgeKeyValueStoreArn=" + kvs + " MasterDistributionId=E2QWRUHEXAMPLE " +
				`'PeerMasterBucketDomains="` + euB + "," + usB + `"'` + "\n" +
				"# 4. eu-west-1: update the control region with the other regions' master buckets (the master distribution's origin group)\n" +
				`sam deploy --config-env eu-west-1 --parameter-overrides ControlRegion=eu-west-1 'PeerMasterBucketDomains="` + usB + "," + apB + `"' 'StateReplicaRegions="us-east-1,ap-northeast-1"'` + "\n"},
		{name: "one region: nothing to deploy once it exists",
			stacks: []deployedStack{{"eu-west-1", "", regionOutputs("eu-west-1", true)}}, regions: []string{"eu-west-1"},
			want: "# nothing to deploy: every stack has the other regions' outputs\n"},
		{name: "a stack of another template is refused, naming the output",
			stacks: []deployedStack{{"eu-west-1", "us-east-1", map[string]string{"Something": "else"}}}, regions: []string{"eu-west-1", "us-east-1"},
			wantCode: exitFailure, wantErr: "has no output EdgeKeyValueStoreArn"},
		{name: "a region name that is not one", regions: []string{"eu-west-1", "Frankfurt"}, wantCode: exitUsage, wantErr: `"Frankfurt" is not an AWS region`},
		{name: "a region given twice", regions: []string{"eu-west-1", "us-east-1", "eu-west-1"}, wantCode: exitUsage, wantErr: "region eu-west-1 is given twice"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("cvs-plan-%d", i)
			createStacks(t, client, name, tt.stacks)
			code, stdout, stderr := runCLI(t, append([]string{"deploy-plan", "--stack-name", name}, tt.regions...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if stdout != tt.want {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tt.want)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.wantErr)
			}
		})
	}
}
