package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// resources calls fn for every resource of the template, by logical ID.
func resources(t *testing.T, root *yaml.Node, fn func(id string, r *yaml.Node)) {
	t.Helper()
	rs := foNode(t, root, "Resources")
	for i := 0; i+1 < len(rs.Content); i += 2 {
		fn(rs.Content[i].Value, rs.Content[i+1])
	}
}

// TestTemplateRetainsWhatViewersAndHistoryNeed: deleting a stack, or a parameter change that
// drops or replaces a resource, must never delete what viewers are served from or the audit
// trail: the state table, the KeyValueStore and copilot, the master distribution and its
// origin access control, and every bucket.
func TestTemplateRetainsWhatViewersAndHistoryNeed(t *testing.T) {
	retained := []string{"AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table", "AWS::CloudFront::KeyValueStore",
		"AWS::CloudFront::Function", "AWS::CloudFront::Distribution", "AWS::CloudFront::OriginAccessControl", "AWS::S3::Bucket"}
	seen := map[string]int{}
	resources(t, foTemplate(t), func(id string, r *yaml.Node) {
		typ := foNode(t, r, "Type").Value
		if !slices.Contains(retained, typ) {
			return
		}
		seen[typ]++
		for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if v := child(r, policy); v == nil || v.Value != "Retain" {
				t.Errorf("%s (%s) has no %s: Retain", id, typ, policy)
			}
		}
	})
	for _, typ := range []string{"AWS::DynamoDB::GlobalTable", "AWS::CloudFront::KeyValueStore", "AWS::CloudFront::Function", "AWS::CloudFront::Distribution", "AWS::S3::Bucket"} {
		if seen[typ] == 0 {
			t.Errorf("the template has no %s: this test looks at nothing", typ)
		}
	}
}

// samconfig reads samconfig.toml: the subset of TOML the SAM CLI writes (tables of bare keys,
// strings, booleans, numbers and one-line arrays of strings), refusing anything else.
func samconfig(t *testing.T) map[string]map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]map[string]any{}
	table := ""
	keyValue := regexp.MustCompile(`^([A-Za-z0-9_-]+)\s*=\s*(.+)$`)
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(line, "[]")
			if _, dup := tables[table]; dup {
				t.Fatalf("samconfig.toml:%d: table [%s] twice", n+1, table)
			}
			tables[table] = map[string]any{}
			continue
		}
		m := keyValue.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("samconfig.toml:%d: %q is not key = value", n+1, line)
		}
		var v any
		switch raw := m[2]; {
		case strings.HasPrefix(raw, `"`):
			s, err := strconv.Unquote(raw)
			if err != nil {
				t.Fatalf("samconfig.toml:%d: %v", n+1, err)
			}
			v = s
		case strings.HasPrefix(raw, "["):
			var list []string
			for _, item := range regexp.MustCompile(`"[^"]*"`).FindAllString(raw, -1) {
				list = append(list, strings.Trim(item, `"`))
			}
			v = list
		case raw == "true" || raw == "false":
			v = raw == "true"
		default:
			if _, err := strconv.ParseFloat(raw, 64); err != nil {
				t.Fatalf("samconfig.toml:%d: value %q", n+1, raw)
			}
			v = raw
		}
		if table == "" {
			tables[""] = map[string]any{m[1]: v}
			continue
		}
		tables[table][m[1]] = v
	}
	return tables
}

