package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/local/asl"
)

// echo is a Task handler that returns its input.
func echo(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }

var testHandlers = map[string]asl.Handler{"arn:test:echo": echo}

// machine wraps states (the JSON body of "States") into a definition starting at "A".
func machine(states string) []byte {
	return []byte(`{"StartAt":"A","States":{` + states + `}}`)
}

func TestLoadRejects(t *testing.T) {
	const task = `"Type":"Task","Resource":"arn:test:echo"`
	tests := []struct {
		name         string
		def          []byte
		state, field string
		problem      string
	}{
		{"not JSON", []byte(`{"StartAt":`), "", "", "not JSON"},
		{"top-level TimeoutSeconds", []byte(`{"StartAt":"A","TimeoutSeconds":5,"States":{"A":{"Type":"Succeed"}}}`), "", "TimeoutSeconds", "not supported"},
		{"JSONata query language", []byte(`{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Succeed"}}}`), "", "QueryLanguage", "not supported"},
		{"StartAt names no state", []byte(`{"StartAt":"B","States":{"A":{"Type":"Succeed"}}}`), "", "StartAt", `names no state: "B"`},
		{"no states", []byte(`{"StartAt":"A","States":{}}`), "", "States", "non-empty"},
		{"Map state", machine(`"A":{"Type":"Map","End":true}`), "A", "Type", `state type "Map" is not supported`},
		{"Parallel state", machine(`"A":{"Type":"Parallel","End":true}`), "A", "Type", `"Parallel" is not supported`},
		{"HeartbeatSeconds", machine(`"A":{` + task + `,"HeartbeatSeconds":5,"End":true}`), "A", "HeartbeatSeconds", "not supported"},
		{"JSONata Arguments", machine(`"A":{` + task + `,"Arguments":{},"End":true}`), "A", "Arguments", "not supported"},
		{"Assign variables", machine(`"A":{"Type":"Pass","Assign":{"x":1},"End":true}`), "A", "Assign", "not supported"},
		{"Retry MaxDelaySeconds", machine(`"A":{` + task + `,"Retry":[{"ErrorEquals":["X"],"MaxDelaySeconds":5}],"End":true}`), "A", "Retry[0].MaxDelaySeconds", "not supported"},
		{"Retry JitterStrategy", machine(`"A":{` + task + `,"Retry":[{"ErrorEquals":["X"],"JitterStrategy":"FULL"}],"End":true}`), "A", "Retry[0].JitterStrategy", "not supported"},
		{"States.ALL not last retrier", machine(`"A":{` + task + `,"Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}],"End":true}`), "A", "Retry[0].ErrorEquals", "last retrier"},
		{"States.ALL with others", machine(`"A":{` + task + `,"Retry":[{"ErrorEquals":["States.ALL","X"]}],"End":true}`), "A", "Retry[0].ErrorEquals", "alone"},
		{"BackoffRate below 1", machine(`"A":{` + task + `,"Retry":[{"ErrorEquals":["X"],"BackoffRate":0.5}],"End":true}`), "A", "Retry[0].BackoffRate", "at least 1.0"},
		{"IntervalSeconds 0", machine(`"A":{` + task + `,"Retry":[{"ErrorEquals":["X"],"IntervalSeconds":0}],"End":true}`), "A", "Retry[0].IntervalSeconds", "from 1 to"},
		{"fractional MaxAttempts", machine(`"A":{` + task + `,"Retry":[{"ErrorEquals":["X"],"MaxAttempts":1.5}],"End":true}`), "A", "Retry[0].MaxAttempts", "integer"},
		{"empty ErrorEquals", machine(`"A":{` + task + `,"Retry":[{"ErrorEquals":[]}],"End":true}`), "A", "Retry[0].ErrorEquals", "non-empty"},
		{"catch States.Runtime", machine(`"A":{` + task + `,"Catch":[{"ErrorEquals":["States.Runtime"],"Next":"A"}],"End":true}`), "A", "Catch[0].ErrorEquals[0]", "not an error this interpreter raises"},
		{"Catch without Next", machine(`"A":{` + task + `,"Catch":[{"ErrorEquals":["States.ALL"]}],"End":true}`), "A", "Catch[0].Next", "required"},
		{"Catch to nowhere", machine(`"A":{` + task + `,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Nowhere"}],"End":true}`), "A", "Catch[0].Next", `names no state: "Nowhere"`},
		{"OutputPath with Catch", machine(`"A":{` + task + `,"OutputPath":"$.x","Catch":[{"ErrorEquals":["States.ALL"],"Next":"B"}],"End":true},"B":{"Type":"Succeed"}`), "A", "OutputPath", "together with Catch"},
		{"StringEquals", machine(`"A":{"Type":"Choice","Choices":[{"Variable":"$.x","StringEquals":"y","Next":"B"}]},"B":{"Type":"Succeed"}`), "A", "Choices[0].StringEquals", "StringEquals is not supported"},
		{"Or", machine(`"A":{"Type":"Choice","Choices":[{"Or":[{"Variable":"$.x","IsPresent":true}],"Next":"B"}]},"B":{"Type":"Succeed"}`), "A", "Choices[0].Or", "Or is not supported"},
		{"nested Next", machine(`"A":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.x","IsPresent":true,"Next":"B"}],"Next":"B"}]},"B":{"Type":"Succeed"}`), "A", "Choices[0].And[0].Next", "no Next"},
		{"rule without Next", machine(`"A":{"Type":"Choice","Choices":[{"Variable":"$.x","IsPresent":true}],"Default":"B"},"B":{"Type":"Succeed"}`), "A", "Choices[0].Next", "required"},
		{"two operators", machine(`"A":{"Type":"Choice","Choices":[{"Variable":"$.x","IsPresent":true,"BooleanEquals":true,"Next":"B"}]},"B":{"Type":"Succeed"}`), "A", "Choices[0]", "exactly one comparison operator"},
		{"BooleanEquals a string", machine(`"A":{"Type":"Choice","Choices":[{"Variable":"$.x","BooleanEquals":"true","Next":"B"}]},"B":{"Type":"Succeed"}`), "A", "Choices[0].BooleanEquals", "true or false"},
		{"Choice with Next", machine(`"A":{"Type":"Choice","Next":"B","Choices":[{"Variable":"$.x","IsPresent":true,"Next":"B"}]},"B":{"Type":"Succeed"}`), "A", "Next", "not supported"},
		{"Wait Timestamp", machine(`"A":{"Type":"Wait","Timestamp":"2025-01-01T00:00:00Z","End":true}`), "A", "Timestamp", "not supported"},
		{"Wait with both", machine(`"A":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}`), "A", "Seconds", "exactly one of Seconds and SecondsPath"},
		{"negative Wait", machine(`"A":{"Type":"Wait","Seconds":-1,"End":true}`), "A", "Seconds", "from 0 to"},
		{"bracket path", machine(`"A":{"Type":"Pass","InputPath":"$.a[0]","End":true}`), "A", "InputPath", "character '['"},
		{"recursive descent", machine(`"A":{"Type":"Pass","InputPath":"$..a","End":true}`), "A", "InputPath", "empty segment"},
		{"wildcard", machine(`"A":{"Type":"Pass","InputPath":"$.a.*","End":true}`), "A", "InputPath", `character '*'`},
		{"context InputPath", machine(`"A":{"Type":"Pass","InputPath":"$$.Execution.Id","End":true}`), "A", "InputPath", "context path"},
		{"task token", machine(`"A":{` + task + `,"Parameters":{"t.$":"$$.Task.Token"},"End":true}`), "A", "Parameters.t.$", "$$.Task.Token"},
		{"map item", machine(`"A":{` + task + `,"Parameters":{"t.$":"$$.Map.Item.Value"},"End":true}`), "A", "Parameters.t.$", "not supported"},
		{"InputPath null", machine(`"A":{"Type":"Pass","InputPath":null,"End":true}`), "A", "InputPath", "null is not supported"},
		{"array in Parameters", machine(`"A":{` + task + `,"Parameters":{"a":[1,2]},"End":true}`), "A", "Parameters.a", "arrays"},
		{"a and a.$", machine(`"A":{` + task + `,"Parameters":{"a":1,"a.$":"$.x"},"End":true}`), "A", "Parameters.a.$", `both "a" and "a.$"`},
		{"dynamic field not a string", machine(`"A":{` + task + `,"Parameters":{"a.$":5},"End":true}`), "A", "Parameters.a.$", "takes a path"},
		{"States.JsonToString", machine(`"A":{` + task + `,"Parameters":{"a.$":"States.JsonToString($.x)"},"End":true}`), "A", "Parameters.a.$", "States.JsonToString is not supported"},
		{"nested intrinsic", machine(`"A":{` + task + `,"Parameters":{"a.$":"States.Format('{}', States.UUID())"},"End":true}`), "A", "Parameters.a.$", "nested intrinsic"},
		{"too few arguments", machine(`"A":{` + task + `,"Parameters":{"a.$":"States.Format('{} and {}', $.x)"},"End":true}`), "A", "Parameters.a.$", "2 placeholders but 1 arguments"},
		{"unescaped brace", machine(`"A":{` + task + `,"Parameters":{"a.$":"States.Format('{x}', $.x)"},"End":true}`), "A", "Parameters.a.$", "unescaped {"},
		{"unknown escape", machine(`"A":{` + task + `,"Parameters":{"a.$":"States.Format('\\n{}', $.x)"},"End":true}`), "A", "Parameters.a.$", `unsupported escape \n`},
		{"template from a path", machine(`"A":{` + task + `,"Parameters":{"a.$":"States.Format($.t, $.x)"},"End":true}`), "A", "Parameters.a.$", "must be a string literal"},
		{"unterminated literal", machine(`"A":{` + task + `,"Parameters":{"a.$":"States.Format('{}, $.x)"},"End":true}`), "A", "Parameters.a.$", "unterminated"},
		{"missing substitution", machine(`"A":{"Type":"Task","Resource":"${Missing}","End":true}`), "A", "Resource", "no substitution for ${Missing}"},
		{"substitution in a field name", machine(`"A":{` + task + `,"Parameters":{"${X}":1},"End":true}`), "A", "Parameters.${X}", "field names"},
		{"no handler", machine(`"A":{"Type":"Task","Resource":"arn:test:other","End":true}`), "A", "Resource", `no handler for "arn:test:other"`},
		{"unreachable state", machine(`"A":{"Type":"Succeed"},"B":{"Type":"Succeed"}`), "B", "", "not reachable"},
		{"Next and End", machine(`"A":{"Type":"Pass","Next":"A","End":true}`), "A", "Next", "exactly one of Next and End"},
		{"neither Next nor End", machine(`"A":{"Type":"Pass"}`), "A", "Next", "exactly one of Next and End"},
		{"End false", machine(`"A":{"Type":"Pass","End":false}`), "A", "End", "must be true"},
		{"Error and ErrorPath", machine(`"A":{"Type":"Fail","Error":"E","ErrorPath":"$.e"}`), "A", "ErrorPath", "not both"},
		{"Result and Parameters", machine(`"A":{"Type":"Pass","Result":1,"Parameters":{},"End":true}`), "A", "Result", "not both"},
		{"Fail with InputPath", machine(`"A":{"Type":"Fail","InputPath":"$"}`), "A", "InputPath", "not supported"},
		{"long state name", []byte(`{"StartAt":"` + strings.Repeat("s", 81) + `","States":{"` + strings.Repeat("s", 81) + `":{"Type":"Succeed"}}}`), strings.Repeat("s", 81), "", "1 to 80 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := asl.Load(tt.def, asl.Options{Handlers: testHandlers, Substitutions: map[string]string{"X": "x"}})
			var le *asl.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load() error = %v, want a *LoadError", err)
			}
			if le.State != tt.state || le.Field != tt.field {
				t.Errorf("LoadError at state %q field %q, want %q %q (%v)", le.State, le.Field, tt.state, tt.field, err)
			}
			if !strings.Contains(le.Problem, tt.problem) {
				t.Errorf("LoadError %q does not say %q", err, tt.problem)
			}
		})
	}
}

