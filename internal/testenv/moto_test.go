package testenv

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestMotoAnswers(t *testing.T) {
	endpoint := Moto(t, "the moto launcher test")
	resp, err := http.Post(endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("POST /moto-api/reset status = %d, want %d", got, want)
	}
}

// TestMotoWithEnv starts moto with INITIAL_NO_AUTH_ACTION_COUNT=0, which switches on its IAM
// checks: a request under the dummy key that plain Moto accepts is refused as an unknown key, so
// the variable reached the server.
func TestMotoWithEnv(t *testing.T) {
	listQueues := func(endpoint string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader("Action=ListQueues"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+DummyAccessKeyID+"/20250301/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("ListQueues: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if got, body := listQueues(Moto(t, "the moto launcher test")); got != http.StatusOK {
		t.Fatalf("plain moto: ListQueues status %d, want 200: %s", got, body)
	}
	strict := MotoWith(t, "the moto launcher test", MotoOptions{Env: []string{"INITIAL_NO_AUTH_ACTION_COUNT=0"}})
	if got, body := listQueues(strict); got != http.StatusForbidden || !strings.Contains(body, "InvalidClientTokenId") {
		t.Fatalf("moto with IAM checks: ListQueues status %d, want 403 InvalidClientTokenId: %s", got, body)
	}
}
