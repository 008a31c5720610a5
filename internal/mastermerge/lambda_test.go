package mastermerge_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	awslambda "github.com/clustered-video-streams/cvs/internal/aws/lambda"
	"github.com/clustered-video-streams/cvs/internal/invoke"
	locals3 "github.com/clustered-video-streams/cvs/internal/local/s3"
	"github.com/clustered-video-streams/cvs/internal/mastermerge"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

const functionName = "cvs-merge"

// lambdaStandIn serves Lambda's Invoke API (POST /2015-03-31/functions/NAME/invocations) on
// loopback and runs each invocation through the merge function's request handler, answering as
// Lambda does: the handler's JSON, or X-Amz-Function-Error with {errorMessage, errorType}. No
// local server runs Go Lambdas, so this is the wire-level stand-in.
func lambdaStandIn(t *testing.T, svc *mastermerge.Service) *regen.Invoker {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/"+functionName+"/invocations" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"Type":"User","message":"Function not found"}`)
			return
		}
		if got := r.Header.Get("X-Amz-Invocation-Type"); got != "RequestResponse" {
			t.Errorf("invocation type %q, want RequestResponse", got)
		}
		payload, _ := io.ReadAll(r.Body)
		res, err := svc.HandleRequest(r.Context(), payload)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			json.NewEncoder(w).Encode(map[string]string{"errorMessage": err.Error(), "errorType": "errorString"})
			return
		}
		json.NewEncoder(w).Encode(res)
	}))
	t.Cleanup(srv.Close)
	return &regen.Invoker{Functions: awslambda.New(lambda.NewFromConfig(motoclient.Config(srv.URL))), FunctionName: functionName}
}

func TestInvokerFunctionError(t *testing.T) {
	svc, err := mastermerge.New(mastermerge.Config{Store: failingStore{}, Fetcher: nil, Targets: nil})
	if err == nil || svc != nil {
		t.Fatal("New accepted a config without fetcher and targets")
	}
	// A state table that fails inside the function: the invoker reports the function error.
	inv := lambdaStandIn(t, mustService(t))
	_, err = inv.Regenerate(context.Background(), regen.Request{Cluster: "live-1"})
	var fe *invoke.FunctionError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "state table down") {
		t.Fatalf("err = %v, want a FunctionError carrying the store's failure", err)
	}
	inv.FunctionName = "no-such-function"
	if _, err := inv.Regenerate(context.Background(), regen.Request{Cluster: "live-1"}); err == nil || !strings.Contains(err.Error(), "no-such-function") {
		t.Fatalf("err = %v, want the invocation error naming the function", err)
	}
}

type failingStore struct{}

func (failingStore) Instances(context.Context, string) ([]state.Instance, error) {
	return nil, errors.New("state table down")
}

func mustService(t *testing.T) *mastermerge.Service {
	t.Helper()
	svc, err := mastermerge.New(mastermerge.Config{Store: failingStore{}, Fetcher: &origin.Fetcher{},
		Targets: []mastermerge.Target{{Region: "us-east-1", Bucket: "b", S3: locals3.New(locals3.Config{})}}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestHandleRequestDecodesStrictly(t *testing.T) {
	// mustService's store fails every read: a request that decoded would report that failure.
	svc := mustService(t)
	for _, tc := range []struct{ name, payload, want string }{
		{"cluster in capitals", `{"CLUSTER":"live-1"}`, `unknown field "CLUSTER"`},
		{"cluster twice in two cases", `{"cluster":"live-1","Cluster":"live-2"}`, `unknown field "Cluster"`},
		{"cluster twice", `{"cluster":"live-1","cluster":"live-2"}`, `duplicate field "cluster"`},
		{"a trailing brace", `{"cluster":"live-1"}}`, "has data after the object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := svc.HandleRequest(context.Background(), []byte(tc.payload))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "state table down") {
				t.Fatalf("HandleRequest(%s) = %+v, %v; want it refused: %q", tc.payload, res, err, tc.want)
			}
		})
	}
}