// TestSamconfigHasOneEnvironmentPerRegion: every region deploys from its own environment, with
// its region and ControlRegion; nothing a region's deploy saves can reach another's; builds
// are never cached.
func TestSamconfigHasOneEnvironmentPerRegion(t *testing.T) {
	cfg := samconfig(t)
	params := foNode(t, foTemplate(t), "Parameters")
	if b := cfg["default.build.parameters"]; b == nil || b["cached"] != false {
		t.Errorf("default build parameters %v: want cached = false (SAM keys its cache on the CodeUri folder only)", b)
	}
	for table := range cfg {
		if strings.HasPrefix(table, "default.") && (strings.HasSuffix(table, ".deploy.parameters") || strings.HasSuffix(table, ".global.parameters")) {
			t.Errorf("[%s]: deploy parameters shared by every region (a guided deploy would save one region's answers there)", table)
		}
	}
	controls := map[string]bool{}
	var controlEnv string
	regions := map[string]bool{}
	replicas := map[string]bool{}
	for table, kv := range cfg {
		env, ok := strings.CutSuffix(table, ".deploy.parameters")
		if !ok || env == "default" {
			continue
		}
		t.Run(env, func(t *testing.T) {
			region, _ := kv["region"].(string)
			if region != env {
				t.Errorf("region %q, want the environment's name %q", region, env)
			}
			regions[region] = true
			if kv["stack_name"] == nil || kv["capabilities"] == nil {
				t.Errorf("no stack_name or capabilities: %v", kv)
			}
			overrides := map[string]string{}
			list, _ := kv["parameter_overrides"].([]string)
			for _, o := range list {
				k, v, ok := strings.Cut(o, "=")
				if !ok || child(params, k) == nil {
					t.Errorf("parameter override %q names no template parameter", o)
				}
				overrides[k] = v
			}
			controls[overrides["ControlRegion"]] = true
			if overrides["ControlRegion"] == region {
				controlEnv = env
				for _, r := range strings.Split(overrides["StateReplicaRegions"], ",") {
					replicas[r] = true
				}
			} else if _, ok := overrides["StateReplicaRegions"]; ok {
				t.Errorf("StateReplicaRegions set outside the control region (only its stack reads it)")
			}
			for _, k := range []string{"EdgeKeyValueStoreArn", "MasterDistributionId", "PeerMasterBucketDomains"} {
				if _, ok := overrides[k]; ok {
					t.Errorf("%s is kept in samconfig.toml; it comes from the deployed stacks (cvsctl deploy-plan)", k)
				}
			}
		})
	}
	if len(regions) < 2 {
		t.Fatalf("%d region environments, want one per region of a cluster (at least 2)", len(regions))
	}
	if len(controls) != 1 || controlEnv == "" {
		t.Fatalf("ControlRegion values %v (control environment %q): want one value, a region with its own environment", controls, controlEnv)
	}
	for r := range regions {
		if r != controlEnv && !replicas[r] {
			t.Errorf("region %s has an environment but is not in the control region's StateReplicaRegions", r)
		}
	}
}

// seconds reads a Lambda Timeout (whole seconds) or a Go duration environment value.
func seconds(t *testing.T, n *yaml.Node) time.Duration {
	t.Helper()
	if d, err := time.ParseDuration(n.Value); err == nil {
		return d
	}
	s, err := strconv.Atoi(n.Value)
	if err != nil {
		t.Fatalf("%q is not a duration", n.Value)
	}
	return time.Duration(s) * time.Second
}

// timeout is a function's Timeout, or the Globals' one.
func timeout(t *testing.T, root *yaml.Node, fn string) time.Duration {
	t.Helper()
	if v := child(foNode(t, root, "Resources", fn, "Properties"), "Timeout"); v != nil {
		return seconds(t, v)
	}
	return seconds(t, foNode(t, root, "Globals", "Function", "Timeout"))
}

// detectorReleaseBound is how long a Run may take to release its leases after it stops polling:
// a last publish and health record, then the memory save (two attempts after a conflict), each
// an AWS call with the SDK's retries. The review puts it at about 10 s.
const detectorReleaseBound = 10 * time.Second

// TestTemplateDetectorOverlapsAndReleasesInTime: the minute schedule, RUN_FOR, MARGIN and the
// timeout leave no moment unwatched between two Runs, and no Run is killed while releasing.
func TestTemplateDetectorOverlapsAndReleasesInTime(t *testing.T) {
	root := foTemplate(t)
	fn := foNode(t, root, "Resources", "DetectorFunction", "Properties")
	env := foNode(t, fn, "Environment", "Variables")
	runFor, margin := detector.DefaultRunFor, detector.DefaultMargin
	if v := child(env, "RUN_FOR"); v != nil {
		runFor = seconds(t, v)
	}
	if v := child(env, "MARGIN"); v != nil {
		margin = seconds(t, v)
	}
	limit := timeout(t, root, "DetectorFunction")
	schedule := foNode(t, fn, "Events", "EveryMinute", "Properties", "Schedule").Value
	if schedule != "rate(1 minute)" {
		t.Fatalf("schedule %q; this arithmetic assumes rate(1 minute)", schedule)
	}
	const period = time.Minute
	stop := min(runFor, limit-margin) // Run stops polling at the earlier of the two
	t.Logf("period %s, RUN_FOR %s, timeout %s, MARGIN %s: polls until %s, released by %s at worst", period, runFor, limit, margin, stop, stop+detectorReleaseBound)
	if stop <= period {
		t.Errorf("a Run polls for %s, not past the next Run's start %s later: a gap every minute", stop, period)
	}
	if stop+detectorReleaseBound > limit {
		t.Errorf("a Run stops polling at %s and may release until %s, past its %s timeout: killed while releasing", stop, stop+detectorReleaseBound, limit)
	}
	if margin < detectorReleaseBound {
		t.Errorf("MARGIN %s is shorter than the release (%s): a Run the deadline stops is killed while releasing", margin, detectorReleaseBound)
	}
}

