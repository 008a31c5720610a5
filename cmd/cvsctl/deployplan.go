package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/clustered-video-streams/cvs/internal/aws/cloudformation"
)

// Every value that crosses regions, in one place: the output of one region's stack that
// becomes a parameter of another's. Align it with template.yaml's Outputs and Parameters.
var crossRegion = []flow{
	{Output: "EdgeKeyValueStoreArn", Parameter: "EdgeKeyValueStoreArn", From: fromControl},
	{Output: "MasterDistributionId", Parameter: "MasterDistributionId", From: fromControl},
	{Output: "MasterPlaylistBucketDomain", Parameter: "PeerMasterBucketDomains", From: fromEveryOther},
}

// The parameters deploy-plan sets from the command line rather than from outputs.
const (
	paramControlRegion = "ControlRegion"
	paramReplicas      = "StateReplicaRegions"
)

// defaultStackName is samconfig.toml's stack_name.
const defaultStackName = "clustered-video-streams"

// configEnv is the samconfig.toml environment of a region's stack: named after the region.
func configEnv(region string) string { return region }

// flowSource says whose stacks feed a parameter.
type flowSource int

const (
	// fromControl: the control region's stack, to every other region's.
	fromControl flowSource = iota
	// fromEveryOther: every other region's stack (the control region's included), comma separated.
	fromEveryOther
)

type flow struct {
	Output, Parameter string
	From              flowSource
}

// stackReader is how deploy-plan sees deployed stacks.
type stackReader interface {
	Describe(ctx context.Context, region, name string) (cloudformation.Stack, error)
}

// planStep is one `sam deploy` of the plan.
type planStep struct {
	Region, Why string
	Params      [][2]string // in the order printed
}

func runDeployPlan(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "deploy-plan")
	stack := fs.String("stack-name", defaultStackName, "the stack's name, the same in every region")
	timeout := time.Duration(30 * time.Second)
	fs.Var(durationFlag{&timeout}, "timeout", "bound on reading every stack")
	fs.Usage = usageFunc(fs, "[flags] CONTROL_REGION [REGION ...]", `
Reads the stacks' outputs in every region (CloudFormation DescribeStacks, with your default AWS
credentials) and prints the sam deploy commands that set up or extend the cluster, in order: the
control region's stack first (adding one state table replica per update, as CloudFormation
requires), then each other region's with the control region's outputs, then the control
region's update with the other regions' master buckets. Run it again after each deploy: a step
that needs a stack not yet deployed says so.`)
	pos, code, ok := parseCommand(e, fs, args, 1, 6)
	if !ok {
		return code
	}
	for i, r := range pos {
		if !regionRE.MatchString(r) {
			return fail(e, &usageError{fmt.Sprintf("%q is not an AWS region such as eu-west-1", r)})
		}
		if slices.Contains(pos[:i], r) {
			return fail(e, &usageError{fmt.Sprintf("region %s is given twice", r)})
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(pos[0]))
	if err != nil {
		return fail(e, fmt.Errorf("load AWS configuration: %w", err))
	}
	steps, notes, err := deployPlan(ctx, cloudformation.NewFromConfig(cfg), *stack, pos[0], pos[1:])
	if err != nil {
		return fail(e, err)
	}
	return done(e, printPlan(e.stdout, steps, notes))
}

