package testenv

import (
	"path/filepath"
	"strings"
	"testing"
)

// DummyAccessKeyID and DummySecretAccessKey are the static credentials OfflineAWS gives the
// SDK's default chain; the loopback servers accept any.
const (
	DummyAccessKeyID     = "AKIDLOCALDUMMY"
	DummySecretAccessKey = "dummy"
)

// OfflineAWS makes the AWS SDK's default configuration chain, for the rest of this test, find
// static dummy credentials, the region us-east-1 and nothing of the machine's own AWS setup (no
// config or credentials file, no profile, no instance metadata), so that a function's build
// loads its configuration as in Lambda and never reaches AWS. endpoints sets endpoint variables
// to loopback servers: AWS_ENDPOINT_URL for every service, AWS_ENDPOINT_URL_DYNAMODB (and so
// on) for one.
//
// Start servers that are separate processes (moto_server) before calling it: they inherit the
// test's environment.
func OfflineAWS(t testing.TB, endpoints map[string]string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	env := map[string]string{
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_PROFILE": "",
		"AWS_ACCESS_KEY_ID": DummyAccessKeyID, "AWS_SECRET_ACCESS_KEY": DummySecretAccessKey, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "", "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "",
	}
	for k, v := range endpoints {
		if !strings.HasPrefix(k, "AWS_ENDPOINT_URL") {
			t.Fatalf("OfflineAWS: %s is not an endpoint variable (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<SERVICE>)", k)
		}
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}
