package testenv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// TestOfflineAWS loads the SDK's default configuration as a function's build does, over a
// machine setup that would otherwise win (a profile and other credentials), and checks the one
// request it makes: signed with the dummy key for us-east-1, sent to the loopback endpoint.
func TestOfflineAWS(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{"TableNames":[]}`))
	}))
	defer srv.Close()
	t.Setenv("AWS_PROFILE", "production")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY")
	t.Setenv("AWS_REGION", "eu-central-1")

	OfflineAWS(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": srv.URL})
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	if cfg.Region != "us-east-1" {
		t.Errorf("region %q, want us-east-1", cfg.Region)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables on the loopback endpoint: %v", err)
	}
	if want := "Credential=" + DummyAccessKeyID + "/"; !strings.Contains(auth, want) || !strings.Contains(auth, "/us-east-1/dynamodb/") {
		t.Errorf("Authorization %q, want the dummy key signing for us-east-1", auth)
	}
}