// httpAPIIntegrationLimit is HTTP API's longest integration timeout.
const httpAPIIntegrationLimit = 30 * time.Second

// TestTemplateAPIOutlastsTheMerge: POST /clusters/{cluster}/master waits for the merge
// function, so the API function outlasts it, and answers within HTTP API's 30 s; the merge
// function outlasts one origin fetch.
func TestTemplateAPIOutlastsTheMerge(t *testing.T) {
	root := foTemplate(t)
	api, merge := timeout(t, root, "ApiFunction"), timeout(t, root, "MergeFunction")
	if api >= httpAPIIntegrationLimit {
		t.Errorf("ApiFunction timeout %s: HTTP API gives up at %s, before the function answers", api, httpAPIIntegrationLimit)
	}
	if merge+2*time.Second > api {
		t.Errorf("MergeFunction timeout %s, ApiFunction %s: the API gives up on a merge still running", merge, api)
	}
	if merge <= origin.DefaultTimeout {
		t.Errorf("MergeFunction timeout %s is not longer than one origin fetch (%s)", merge, origin.DefaultTimeout)
	}
}

// iamMatch matches an IAM resource pattern (* and ?) against an ARN.
func iamMatch(pattern, arn string) bool {
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, `\*`, `.*`)
	re = strings.ReplaceAll(re, `\?`, `.`)
	return regexp.MustCompile("^" + re + "$").MatchString(arn)
}

// TestTemplateReadOnlyPolicyMatchesTheReadRoutes: IAM authorizes an HTTP API request on
// <api>/<stage>/<METHOD>/<path> for a method route, while the $default route's requests are
// authorized as <api>/<stage>/$default. So reads need GET routes of their own for
// OperatorApiReadOnlyPolicy (GET/*) to let them through, and no write may match it.
func TestTemplateReadOnlyPolicyMatchesTheReadRoutes(t *testing.T) {
	root := foTemplate(t)
	res := foNode(t, root, "Resources", "OperatorApiReadOnlyPolicy", "Properties", "PolicyDocument", "Statement")
	var patterns []string
	for _, st := range res.Content {
		r := foNode(t, st, "Resource")
		patterns = append(patterns, strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", "eu-west-1",
			"${AWS::AccountId}", "123456789012", "${OperatorApi}", "a1b2c3").Replace(r.Value))
	}
	allowed := func(arn string) bool {
		return slices.ContainsFunc(patterns, func(p string) bool { return iamMatch(p, arn) })
	}
	const base = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/$default/"
	routes := map[string]bool{} // route key -> is a read
	events := foNode(t, root, "Resources", "ApiFunction", "Properties", "Events")
	for i := 0; i+1 < len(events.Content); i += 2 {
		p := foNode(t, events.Content[i+1], "Properties")
		method, path := child(p, "Method"), child(p, "Path")
		if method == nil || path == nil {
			routes["$default"] = false
			continue
		}
		routes[strings.ToUpper(method.Value)+" "+path.Value] = strings.EqualFold(method.Value, "GET")
	}
	for _, tt := range []struct{ method, path string }{
		{"GET", "/clusters"}, {"GET", "/clusters/live-1"}, {"GET", "/clusters/live-1/history"}, {"GET", "/"},
	} {
		key := tt.method + " " + tt.path
		route := "$default"
		if routes[tt.method+" /"] && tt.path == "/" {
			route = tt.method + " /"
		} else if routes[tt.method+" /{proxy+}"] && tt.path != "/" {
			route = tt.method + " /{proxy+}"
		}
		arn := base + "$default"
		if route != "$default" {
			arn = base + tt.method + tt.path
		}
		if !allowed(arn) {
			t.Errorf("%s goes through route %q (%s), which OperatorApiReadOnlyPolicy %v does not allow", key, route, arn, patterns)
		}
	}
	for key, read := range routes {
		if read {
			continue
		}
		arn := base + "$default"
		if key != "$default" {
			m, p, _ := strings.Cut(key, " ")
			arn = base + m + p
		}
		if allowed(arn) {
			t.Errorf("OperatorApiReadOnlyPolicy allows the write route %q", key)
		}
	}
	if allowed(base + "POST/clusters/live-1/instances/d1.cloudfront.net/close") {
		t.Error("OperatorApiReadOnlyPolicy allows a close")
	}
}

