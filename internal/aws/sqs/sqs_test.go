package sqs_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	sqsadapter "github.com/clustered-video-streams/cvs/internal/aws/sqs"
	"github.com/clustered-video-streams/cvs/internal/queue/queuetest"
	"github.com/clustered-video-streams/cvs/internal/testenv"
	"github.com/clustered-video-streams/cvs/internal/testenv/motoclient"
)

// TestContract runs the queue contract on moto_server, whose delays and visibility timeouts
// run on the wall clock: the suite's Wait sleeps.
func TestContract(t *testing.T) {
	endpoint := testenv.Moto(t, "the SQS adapter contract")
	client := awssqs.NewFromConfig(motoclient.Config(endpoint))
	var n atomic.Int64
	queuetest.Run(t, func(t *testing.T) queuetest.Harness {
		out, err := client.CreateQueue(context.Background(), &awssqs.CreateQueueInput{
			QueueName:  aws.String(fmt.Sprintf("cvs-contract-%d", n.Add(1))),
			Attributes: map[string]string{"VisibilityTimeout": fmt.Sprint(int(queuetest.Visibility / time.Second))},
		})
		if err != nil {
			t.Fatal(err)
		}
		return queuetest.Harness{Queue: sqsadapter.New(client, aws.ToString(out.QueueUrl)), Wait: time.Sleep, Now: time.Now}
	})
}
