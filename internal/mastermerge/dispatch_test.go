package mastermerge_test

import (
	"context"
	"strings"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/mastermerge"
	"github.com/clustered-video-streams/cvs/internal/mastermerge/regen"
	"github.com/clustered-video-streams/cvs/internal/testenv"
)

func TestDispatch(t *testing.T) {
	type pairOutcome struct{ Payload string }
	tests := []struct {
		name     string
		payload  []byte
		toPair   bool   // the payload reaches the encoder pair's handler
		wantErr  string // for the master: the failing state table's error
		wantKind regen.ErrorKind
	}{
		{name: "encoder upload sample event", payload: testenv.SampleEvent(t, "merge-encoder-primary.json"), toPair: true},
		{name: "failover encoder upload sample event", payload: testenv.SampleEvent(t, "merge-encoder-failover.json"), toPair: true},
		{name: "cluster request sample event", payload: testenv.SampleEvent(t, "merge-cluster.json"), wantErr: "state table down"},
		{name: "cluster request with a bad name", payload: []byte(`{"cluster":"no spaces allowed"}`), wantKind: regen.KindInvalid},
		{name: "cluster and Records is a notification", payload: []byte(`{"cluster":"live-1","Records":[]}`), toPair: true},
		{name: "not JSON", payload: []byte(`not json`), toPair: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			h := mastermerge.Dispatch(mustService(t), func(_ context.Context, p []byte) (*pairOutcome, error) {
				got = p
				return &pairOutcome{Payload: string(p)}, nil
			})
			out, err := h(context.Background(), tt.payload)
			if tt.toPair {
				if err != nil || string(got) != string(tt.payload) {
					t.Fatalf("handler = %v, %v; pair got %q, want the payload passed to the encoder pair", out, err, got)
				}
				if o, ok := out.(*pairOutcome); !ok || o.Payload != string(tt.payload) {
					t.Fatalf("answer %#v, want the pair's outcome", out)
				}
				return
			}
			if got != nil {
				t.Fatalf("the encoder pair got %q, want the request sent to the master service", got)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("handler = %v, %v; want the master service's error %q", out, err, tt.wantErr)
				}
				return
			}
			r, ok := out.(*regen.Result)
			if err != nil || !ok || r.ErrorKind != tt.wantKind {
				t.Fatalf("handler = %#v, %v; want a Result with ErrorKind %q", out, err, tt.wantKind)
			}
		})
	}
}
