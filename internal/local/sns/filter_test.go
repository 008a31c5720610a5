package sns_test

import (
	"errors"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/local/sns"
)

func TestParseFilterRefusesWhatItDoesNotImplement(t *testing.T) {
	for _, c := range []struct{ name, policy, scope string }{
		{"numeric", `{"size":[{"numeric":[">",1]}]}`, "MessageBody"},
		{"number literal", `{"size":[1]}`, "MessageBody"},
		{"equals-ignore-case", `{"event":[{"equals-ignore-case":"STALE"}]}`, ""},
		{"wildcard", `{"key":[{"wildcard":"a*"}]}`, "MessageBody"},
		{"$or", `{"$or":[{"a":["x"]},{"b":["y"]}]}`, "MessageBody"},
		{"anything-but prefix", `{"event":[{"anything-but":{"prefix":"f"}}]}`, ""},
		{"nested keys on attributes", `{"a":{"b":["x"]}}`, "MessageAttributes"},
		{"two operators in one object", `{"a":[{"prefix":"x","suffix":"y"}]}`, ""},
		{"unknown scope", `{"a":["x"]}`, "Body"},
		{"empty policy", `{}`, ""},
		{"not JSON", `{"a":`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := sns.ParseFilter([]byte(c.policy), sns.Scope(c.scope))
			var pe *sns.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseFilter(%s) = %v, want a *PolicyError", c.policy, err)
			}
		})
	}
}
