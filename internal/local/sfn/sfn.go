// Package sfn is the in-process twin of Step Functions for local runs and tests: it runs the
// real statemachines/*.asl.json with internal/local/asl and answers a reused execution name as the
// service does.
package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode"

	"github.com/clustered-video-streams/cvs/internal/execution"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/topic"
)

var _ execution.Starter = (*Service)(nil)

// Options configure a Service.
type Options struct {
	// OnFinish hears of every execution when it ends (for logs); it runs on the execution's
	// goroutine.
	OnFinish func(*asl.Execution)
	Log      *slog.Logger
}

// Service holds state machines and runs their executions, each on its own goroutine. Like
// Step Functions it keeps every execution's name: a name started again with the same input
// while its execution runs answers that execution; otherwise it answers AlreadyExists.
type Service struct {
	opts   Options
	ctx    context.Context // executions run under it; Close cancels it
	cancel context.CancelFunc

	mu       sync.Mutex
	machines map[string]*asl.Machine
	runs     map[string]*run // by execution ARN
	wg       sync.WaitGroup
}

type run struct {
	input  string
	done   chan struct{}
	result *asl.Execution
}

// New returns a Service without state machines.
func New(opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{opts: opts, ctx: ctx, cancel: cancel, machines: map[string]*asl.Machine{}, runs: map[string]*run{}}
}

// AddDefinition loads a definition (with asl.Load and opts, its StateMachineArn set to arn) and
// makes it startable as arn.
func (s *Service) AddDefinition(arn string, definition []byte, opts asl.Options) error {
	opts.StateMachineArn = arn
	m, err := asl.Load(definition, opts)
	if err != nil {
		return fmt.Errorf("state machine %s: %w", arn, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.machines[arn] = m
	return nil
}

// Start starts an execution, or answers for the one of that name (see Service).
func (s *Service) Start(ctx context.Context, stateMachineARN, name string, input []byte) (execution.Result, error) {
	if len(input) == 0 {
		input = []byte("{}") // StartExecution's default input
	}
	if err := checkName(name); err != nil {
		s.opts.Log.Warn("sfn: refused an execution", "state_machine", stateMachineARN, "name", name, "err", err)
		return execution.Result{}, err
	}
	if !json.Valid(input) {
		s.opts.Log.Warn("sfn: refused an execution", "state_machine", stateMachineARN, "name", name, "err", "input is not JSON")
		return execution.Result{}, &execution.RefusedError{Code: execution.CodeInvalidExecutionInput, Message: "the input is not JSON"}
	}
	if !strings.Contains(stateMachineARN, ":stateMachine:") {
		return execution.Result{}, &execution.RefusedError{Code: execution.CodeInvalidArn, Message: fmt.Sprintf("%q is not a state machine ARN", stateMachineARN)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.machines[stateMachineARN]
	if !ok {
		return execution.Result{}, &execution.RefusedError{Code: execution.CodeStateMachineDoesNotExist, Message: "State Machine Does Not Exist: '" + stateMachineARN + "'"}
	}
	arn := strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
	if r, ok := s.runs[arn]; ok {
		select {
		case <-r.done:
		default:
			if r.input == string(input) {
				return execution.Result{Outcome: execution.Started, ExecutionARN: arn}, nil
			}
		}
		return execution.Result{Outcome: execution.AlreadyExists}, nil
	}
	r := &run{input: string(input), done: make(chan struct{})}
	s.runs[arn] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// Run checked name and input already: its error cannot happen here.
		ex, err := m.Run(s.ctx, name, json.RawMessage(input))
		if err != nil {
			ex = &asl.Execution{ARN: arn, Name: name, Status: asl.StatusFailed, Error: "States.Runtime", Cause: err.Error()}
		}
		s.mu.Lock()
		r.result = ex
		s.mu.Unlock()
		// Ended before anyone hears of it: a listener that starts the name again must meet an
		// ended execution, as it would in the service.
		close(r.done)
		if s.opts.OnFinish != nil {
			s.opts.OnFinish(ex)
		}
	}()
	return execution.Result{Outcome: execution.Started, ExecutionARN: arn}, nil
}

// Wait waits for an execution to end and returns its record.
func (s *Service) Wait(ctx context.Context, executionARN string) (*asl.Execution, error) {
	s.mu.Lock()
	r, ok := s.runs[executionARN]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("execution %s does not exist", executionARN)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.result, nil
}

// Close aborts the running executions and waits for them to end.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// checkName applies StartExecution's rules for names: 1 to 80 characters, none of whitespace,
// brackets, wildcards, the special characters " # % \ ^ | ~ ` $ & , ; : / or control characters.
func checkName(name string) error {
	refuse := func(why string) error {
		return &execution.RefusedError{Code: execution.CodeInvalidName, Message: fmt.Sprintf("execution name %q: %s", name, why)}
	}
	if name == "" || len(name) > 80 {
		return refuse("must be 1 to 80 characters")
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return refuse(fmt.Sprintf("character %q is not allowed", r))
		}
	}
	return nil
}

// PublishTask is the handler of the sns:publish integration publishing through p, with p's
// domain errors reported as the integration names them (SNS.NotFoundException, ...).
func PublishTask(p topic.Publisher) asl.Handler {
	return asl.SNSPublish(func(ctx context.Context, m asl.SNSMessage) (string, error) {
		id, err := p.Publish(ctx, topic.Message{TopicARN: m.TopicArn, Subject: m.Subject, Body: m.Message, Attributes: m.Attributes})
		switch {
		case errors.Is(err, topic.ErrNotFound):
			return "", &asl.TaskError{Name: "SNS.NotFoundException", Cause: err.Error()}
		case errors.Is(err, topic.ErrInvalid):
			return "", &asl.TaskError{Name: "SNS.InvalidParameterException", Cause: err.Error()}
		}
		return id, err
	})
}
