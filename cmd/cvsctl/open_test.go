package main

import (
	"context"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/state"
)

// TestOpenForce checks that `cvsctl open --force` asks the API for a forced open, the one an
// operator needs while the control region is down, and that the audit trail records it.
func TestOpenForce(t *testing.T) {
	dummyAWS(t, opsKeyID, opsSecret)
	srv, store := deployedAPI(t)
	if _, err := store.Close(context.Background(), opsCluster, opsD1, state.Change{By: "local:setup", Reason: "setup"}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runWith(t, srv.Client(), "open", "--endpoint", srv.URL, "--reason", "control region down, reopening", "--force", opsCluster, opsD1)
	if code != exitOK {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	page, err := store.History(context.Background(), state.HistoryQuery{Cluster: opsCluster, Domain: opsD1, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r := page.Records[0]; r.Field != state.FieldOpen || r.After != "true" || !r.Force || r.By != opsARN {
		t.Fatalf("newest record = %+v, want a forced open by %s", r, opsARN)
	}
}