// deployPlan reads the stacks and returns the deploys still to run, in order, and notes on what
// the plan cannot say yet.
func deployPlan(ctx context.Context, stacks stackReader, name, control string, others []string) ([]planStep, []string, error) {
	read := func(region string) (*cloudformation.Stack, error) {
		s, err := stacks.Describe(ctx, region, name)
		switch {
		case errors.Is(err, cloudformation.ErrStackNotFound):
			return nil, nil
		case err != nil:
			return nil, err
		case strings.HasSuffix(s.Status, "_IN_PROGRESS"):
			return nil, fmt.Errorf("stack %s in %s is %s: wait for it to finish", name, region, s.Status)
		}
		return &s, nil
	}
	ctrl, err := read(control)
	if err != nil {
		return nil, nil, err
	}
	if ctrl == nil {
		step := planStep{Region: control, Why: "create the control region's stack: the state table, the edge and the master distribution"}
		step.set(paramControlRegion, control)
		if len(others) > 0 {
			step.set(paramReplicas, strings.Join(others, ","))
		}
		return []planStep{step}, []string{"run cvsctl deploy-plan again once it is CREATE_COMPLETE: the other regions need its outputs"}, nil
	}
	deployed := map[string]*cloudformation.Stack{control: ctrl}
	for _, r := range others {
		if deployed[r], err = read(r); err != nil {
			return nil, nil, err
		}
	}
	var notes []string
	// params is every cross-region parameter of region's stack from the stacks deployed now.
	params := func(region string) (planStep, error) {
		step := planStep{Region: region}
		step.set(paramControlRegion, control)
		for _, f := range crossRegion {
			var from []string
			if f.From == fromControl {
				if region == control {
					continue
				}
				from = []string{control}
			} else {
				from = slices.DeleteFunc(append([]string{control}, others...), func(r string) bool { return r == region })
			}
			var values []string
			for _, r := range from {
				if s := deployed[r]; s != nil {
					v := s.Outputs[f.Output]
					if v == "" {
						return step, fmt.Errorf("stack %s in %s has no output %s: is it this product's template?", name, r, f.Output)
					}
					values = append(values, v)
				}
			}
			step.set(f.Parameter, strings.Join(values, ","))
		}
		return step, nil
	}

	var steps []planStep
	// CloudFormation adds one replica of a global table per stack update.
	replicas := splitList(ctrl.Parameters[paramReplicas])
	for _, r := range others {
		if slices.Contains(replicas, r) {
			continue
		}
		replicas = append(replicas, r)
		step, err := params(control)
		if err != nil {
			return nil, nil, err
		}
		step.Why = "add " + r + "'s replica of the state table (one replica per update)"
		step.set(paramReplicas, strings.Join(replicas, ","))
		steps = append(steps, step)
	}
	for _, r := range others {
		step, err := params(r)
		if err != nil {
			return nil, nil, err
		}
		step.Why = "deploy " + r + " with the control region's outputs"
		if deployed[r] != nil {
			step.Why = "update " + r + " with the other regions' outputs"
		}
		steps = append(steps, step)
	}
	var missing []string
	for _, r := range others {
		if deployed[r] == nil {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		notes = append(notes, "not deployed yet: "+strings.Join(missing, ", ")+"; run cvsctl deploy-plan again after their deploys for the control region's update with their master buckets")
		return steps, notes, nil
	}
	if len(others) > 0 {
		step, err := params(control)
		if err != nil {
			return nil, nil, err
		}
		step.Why = "update the control region with the other regions' master buckets (the master distribution's origin group)"
		step.set(paramReplicas, strings.Join(replicas, ","))
		steps = append(steps, step)
	}
	return steps, notes, nil
}

// set sets a parameter, keeping the order of first setting.
func (s *planStep) set(key, value string) {
	for i := range s.Params {
		if s.Params[i][0] == key {
			s.Params[i][1] = value
			return
		}
	}
	s.Params = append(s.Params, [2]string{key, value})
}

// splitList reads a CommaDelimitedList parameter's value.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// printPlan writes the steps as numbered shell comments and commands, ready to paste.
func printPlan(w io.Writer, steps []planStep, notes []string) error {
	var b strings.Builder
	for i, s := range steps {
		fmt.Fprintf(&b, "# %d. %s: %s\n", i+1, s.Region, s.Why)
		fmt.Fprintf(&b, "sam deploy --config-env %s --parameter-overrides", configEnv(s.Region))
		for _, p := range s.Params {
			fmt.Fprintf(&b, " %s", overrideArg(p[0], p[1]))
		}
		b.WriteString("\n")
	}
	if len(steps) == 0 {
		b.WriteString("# nothing to deploy: every stack has the other regions' outputs\n")
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "# %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// overrideArg is one Key=Value of --parameter-overrides as a shell word: SAM reads a value with
// commas or nothing in it only when double-quoted, and the shell must keep those quotes.
func overrideArg(key, value string) string {
	if value == "" || strings.ContainsAny(value, ", ") {
		return fmt.Sprintf(`'%s="%s"'`, key, value)
	}
	return key + "=" + value
}
