package dynamo_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

// controlClient is a client of a control region at endpoint, without SDK retries so that tests
// of an unreachable region stay quick.
func controlClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1,
	})
}

// awsError answers every request like DynamoDB answering with an error of the JSON protocol.
func awsError(status int, code string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"from the test's control region"}`, code)
	}
}

// TestControlRegionUnavailable runs the fallback rules (package doc) with the control region
// unreachable in several ways and the local region's replica on DynamoDB Local.
func TestControlRegionUnavailable(t *testing.T) {
	d := db.Get(t)
	for _, tc := range []struct {
		name     string
		endpoint func(t *testing.T) string
	}{
		{"closed port", func(t *testing.T) string { return fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t)) }},
		{"server errors", func(t *testing.T) string {
			srv := httptest.NewServer(awsError(http.StatusInternalServerError, "InternalServerError"))
			t.Cleanup(srv.Close)
			return srv.URL
		}},
		{"no answer within the control timeout", func(t *testing.T) string {
			stop := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-stop:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(func() { close(stop); srv.Close() })
			return srv.URL
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := d.StateTable(t)
			local := d.Client("eu-west-1")
			healthy, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "eu-west-1", Control: local})
			if err != nil {
				t.Fatal(err)
			}
			for _, dom := range []string{"a.example", "b.example"} {
				if _, err := healthy.Register(ctx, reg("news", dom), state.Change{By: "ops"}); err != nil {
					t.Fatal(err)
				}
				if _, err := healthy.RecordHealth(ctx, "news", dom, state.HealthFresh, state.Change{By: "detector"}); err != nil {
					t.Fatal(err)
				}
			}
			st, err := dynamo.New(dynamo.Config{
				Table: table, ControlRegion: "us-east-1", Control: controlClient(tc.endpoint(t)), Local: local,
				ControlTimeout: 300 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}

			t.Run("automated close is refused and writes nothing", func(t *testing.T) {
				before, _ := healthy.History(ctx, state.HistoryQuery{Cluster: "news"})
				_, err := st.Close(ctx, "news", "a.example", state.Change{By: "workflow", Reason: "stale"})
				var unavailable *state.ControlRegionUnavailableError
				if !errors.As(err, &unavailable) {
					t.Fatalf("Close error = %v, want *state.ControlRegionUnavailableError", err)
				}
				if got, want := unavailable.ControlRegion, "us-east-1"; got != want {
					t.Errorf("ControlRegion = %q, want %q", got, want)
				}
				in, err := healthy.Instance(ctx, "news", "a.example")
				if err != nil || !in.Open {
					t.Errorf("after the refused close: open=%v err=%v, want open", in.Open, err)
				}
				after, _ := healthy.History(ctx, state.HistoryQuery{Cluster: "news"})
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("refused close changed the history (-before +after):\n%s", diff)
				}
			})

			t.Run("an operator's forced close falls back and is audited as forced", func(t *testing.T) {
				in, err := st.Close(ctx, "news", "a.example", state.Change{By: "operator", Reason: "region down", Force: true})
				if err != nil {
					t.Fatalf("forced Close: %v", err)
				}
				if in.Open {
					t.Errorf("forced close left the instance open")
				}
				newest(t, healthy, "a.example", state.FieldOpen, true, true)
			})

			// Every write of an instance item in the local replica replicates as a whole item
			// and could undo a close made in the control region: only an operator's explicit
			// (forced) close or open falls back.
			for _, w := range []struct {
				name, op string
				write    func() error
			}{
				{"a health record", "record health", func() error {
					_, err := st.RecordHealth(ctx, "news", "a.example", state.HealthStale, state.Change{By: "detector"})
					return err
				}},
				{"the detector's memory", "save detector memory", func() error {
					_, err := st.SaveDetector(ctx, "news", "a.example", []byte(`{"v":1}`), 0)
					return err
				}},
				{"an automated open", "open", func() error {
					_, err := st.Open(ctx, "news", "a.example", state.Change{By: "arn:aws:states:eu-west-1:123456789012:execution:failback:x"})
					return err
				}},
				{"a registration", "register", func() error {
					_, err := st.Register(ctx, reg("news", "c.example"), state.Change{By: "operator"})
					return err
				}},
			} {
				t.Run(w.name+" is refused and writes nothing", func(t *testing.T) {
					before := values(t, local, table)
					err := w.write()
					var unavailable *state.ControlRegionUnavailableError
					if !errors.As(err, &unavailable) {
						t.Fatalf("error = %v, want *state.ControlRegionUnavailableError", err)
					}
					if got, want := unavailable.Op, w.op; got != want {
						t.Errorf("ControlRegionUnavailableError.Op = %q, want %q", got, want)
					}
					if diff := cmp.Diff(before, values(t, local, table)); diff != "" {
						t.Errorf("the refused write changed the local replica (-before +after):\n%s", diff)
					}
				})
			}

			t.Run("an operator's forced open falls back and is audited as forced", func(t *testing.T) {
				if _, err := st.Open(ctx, "news", "a.example", state.Change{By: "operator", Reason: "back", Force: true}); err != nil {
					t.Fatalf("forced Open: %v", err)
				}
				newest(t, healthy, "a.example", state.FieldOpen, true, true)
			})

			t.Run("reads fall back to the local replica", func(t *testing.T) {
				ins, err := st.Instances(ctx, "news")
				if err != nil || len(ins) != 2 {
					t.Fatalf("Instances = %d instances, %v; want 2", len(ins), err)
				}
				if _, err := st.Instance(ctx, "news", "b.example"); err != nil {
					t.Errorf("Instance: %v", err)
				}
				if _, _, err := st.LoadDetector(ctx, "news", "b.example"); err != nil {
					t.Errorf("LoadDetector: %v", err)
				}
				if cl, err := st.Clusters(ctx); err != nil || !cmp.Equal(cl, []string{"news"}) {
					t.Errorf("Clusters = %q, %v", cl, err)
				}
				if p, err := st.History(ctx, state.HistoryQuery{Cluster: "news", Limit: 2}); err != nil || len(p.Records) != 2 {
					t.Errorf("History = %d records, %v", len(p.Records), err)
				}
			})

			if st.Stats().Fallbacks == 0 {
				t.Errorf("Stats().Fallbacks = 0")
			}
		})
	}
}

// values returns every item of a table as attribute name -> value text, ordered by key.
func values(t *testing.T, c *dynamodb.Client, table string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, item := range rawItems(t, c, table) {
		m := map[string]string{}
		for name := range item {
			m[name] = s(item, name)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b map[string]string) int {
		return strings.Compare(a["cluster"]+"\x00"+a["domain"], b["cluster"]+"\x00"+b["domain"])
	})
	return out
}

// newest checks the newest audit record of an instance.
func newest(t *testing.T, s state.Store, domain string, f state.Field, fallback, force bool) {
	t.Helper()
	p, err := s.History(ctx, state.HistoryQuery{Cluster: "news", Domain: domain, Limit: 1})
	if err != nil || len(p.Records) != 1 {
		t.Fatalf("History(%s) = %+v, %v", domain, p, err)
	}
	r := p.Records[0]
	if r.Field != f || r.Fallback != fallback || r.Force != force {
		t.Errorf("newest record of %s: field=%s fallback=%v force=%v, want %s %v %v", domain, r.Field, r.Fallback, r.Force, f, fallback, force)
	}
}

// TestControlRegionAnswersAreNotFallbacks: an error the control region answers with (here a
// validation error) is a decision, not unavailability, so nothing goes to the local replica.
func TestControlRegionAnswersAreNotFallbacks(t *testing.T) {
	d := db.Get(t)
	table := d.StateTable(t)
	local := d.Client("eu-west-1")
	srv := httptest.NewServer(awsError(http.StatusBadRequest, "ValidationException"))
	defer srv.Close()
	st, err := dynamo.New(dynamo.Config{Table: table, ControlRegion: "us-east-1", Control: controlClient(srv.URL), Local: local})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Register(ctx, reg("news", "a.example"), state.Change{By: "ops"})
	if err == nil {
		t.Fatalf("Register succeeded although the control region refused it")
	}
	var unavailable *state.ControlRegionUnavailableError
	if errors.As(err, &unavailable) {
		t.Errorf("error %v is a ControlRegionUnavailableError", err)
	}
	if items := rawItems(t, local, table); len(items) != 0 {
		t.Errorf("the local replica holds %d items, want none", len(items))
	}
	if got := st.Stats().Fallbacks; got != 0 {
		t.Errorf("Stats().Fallbacks = %d, want 0", got)
	}
}

// TestNoLocalReplicaNoFallback: without a Local client every call needs the control region.
func TestNoLocalReplicaNoFallback(t *testing.T) {
	st, err := dynamo.New(dynamo.Config{Table: "cvs-state", ControlRegion: "us-east-1",
		Control: controlClient(fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t)))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Register(ctx, reg("news", "a.example"), state.Change{By: "ops"}); err == nil {
		t.Errorf("Register succeeded with the only region unreachable")
	}
	_, err = st.Close(ctx, "news", "a.example", state.Change{By: "workflow"})
	var unavailable *state.ControlRegionUnavailableError
	if !errors.As(err, &unavailable) {
		t.Errorf("Close error = %v, want *state.ControlRegionUnavailableError", err)
	}
}
