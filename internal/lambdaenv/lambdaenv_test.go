package lambdaenv

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"github.com/clustered-video-streams/cvs/internal/testenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// byRegion sends each region's DynamoDB requests to its own endpoint.
type byRegion map[string]string

func (b byRegion) ResolveEndpoint(_ context.Context, p dynamodb.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u, err := url.Parse(b[aws.ToString(p.Region)])
	if err != nil || u.Host == "" {
		return smithyendpoints.Endpoint{}, errors.New("no endpoint for region " + aws.ToString(p.Region))
	}
	return smithyendpoints.Endpoint{URI: *u}, nil
}

// deadEndpoint returns a loopback URL where nothing listens: connections are refused, as by a
// region that is down.
func deadEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestStateStoreNeedsTheTable(t *testing.T) {
	_, err := StateStore(aws.Config{Region: "us-east-1"}, env(nil), LocalFallback)
	if err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Fatalf("StateStore = %v, want an error naming TABLE_NAME", err)
	}
}

// TestStateStoreFallback reads the cluster list while the control region (eu-west-1) is down and
// this function's region (us-east-1) is DynamoDB Local: the store falls back to this region's
// replica only when it has one, that is with LocalFallback and a control region elsewhere.
// (Reads and an operator's forced closes and opens fall back; other writes never do.)
func TestStateStoreFallback(t *testing.T) {
	d := testenv.DynamoDB(t)
	table := d.StateTable(t)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	routes := func(o *dynamodb.Options) {
		o.EndpointResolverV2 = byRegion{"us-east-1": d.Endpoint, "eu-west-1": deadEndpoint(t)}
		o.RetryMaxAttempts = 1
	}
	for _, tc := range []struct {
		name          string
		control       string
		fallback      Fallback
		wantFallbacks int64
		wantErr       bool
	}{
		{"control region down, fallback to this region", "eu-west-1", LocalFallback, 1, false},
		{"control region down, control only", "eu-west-1", ControlOnly, 0, true},
		{"control region is this region", "", LocalFallback, 0, false},
		{"control region named as this region", "us-east-1", ControlOnly, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := StateStore(cfg, env(map[string]string{"TABLE_NAME": table, "CONTROL_REGION": tc.control}), tc.fallback, routes)
			if err != nil {
				t.Fatal(err)
			}
			_, err = store.Clusters(context.Background())
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("clusters: %v, want error %v", err, tc.wantErr)
			}
			if got := store.Stats().Fallbacks; got != tc.wantFallbacks {
				t.Errorf("fallbacks = %d, want %d", got, tc.wantFallbacks)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		name, value, def string
		want             time.Duration
		wantErr          bool
	}{
		{"whole seconds", "300", "", 300 * time.Second, false},
		{"zero", "0", "", 0, false},
		{"unset with a default", "", "4", 4 * time.Second, false},
		{"unset without a default", "", "", 0, true},
		{"a duration is not seconds", "5m", "", 0, true},
		{"negative", "-1", "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Seconds(env(map[string]string{"HOLD_DOWN_SECONDS": tc.value}), "HOLD_DOWN_SECONDS", tc.def)
			if gotErr := err != nil; gotErr != tc.wantErr || got != tc.want {
				t.Fatalf("Seconds = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "HOLD_DOWN_SECONDS") {
				t.Errorf("error %q does not name the variable", err)
			}
		})
	}
}

func TestMust(t *testing.T) {
	t.Run("built handler is returned", func(t *testing.T) {
		var logs strings.Builder
		exited := -1
		if got := must(42, nil, &logs, func(code int) { exited = code }); got != 42 || exited != -1 || logs.Len() != 0 {
			t.Fatalf("must = %d, exit %d, logs %q; want 42, no exit, no logs", got, exited, logs.String())
		}
	})
	t.Run("build error is logged and exits 1", func(t *testing.T) {
		t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "cvs-close")
		var logs strings.Builder
		exited := -1
		must(0, errors.New("TABLE_NAME is not set"), &logs, func(code int) { exited = code })
		var line struct{ Level, Msg, Function, Err string }
		if err := json.Unmarshal([]byte(logs.String()), &line); err != nil {
			t.Fatalf("log %q is not one JSON line: %v", logs.String(), err)
		}
		if exited != 1 || line.Level != "ERROR" || line.Msg != "cannot start" || line.Function != "cvs-close" || line.Err != "TABLE_NAME is not set" {
			t.Fatalf("exit %d, log %+v; want exit 1 and an error line naming the function and the cause", exited, line)
		}
	})
}