// TestTemplateUsesThePartition: no ARN is written for the aws partition alone (the state
// machines' integrations take ${Partition}, the template ${AWS::Partition}), and ControlRegion
// refuses the regions where the edge resources do not exist.
func TestTemplateUsesThePartition(t *testing.T) {
	root := testenv.RepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "statemachines", "*.asl.json"))
	files = append(files, filepath.Join(root, "template.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			// The KeyValueStore ARN parameter's pattern names the one partition the edge exists in.
			if strings.Contains(line, "arn:aws:") && !strings.Contains(line, "AllowedPattern") {
				t.Errorf("%s:%d hard-codes the aws partition: %s", filepath.Base(f), n+1, strings.TrimSpace(line))
			}
		}
	}
	tmpl := foTemplate(t)
	for _, sm := range []string{"FailoverStateMachine", "FailbackStateMachine"} {
		v := child(foNode(t, tmpl, "Resources", sm, "Properties", "DefinitionSubstitutions"), contract.SubstPartition)
		if v == nil || v.Tag != "!Ref" || v.Value != "AWS::Partition" {
			t.Errorf("%s does not substitute %s with !Ref AWS::Partition", sm, contract.SubstPartition)
		}
	}
	pattern := regexp.MustCompile(foNode(t, tmpl, "Parameters", "ControlRegion", "AllowedPattern").Value)
	for region, want := range map[string]bool{
		"us-east-1": true, "eu-west-1": true, "ap-southeast-2": true, "il-central-1": true, "mx-central-1": true,
		"us-gov-west-1": false, "cn-north-1": false, "us-iso-east-1": false, "us-isob-east-1": false, "eu-isoe-west-1": false, "": false,
	} {
		if got := pattern.MatchString(region); got != want {
			t.Errorf("ControlRegion %q accepted %v, want %v", region, got, want)
		}
	}
}

// statements returns a function's (or role's) policy statements as plain values.
func statements(t *testing.T, n *yaml.Node) []*yaml.Node {
	t.Helper()
	var out []*yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			if child(n, "Effect") != nil && child(n, "Action") != nil {
				out = append(out, n)
				return
			}
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
		}
		for _, c := range n.Content {
			if n.Kind == yaml.SequenceNode {
				walk(c)
			}
		}
	}
	walk(n)
	return out
}

// scalars lists every scalar under n (actions or resources, through !If and lists).
func scalars(n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, scalars(c)...)
	}
	return out
}

