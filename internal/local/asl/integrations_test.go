package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
)

type valueError struct{ msg string }

func (e valueError) Error() string { return e.msg }

func TestLambdaInvoke(t *testing.T) {
	const arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"
	tests := []struct {
		name    string
		fn      any // handler given to lambda.NewHandler
		request string
		output  string // task result on success
		err     *asl.TaskError
	}{
		{"JSON result becomes Payload", func(ctx context.Context, in map[string]int) (map[string]int, error) {
			return map[string]int{"double": in["n"] * 2}, nil
		}, `{"FunctionName":"` + arn + `","Payload":{"n":21}}`, `{"ExecutedVersion":"$LATEST","Payload":{"double":42},"StatusCode":200}`, nil},
		{"no Payload sends {}", func(ctx context.Context, in map[string]any) (int, error) { return len(in), nil },
			`{"FunctionName":"` + arn + `"}`, `{"ExecutedVersion":"$LATEST","Payload":0,"StatusCode":200}`, nil},
		{"named pointer error", func(ctx context.Context, in any) (any, error) {
			return nil, &contract.OriginProbeError{URL: "https://o/x.m3u8", Err: errors.New("EOF")}
		}, `{"FunctionName":"` + arn + `"}`, "", &asl.TaskError{Name: "OriginProbeError", Cause: `{"errorMessage":"probe https://o/x.m3u8: EOF","errorType":"OriginProbeError"}`}},
		{"named value error", func(ctx context.Context, in any) (any, error) { return nil, valueError{"v <bad> & worse"} },
			`{"FunctionName":"` + arn + `"}`, "", &asl.TaskError{Name: "valueError", Cause: `{"errorMessage":"v \u003cbad\u003e \u0026 worse","errorType":"valueError"}`}},
		{"wrapped error loses its name", func(ctx context.Context, in any) (any, error) {
			return nil, fmt.Errorf("close: %w", &contract.StateStoreError{Op: "close", Err: errors.New("x")})
		}, `{"FunctionName":"` + arn + `"}`, "", &asl.TaskError{Name: "wrapError", Cause: `{"errorMessage":"close: state store close: x","errorType":"wrapError"}`}},
		{"errors.New", func(ctx context.Context, in any) (any, error) { return nil, errors.New("plain") },
			`{"FunctionName":"` + arn + `"}`, "", &asl.TaskError{Name: "errorString", Cause: `{"errorMessage":"plain","errorType":"errorString"}`}},
		{"InvokeResponse_Error sets its own type", func(ctx context.Context, in any) (any, error) {
			return nil, messages.InvokeResponse_Error{Message: "custom", Type: "Custom.Type"}
		}, `{"FunctionName":"` + arn + `"}`, "", &asl.TaskError{Name: "Custom.Type", Cause: `{"errorMessage":"custom","errorType":"Custom.Type"}`}},
		{"task input that does not decode is invalid input, in JSON's terms", func(ctx context.Context, in contract.CloseInput) (any, error) { return nil, nil },
			`{"FunctionName":"` + arn + `","Payload":{"sequence":"x"}}`, "", &asl.TaskError{Name: "InvalidInputError",
				Cause: `{"errorMessage":"invalid close input: field \"sequence\": must be an integer of at most 64 bits, not a string","errorType":"InvalidInputError"}`}},
		{"panic", func(ctx context.Context, in any) (any, error) { panic("oops") },
			`{"FunctionName":"` + arn + `"}`, "", &asl.TaskError{Name: "string", Cause: `{"errorMessage":"oops","errorType":"string"}`}},
		{"unknown function", func(ctx context.Context, in any) (any, error) { return nil, nil },
			`{"FunctionName":"arn:aws:lambda:eu-west-1:123456789012:function:gone"}`, "", &asl.TaskError{Name: "Lambda.ResourceNotFoundException", Cause: "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:gone"}},
		{"unsupported parameter", func(ctx context.Context, in any) (any, error) { return nil, nil },
			`{"FunctionName":"` + arn + `","InvocationType":"Event"}`, "", &asl.TaskError{Name: "Lambda.InvalidParameterValueException"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := asl.LambdaInvoke(map[string]asl.LambdaFunction{arn: lambda.NewHandler(tt.fn)})
			out, err := h(context.Background(), json.RawMessage(tt.request))
			if tt.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(decode(t, []byte(tt.output)), decode(t, out)); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
				return
			}
			var te *asl.TaskError
			if !errors.As(err, &te) {
				t.Fatalf("error %T %v, want *asl.TaskError", err, err)
			}
			if te.Name != tt.err.Name || (tt.err.Cause != "" && te.Cause != tt.err.Cause) {
				t.Errorf("TaskError %q / %q, want %q / %q", te.Name, te.Cause, tt.err.Name, tt.err.Cause)
			}
		})
	}
}