func TestLoadErrorMessage(t *testing.T) {
	tests := []struct {
		err  asl.LoadError
		want string
	}{
		{asl.LoadError{State: "Confirm", Field: "Retry[0].MaxDelaySeconds", Problem: "is not supported"}, `asl: state "Confirm", field Retry[0].MaxDelaySeconds: is not supported`},
		{asl.LoadError{State: "B", Problem: "is not reachable from StartAt"}, `asl: state "B": is not reachable from StartAt`},
		{asl.LoadError{Field: "StartAt", Problem: "is required"}, `asl: field StartAt: is required`},
		{asl.LoadError{Problem: "definition is not JSON"}, `asl: definition is not JSON`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestLoadAppliesSubstitutions(t *testing.T) {
	m, err := asl.Load(machine(`"A":{"Type":"Task","Resource":"arn:test:${Fn}","Parameters":{"topic":"${Topic}/x"},"End":true}`), asl.Options{
		Handlers:      testHandlers,
		Substitutions: map[string]string{"Fn": "echo", "Topic": "arn:aws:sns:eu-west-1:1:t", "Unused": "fine"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Resources()["A"]; got != "arn:test:echo" {
		t.Errorf("resource %q, want arn:test:echo", got)
	}
	ex, err := m.Run(context.Background(), "subst", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(ex.Output), `{"topic":"arn:aws:sns:eu-west-1:1:t/x"}`; got != want {
		t.Errorf("output %s, want %s", got, want)
	}
}
