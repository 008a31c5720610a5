package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Resources of the optimized service integrations the definitions use.
const (
	ResourceLambdaInvoke = "arn:aws:states:::lambda:invoke"
	ResourceSNSPublish   = "arn:aws:states:::sns:publish"
)

// LambdaFunction is a Lambda function as aws-lambda-go runs it: lambda.NewHandler(handler)
// returns one, so the local runtime runs a function's handler through the same JSON decoding
// and encoding as in Lambda.
type LambdaFunction interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// LambdaInvoke is the Handler for "arn:aws:states:::lambda:invoke" (request-response) calling
// in-process functions by FunctionName. It behaves as the integration does in AWS: the task
// result is {"ExecutedVersion","Payload","StatusCode"} with the function's JSON output as
// Payload; a function error fails the task with the error type aws-lambda-go reports as the
// error name and the function's error payload as the cause; an unknown function fails with
// Lambda.ResourceNotFoundException.
//
// Invocations of one function run one at a time, as in a single Lambda execution environment:
// the handler lambda.NewHandler returns hands back bytes of a pooled buffer that it recycles
// for the next invocation, so concurrent invocations would overwrite each other's results. (So
// a function that ignores the cancellation of a timed-out invocation holds up the retry.)
func LambdaInvoke(functions map[string]LambdaFunction) Handler {
	locks := make(map[string]*sync.Mutex, len(functions))
	for name := range functions {
		locks[name] = new(sync.Mutex)
	}
	return func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		var req map[string]json.RawMessage
		if err := json.Unmarshal(input, &req); err != nil {
			return nil, &TaskError{Name: "Lambda.InvalidParameterValueException", Cause: "lambda:invoke parameters are not an object: " + err.Error()}
		}
		for k := range req {
			if k != "FunctionName" && k != "Payload" {
				return nil, &TaskError{Name: "Lambda.InvalidParameterValueException", Cause: fmt.Sprintf("lambda:invoke parameter %s is not supported by this interpreter", k)}
			}
		}
		var name string
		if err := json.Unmarshal(req["FunctionName"], &name); err != nil || name == "" {
			return nil, &TaskError{Name: "Lambda.InvalidParameterValueException", Cause: "FunctionName must be a non-empty string"}
		}
		fn, ok := functions[name]
		if !ok {
			return nil, &TaskError{Name: "Lambda.ResourceNotFoundException", Cause: "Function not found: " + name}
		}
		payload := []byte(req["Payload"])
		if len(payload) == 0 {
			payload = []byte("{}")
		}
		locks[name].Lock()
		out, err := invokeFunction(ctx, fn, payload)
		out = append([]byte(nil), out...) // before the next invocation reuses the buffer
		locks[name].Unlock()
		if err != nil {
			return nil, err
		}
		// The integration parses a JSON payload and passes anything else on as a string.
		var parsed any = string(out)
		if v, derr := decodeJSON(out); derr == nil {
			parsed = v
		}
		return encodeJSON(map[string]any{"ExecutedVersion": "$LATEST", "Payload": parsed, "StatusCode": json.Number("200")}), nil
	}
}

// invokeFunction runs fn and turns its error or panic into the TaskError Step Functions would
// report, using aws-lambda-go's rules for the error type. A panic's cause lacks the stack trace
// the Lambda runtime would add.
func invokeFunction(ctx context.Context, fn LambdaFunction, payload []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, functionError(messages.InvokeResponse_Error{Message: fmt.Sprint(p), Type: LambdaErrorType(p)})
		}
	}()
	out, ferr := fn.Invoke(ctx, payload)
	if ferr == nil {
		return out, nil
	}
	if ive, ok := ferr.(messages.InvokeResponse_Error); ok {
		return nil, functionError(ive)
	}
	return nil, functionError(messages.InvokeResponse_Error{Message: ferr.Error(), Type: LambdaErrorType(ferr)})
}

// functionError is the TaskError for a function error: the error name is the function's
// errorType, the cause the error payload the function returned.
func functionError(e messages.InvokeResponse_Error) *TaskError {
	// json.Marshal, as the runtime does (safeMarshal): HTML characters come out escaped.
	b, err := json.Marshal(e)
	if err != nil {
		return &TaskError{Name: e.Type, Cause: e.Message}
	}
	return &TaskError{Name: e.Type, Cause: string(b)}
}

// LambdaErrorType is the errorType aws-lambda-go reports for a value a handler returned as an
// error (or panicked with): the name of its type, or of the type it points to. A
// *workflow.OriginProbeError reports "OriginProbeError"; an error from fmt.Errorf reports
// "wrapError" or "errorString".
func LambdaErrorType(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// SNSMessage is one message the sns:publish integration publishes.
type SNSMessage struct {
	TopicArn string
	Subject  string
	// Message is the text published; a JSON Message parameter is published as its compact JSON
	// text, as the integration does.
	Message string
	// Attributes are the String message attributes, by name.
	Attributes map[string]string
}

// SNSPublisher publishes a message and returns its message ID. A returned *TaskError is
// reported as it is (e.g. SNS.NotFoundException); any other error fails the task as
// States.TaskFailed.
type SNSPublisher func(ctx context.Context, m SNSMessage) (messageID string, err error)

// SNSPublish is the Handler for "arn:aws:states:::sns:publish" (request-response): it checks the
// parameters as the integration would and returns {"MessageId": ...}. Supported parameters:
// TopicArn, Subject, Message and MessageAttributes of DataType String.
func SNSPublish(publish SNSPublisher) Handler {
	return func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		invalid := func(format string, args ...any) error {
			return &TaskError{Name: "SNS.InvalidParameterException", Cause: fmt.Sprintf(format, args...)}
		}
		req, err := decodeJSON(input)
		params, ok := req.(map[string]any)
		if err != nil || !ok {
			return nil, invalid("sns:publish parameters are not an object")
		}
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var m SNSMessage
		for _, k := range keys {
			v := params[k]
			switch k {
			case "TopicArn", "Subject":
				s, ok := v.(string)
				if !ok || s == "" {
					return nil, invalid("%s must be a non-empty string", k)
				}
				if k == "TopicArn" {
					m.TopicArn = s
				} else {
					m.Subject = s
				}
			case "Message":
				if s, ok := v.(string); ok {
					m.Message = s
				} else {
					m.Message = string(encodeJSON(v))
				}
			case "MessageAttributes":
				attrs, ok := v.(map[string]any)
				if !ok {
					return nil, invalid("MessageAttributes must be an object")
				}
				m.Attributes = map[string]string{}
				for name, a := range attrs {
					av, _ := a.(map[string]any)
					dt, _ := av["DataType"].(string)
					sv, isStr := av["StringValue"].(string)
					if len(av) != 2 || dt != "String" || !isStr || sv == "" {
						return nil, invalid("message attribute %s: only {DataType: String, StringValue: non-empty string} is supported", name)
					}
					m.Attributes[name] = sv
				}
			default:
				return nil, invalid("sns:publish parameter %s is not supported by this interpreter", k)
			}
		}
		if m.TopicArn == "" {
			return nil, invalid("TopicArn is required")
		}
		if m.Message == "" {
			return nil, invalid("Message is required")
		}
		id, err := publish(ctx, m)
		if err != nil {
			return nil, err
		}
		return encodeJSON(map[string]any{"MessageId": id}), nil
	}
}