// TestTemplateLeastPrivilege: the detector writes only to the control region's replica; the
// merge function writes master buckets by name, never by prefix; the functions whose event
// sources would bring AWS managed policies with Resource "*" (the edge sync's DynamoDB stream,
// the sweeper's SQS queue) have roles of their own, scoped to their stream and queue.
func TestTemplateLeastPrivilege(t *testing.T) {
	root := foTemplate(t)
	for _, st := range statements(t, foNode(t, root, "Resources", "DetectorFunction", "Properties", "Policies")) {
		acts := scalars(foNode(t, st, "Action"))
		writes := slices.ContainsFunc(acts, func(a string) bool { return a == "dynamodb:PutItem" || a == "dynamodb:UpdateItem" })
		if !writes {
			continue
		}
		for _, r := range scalars(foNode(t, st, "Resource")) {
			if !strings.Contains(r, ":dynamodb:${ControlRegion}:") {
				t.Errorf("the detector may write %s: only the control region's replica", r)
			}
		}
	}
	for _, st := range statements(t, foNode(t, root, "Resources", "MergeFunction", "Properties", "Policies")) {
		for _, r := range scalars(foNode(t, st, "Resource")) {
			if strings.Contains(r, "${MasterBucketPrefix}") || strings.Contains(r, "-*") {
				t.Errorf("the merge function's %s names buckets by prefix: %s", child(st, "Sid").Value, r)
			}
		}
	}
	managed := regexp.MustCompile(`AWSLambda(DynamoDB|SQSQueue|Kinesis)ExecutionRole`)
	for fn, want := range map[string][]string{
		"EdgeSyncFunction": {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"},
		"SweeperFunction":  {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
	} {
		role := child(foNode(t, root, "Resources", fn, "Properties"), "Role")
		if role == nil || role.Tag != "!GetAtt" {
			t.Errorf("%s has no role of its own: SAM adds an AWS managed execution policy with Resource \"*\" for its event source", fn)
			continue
		}
		id, _ := strings.CutSuffix(role.Value, ".Arn")
		props := foNode(t, root, "Resources", id, "Properties")
		for _, m := range scalars(foNode(t, props, "ManagedPolicyArns")) {
			if managed.MatchString(m) {
				t.Errorf("%s's role %s attaches %s", fn, id, m)
			}
		}
		granted := map[string]bool{}
		for _, st := range statements(t, foNode(t, props, "Policies")) {
			res := scalars(foNode(t, st, "Resource"))
			for _, a := range scalars(foNode(t, st, "Action")) {
				if slices.Contains(want, a) && slices.Contains(res, "*") {
					t.Errorf("%s's role grants %s on \"*\"", fn, a)
				}
				granted[a] = true
			}
		}
		for _, a := range want {
			if !granted[a] {
				t.Errorf("%s's role lacks %s, which its event source needs", fn, a)
			}
		}
	}
}

// TestTemplateMasterDistributionServesSteering: GET /steering/<cluster>.json on the master
// distribution (what README and cvsctl merge --steering-uri point at) runs the copilot.
func TestTemplateMasterDistributionServesSteering(t *testing.T) {
	root := foTemplate(t)
	behaviors := child(foNode(t, root, "Resources", "MasterDistribution", "Properties", "DistributionConfig"), "CacheBehaviors")
	if behaviors == nil {
		t.Fatal("the master distribution has one behaviour: /steering/ goes to the buckets (403)")
	}
	found := false
	for _, b := range behaviors.Content {
		pattern := foNode(t, b, "PathPattern").Value
		if ok, _ := filepath.Match(pattern, "steering/live-1.json"); !ok {
			continue
		}
		found = true
		text := fmt.Sprint(scalars(foNode(t, b, "FunctionAssociations")))
		if !strings.Contains(text, "viewer-request") || !strings.Contains(text, "CopilotFunction.FunctionARN") {
			t.Errorf("behaviour %s does not run the copilot on viewer-request: %s", pattern, text)
		}
	}
	if !found {
		t.Error("no behaviour of the master distribution matches steering/live-1.json")
	}
}

// TestTemplateFailureQueueOutputsSayWhatTheyHold: Lambda's on-failure destinations keep
// invocation records (metadata), not the stream's records.
func TestTemplateFailureQueueOutputsSayWhatTheyHold(t *testing.T) {
	d := foNode(t, foTemplate(t), "Outputs", "EdgeSyncFailureQueueUrl", "Description").Value
	if !strings.Contains(d, "Metadata") || strings.HasPrefix(d, "Stream records") {
		t.Errorf("EdgeSyncFailureQueueUrl says %q; the queue holds the failed batches' metadata", d)
	}
}

// TestTemplateLintsInEveryListedRegion runs cfn-lint for every region the README's Deploy
// section lists (its `cfn-lint --regions ...` line): resource types must exist in each.
func TestTemplateLintsInEveryListedRegion(t *testing.T) {
	lint := testenv.Command(t, "cfn-lint", "the template check")
	root := testenv.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*cfn-lint --regions ((?:[a-z0-9-]+ ?)+) -- template\.yaml\s*$`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md lists no regions (a line `cfn-lint --regions R1 R2 ... -- template.yaml`)")
	}
	regions := strings.Fields(string(m[1]))
	for env := range samconfig(t) {
		if e, ok := strings.CutSuffix(env, ".deploy.parameters"); ok && e != "default" && !slices.Contains(regions, e) {
			t.Errorf("samconfig.toml deploys to %s, which README.md does not list", e)
		}
	}
	args := append([]string{"--format", "parseable", "--regions"}, regions...)
	out, err := exec.Command(lint, append(args, "--", filepath.Join(root, "template.yaml"))...).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint --regions %s: %v\n%s", strings.Join(regions, " "), err, out)
	}
	t.Logf("cfn-lint clean in %d regions: %s", len(regions), strings.Join(regions, " "))
}
