// Package cloudformation reads a deployed stack's outputs: the adapter behind cvsctl
// deploy-plan, which turns "stack does not exist" into ErrStackNotFound.
package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"
)

// ErrStackNotFound says the region has no stack of that name (never deployed, or deleted).
var ErrStackNotFound = errors.New("stack not found")

// Stack is what a deployed stack says about itself: its status, and its parameters and
// outputs by key.
type Stack struct {
	Name, Region, Status string
	Parameters, Outputs  map[string]string
}

// Client is the part of *cloudformation.Client the adapter calls.
type Client interface {
	DescribeStacks(ctx context.Context, in *awscfn.DescribeStacksInput, opts ...func(*awscfn.Options)) (*awscfn.DescribeStacksOutput, error)
}

// Stacks reads stacks in any region through one client, switching its region per call.
type Stacks struct {
	Client Client
}

// New returns Stacks over c.
func New(c Client) *Stacks { return &Stacks{Client: c} }

// NewFromConfig returns Stacks over a client built from cfg, so a command needs no SDK
// service import of its own.
func NewFromConfig(cfg aws.Config) *Stacks { return New(awscfn.NewFromConfig(cfg)) }

// Describe returns the stack name in region.
func (s *Stacks) Describe(ctx context.Context, region, name string) (Stack, error) {
	out, err := s.Client.DescribeStacks(ctx, &awscfn.DescribeStacksInput{StackName: aws.String(name)},
		func(o *awscfn.Options) { o.Region = region })
	var api smithy.APIError
	switch {
	// CloudFormation answers a missing stack with a ValidationError "Stack with id X does not exist".
	case errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "does not exist"):
		return Stack{}, fmt.Errorf("stack %s in %s: %w", name, region, ErrStackNotFound)
	case err != nil:
		return Stack{}, fmt.Errorf("describe stack %s in %s: %w", name, region, err)
	case len(out.Stacks) == 0:
		return Stack{}, fmt.Errorf("stack %s in %s: %w", name, region, ErrStackNotFound)
	}
	st := out.Stacks[0]
	res := Stack{Name: aws.ToString(st.StackName), Region: region, Status: string(st.StackStatus),
		Parameters: map[string]string{}, Outputs: map[string]string{}}
	for _, p := range st.Parameters {
		res.Parameters[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for _, o := range st.Outputs {
		res.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return res, nil
}