func TestLambdaErrorTypeOfWorkflowErrors(t *testing.T) {
	// The names the state machines' Retry and Catch use are the names aws-lambda-go reports.
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&contract.InvalidInputError{}, contract.ErrNameInvalidInput},
		{&contract.OriginProbeError{}, contract.ErrNameOriginProbe},
		{&contract.InstanceNotFoundError{}, contract.ErrNameInstanceNotFound},
		{&contract.StateStoreError{}, contract.ErrNameStateStore},
	} {
		if got := asl.LambdaErrorType(tt.err); got != tt.want {
			t.Errorf("LambdaErrorType(%T) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestSNSPublish(t *testing.T) {
	const topic = "arn:aws:sns:eu-west-1:123456789012:t"
	tests := []struct {
		name    string
		request string
		want    asl.SNSMessage
		errName string
	}{
		{"JSON message is published as compact JSON text, unescaped",
			`{"TopicArn":"` + topic + `","Subject":"s","Message":{"b":"<x> & y","a":1},"MessageAttributes":{"outcome":{"DataType":"String","StringValue":"closed"}}}`,
			asl.SNSMessage{TopicArn: topic, Subject: "s", Message: `{"a":1,"b":"<x> & y"}`, Attributes: map[string]string{"outcome": "closed"}}, ""},
		{"string message as it is", `{"TopicArn":"` + topic + `","Message":"hello"}`, asl.SNSMessage{TopicArn: topic, Message: "hello"}, ""},
		{"missing topic", `{"Message":"hello"}`, asl.SNSMessage{}, "SNS.InvalidParameterException"},
		{"missing message", `{"TopicArn":"` + topic + `"}`, asl.SNSMessage{}, "SNS.InvalidParameterException"},
		{"number attribute", `{"TopicArn":"` + topic + `","Message":"m","MessageAttributes":{"n":{"DataType":"Number","StringValue":"1"}}}`, asl.SNSMessage{}, "SNS.InvalidParameterException"},
		{"empty attribute value", `{"TopicArn":"` + topic + `","Message":"m","MessageAttributes":{"n":{"DataType":"String","StringValue":""}}}`, asl.SNSMessage{}, "SNS.InvalidParameterException"},
		{"unsupported parameter", `{"TopicArn":"` + topic + `","Message":"m","MessageGroupId":"g"}`, asl.SNSMessage{}, "SNS.InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []asl.SNSMessage
			h := asl.SNSPublish(func(_ context.Context, m asl.SNSMessage) (string, error) {
				got = append(got, m)
				return "id-1", nil
			})
			out, err := h(context.Background(), json.RawMessage(tt.request))
			if tt.errName != "" {
				var te *asl.TaskError
				if !errors.As(err, &te) || te.Name != tt.errName {
					t.Fatalf("error %v, want %s", err, tt.errName)
				}
				if len(got) != 0 {
					t.Errorf("published %+v despite the error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != `{"MessageId":"id-1"}` {
				t.Errorf("result %s", out)
			}
			if diff := cmp.Diff([]asl.SNSMessage{tt.want}, got); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
		})
	}
	// A publisher's TaskError is the task's error as it is.
	h := asl.SNSPublish(func(context.Context, asl.SNSMessage) (string, error) {
		return "", &asl.TaskError{Name: "SNS.NotFoundException", Cause: "Topic does not exist"}
	})
	_, err := h(context.Background(), json.RawMessage(`{"TopicArn":"`+topic+`","Message":"m"}`))
	var te *asl.TaskError
	if !errors.As(err, &te) || te.Name != "SNS.NotFoundException" {
		t.Errorf("error %v, want SNS.NotFoundException", err)
	}
}

func TestVirtualClock(t *testing.T) {
	c := asl.NewVirtualClock(t0)
	early, stopEarly := c.NewTimer(5 * time.Second)
	late, _ := c.NewTimer(10 * time.Second)
	stopped, stop := c.NewTimer(5 * time.Second)
	if !stop() {
		t.Error("stopping a pending timer reported false")
	}
	c.Advance(5 * time.Second)
	select {
	case at := <-early:
		if !at.Equal(t0.Add(5 * time.Second)) {
			t.Errorf("fired at %v", at)
		}
	default:
		t.Fatal("timer due at +5s did not fire at +5s")
	}
	if stopEarly() {
		t.Error("stopping a fired timer reported true")
	}
	select {
	case <-late:
		t.Fatal("timer due at +10s fired at +5s")
	case <-stopped:
		t.Fatal("stopped timer fired")
	default:
	}
	if err := c.Sleep(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-late:
	default:
		t.Fatal("timer due at +10s did not fire after a 5s sleep at +5s")
	}
	if got, want := c.Now(), t0.Add(10*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context = %v", err)
	}
	if diff := cmp.Diff([]time.Duration{5 * time.Second}, c.Sleeps()); diff != "" {
		t.Errorf("Sleeps (-want +got):\n%s", diff)
	}
	if zero, _ := c.NewTimer(0); len(zero) != 1 {
		t.Error("a zero timer did not fire at once")
	}
}
