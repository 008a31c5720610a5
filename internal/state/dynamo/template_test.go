package dynamo_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// decodeStateTable prints template.yaml's StateTable as JSON, decoded by cfn-lint's own
// CloudFormation YAML reader (it understands the short-form tags).
const decodeStateTable = `
import json, sys
from cfnlint.decode import decode
tpl, matches = decode(sys.argv[1])
if matches:
    sys.exit("decode: %s" % matches)
json.dump(tpl["Resources"]["StateTable"], sys.stdout)
`

// TestTemplateMatchesTableDefinition keeps the tests' table (dynamo.TableDefinition, created
// in DynamoDB Local) and template.yaml's StateTable the same shape.
func TestTemplateMatchesTableDefinition(t *testing.T) {
	testenv.Command(t, "cfn-lint", "the template's state table check")
	python := testenv.Command(t, "python3", "the template's state table check")
	root := testenv.RepoRoot(t)
	out, err := exec.Command(python, "-c", decodeStateTable, filepath.Join(root, "template.yaml")).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		testenv.Unavailable(t, "python3 cannot read template.yaml with cfn-lint's decoder: "+err.Error()+" "+string(stderr))
	}
	type attr struct{ AttributeName, AttributeType, KeyType string }
	var res struct {
		Type       string
		Properties struct {
			BillingMode             string
			AttributeDefinitions    []attr
			KeySchema               []attr
			StreamSpecification     struct{ StreamViewType string }
			TimeToLiveSpecification struct {
				AttributeName string
				Enabled       bool
			}
			SSESpecification struct{ SSEEnabled bool }
			Replicas         []json.RawMessage
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode StateTable: %v\n%s", err, out)
	}
	def := dynamo.TableDefinition("x")
	var wantAttrs, wantKeys []attr
	for _, a := range def.AttributeDefinitions {
		wantAttrs = append(wantAttrs, attr{AttributeName: aws.ToString(a.AttributeName), AttributeType: string(a.AttributeType)})
	}
	for _, k := range def.KeySchema {
		wantKeys = append(wantKeys, attr{AttributeName: aws.ToString(k.AttributeName), KeyType: string(k.KeyType)})
	}
	p := res.Properties
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"Type", res.Type, "AWS::DynamoDB::GlobalTable"},
		{"AttributeDefinitions", p.AttributeDefinitions, wantAttrs},
		{"KeySchema", p.KeySchema, wantKeys},
		{"BillingMode", p.BillingMode, string(def.BillingMode)},
		{"StreamViewType", p.StreamSpecification.StreamViewType, string(def.StreamSpecification.StreamViewType)},
		{"TTL attribute", p.TimeToLiveSpecification.AttributeName, dynamo.AttrExpiresAt},
		{"TTL enabled", p.TimeToLiveSpecification.Enabled, true},
		{"SSE enabled", p.SSESpecification.SSEEnabled, aws.ToBool(def.SSESpecification.Enabled)},
	} {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("StateTable %s (-TableDefinition +template):\n%s", c.name, diff)
		}
	}
	// Every replica, the control region's and the optional ones behind Fn::If, has PITR.
	if len(p.Replicas) == 0 {
		t.Fatalf("StateTable has no replicas")
	}
	for i, raw := range p.Replicas {
		var r struct {
			PointInTimeRecoverySpecification struct{ PointInTimeRecoveryEnabled bool }
			If                               []json.RawMessage `json:"Fn::If"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		if len(r.If) == 3 {
			if err := json.Unmarshal(r.If[1], &r); err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
		}
		if !r.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled {
			t.Errorf("replica %d has no point-in-time recovery: %s", i, raw)
		}
	}
}
