package testenv

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
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
	strict := MotoWith(t, "the moto launcher test", "INITIAL_NO_AUTH_ACTION_COUNT=0")
	if got, body := listQueues(strict); got != http.StatusForbidden || !strings.Contains(body, "InvalidClientTokenId") {
		t.Fatalf("moto with IAM checks: ListQueues status %d, want 403 InvalidClientTokenId: %s", got, body)
	}
}

// TestMotoRunsTasksOnItself runs a one-task state machine (an SNS publish) in moto's Step
// Functions engine, which makes that call at localhost:$MOTO_PORT, while the test's environment
// carries a MOTO_PORT of another server: the task succeeds only if the server got its own.
func TestMotoRunsTasksOnItself(t *testing.T) {
	t.Setenv("MOTO_PORT", "5999")
	endpoint := Moto(t, "the moto launcher test")
	ctx := context.Background()
	resp, err := http.Post(endpoint+"/moto-api/config", "application/json", strings.NewReader(`{"stepfunctions":{"execute_state_machine":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(DummyAccessKeyID, DummySecretAccessKey, ""), BaseEndpoint: aws.String(endpoint)}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("notes")})
	if err != nil {
		t.Fatal(err)
	}
	sf := sfn.NewFromConfig(cfg)
	def := `{"StartAt":"Publish","States":{"Publish":{"Type":"Task","Resource":"arn:aws:states:::sns:publish",` +
		`"Parameters":{"TopicArn":"` + aws.ToString(topic.TopicArn) + `","Message":"hello"},"End":true}}}`
	sm, err := sf.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("publish"), Definition: aws.String(def),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/sfn")})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(25 * time.Millisecond) {
		d, err := sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			if d.Status != sfntypes.ExecutionStatusSucceeded {
				t.Fatalf("execution %s: %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("execution still running after 20s")
		}
	}
}
