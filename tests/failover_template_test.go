package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// foTemplate reads template.yaml as a YAML tree.
func foTemplate(t *testing.T) *yaml.Node {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// foNode follows path from n, failing the test when a key is missing.
func foNode(t *testing.T, n *yaml.Node, path ...string) *yaml.Node {
	t.Helper()
	for i, p := range path {
		if n = child(n, p); n == nil {
			t.Fatalf("template.yaml has no %v", path[:i+1])
		}
	}
	return n
}

// TestTemplateConfirmJudgesWithTheDetectorsSettings: the Confirm task gets the detector's health
// settings from the very same source (a !Ref to one parameter each), so the two cannot drift.
func TestTemplateConfirmJudgesWithTheDetectorsSettings(t *testing.T) {
	root := foTemplate(t)
	vars := func(fn string) *yaml.Node {
		return foNode(t, root, "Resources", fn, "Properties", "Environment", "Variables")
	}
	detector, confirm := vars("DetectorFunction"), vars("ConfirmFunction")
	for _, name := range []string{health.EnvStaleMultiplier, health.EnvMinFailures, health.EnvVideoTolerance, health.EnvAudioTolerance} {
		d, c := child(detector, name), child(confirm, name)
		switch {
		case d == nil:
			t.Errorf("DetectorFunction does not set %s", name)
		case c == nil:
			t.Errorf("ConfirmFunction does not set %s (the detector sets it to %s %s)", name, d.Tag, d.Value)
		case d.Tag != "!Ref" || c.Tag != d.Tag || c.Value != d.Value:
			t.Errorf("%s: DetectorFunction %s %q, ConfirmFunction %s %q; want both !Ref to one parameter", name, d.Tag, d.Value, c.Tag, c.Value)
		default:
			if foNode(t, root, "Parameters", d.Value) == nil {
				t.Errorf("%s refers to no parameter %s", name, d.Value)
			}
		}
	}
}

// TestTemplateTriggerKeepsWhatItCannotStart: the trigger's failed deliveries go to an SQS queue
// (its on-failure destination, whose URL it also gets for what no retry mends), an alarm watches
// that queue and notifies a topic CloudWatch can publish to (not one encrypted with the AWS
// managed alias/aws/sns key), and the stack outputs the queue.
func TestTemplateTriggerKeepsWhatItCannotStart(t *testing.T) {
	root := foTemplate(t)
	resources := foNode(t, root, "Resources")
	fn := foNode(t, resources, "TriggerFunction", "Properties")
	onFailure := foNode(t, fn, "EventInvokeConfig", "DestinationConfig", "OnFailure")
	if typ := foNode(t, onFailure, "Type"); typ.Value != "SQS" {
		t.Errorf("on-failure destination type %q, want SQS (SAM then grants sqs:SendMessage on it)", typ.Value)
	}
	dest := foNode(t, onFailure, "Destination")
	queue, ok := strings.CutSuffix(dest.Value, ".Arn")
	if dest.Tag != "!GetAtt" || !ok {
		t.Fatalf("on-failure destination %s %q, want !GetAtt <queue>.Arn", dest.Tag, dest.Value)
	}
	if typ := foNode(t, resources, queue, "Type"); typ.Value != "AWS::SQS::Queue" {
		t.Fatalf("%s is a %s, want an AWS::SQS::Queue", queue, typ.Value)
	}
	if retries := foNode(t, fn, "EventInvokeConfig", "MaximumRetryAttempts"); retries.Value != "2" {
		t.Errorf("MaximumRetryAttempts %s, want 2", retries.Value)
	}
	if url := foNode(t, fn, "Environment", "Variables", "DEAD_LETTER_QUEUE_URL"); url.Tag != "!Ref" || url.Value != queue {
		t.Errorf("DEAD_LETTER_QUEUE_URL %s %q, want !Ref %s", url.Tag, url.Value, queue)
	}

	var alarms int
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, r := resources.Content[i].Value, resources.Content[i+1]
		if foNode(t, r, "Type").Value != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := foNode(t, r, "Properties")
		dims := child(p, "Dimensions")
		if dims == nil {
			continue // a metric of the product's own (PlaylistTooLargeAlarm), not a queue's
		}
		watches := false
		for _, d := range dims.Content {
			if v := child(d, "Value"); child(d, "Name").Value == "QueueName" && v.Tag == "!GetAtt" && v.Value == queue+".QueueName" {
				watches = true
			}
		}
		if !watches {
			continue
		}
		alarms++
		if m := foNode(t, p, "MetricName").Value; m != "ApproximateNumberOfMessagesVisible" {
			t.Errorf("%s watches %s, want ApproximateNumberOfMessagesVisible", name, m)
		}
		if th, op := foNode(t, p, "Threshold").Value, foNode(t, p, "ComparisonOperator").Value; th != "0" || op != "GreaterThanThreshold" {
			t.Errorf("%s fires when %s %s, want GreaterThanThreshold 0 (one message is one lost workflow)", name, op, th)
		}
		actions := foNode(t, p, "AlarmActions")
		if len(actions.Content) == 0 {
			t.Errorf("%s notifies nobody", name)
		}
		for _, a := range actions.Content {
			if a.Tag != "!Ref" || foNode(t, resources, a.Value, "Type").Value != "AWS::SNS::Topic" {
				t.Errorf("%s action %s %q is not a topic of the stack", name, a.Tag, a.Value)
				continue
			}
			if k := child(foNode(t, resources, a.Value, "Properties"), "KmsMasterKeyId"); k != nil && k.Value == "alias/aws/sns" {
				t.Errorf("%s notifies %s, encrypted with alias/aws/sns: CloudWatch cannot publish to it", name, a.Value)
			}
		}
	}
	if alarms != 1 {
		t.Errorf("%d alarms on %s, want 1", alarms, queue)
	}
	var output bool
	outputs := foNode(t, root, "Outputs")
	for i := 1; i < len(outputs.Content); i += 2 {
		if v := child(outputs.Content[i], "Value"); v != nil && v.Tag == "!Ref" && v.Value == queue {
			output = true
		}
	}
	if !output {
		t.Errorf("no output gives %s", queue)
	}
}
