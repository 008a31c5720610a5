package kvs_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"

	"github.com/clustered-video-streams/cvs/internal/aws/kvs"
	"github.com/clustered-video-streams/cvs/internal/edgekv"
	"github.com/clustered-video-streams/cvs/internal/edgekv/edgekvtest"
	"github.com/clustered-video-streams/cvs/internal/local/kvsfake"
)

// TestContract runs the store contract on the adapter against the wire-level fake, which
// refuses any request that is not SigV4A-signed.
func TestContract(t *testing.T) {
	edgekvtest.Run(t, func(t *testing.T) edgekv.Store {
		srv := kvsfake.New()
		t.Cleanup(func() {
			if v := srv.Violations(); len(v) > 0 {
				t.Errorf("requests the service would refuse: %v", v)
			}
			srv.Close()
		})
		c := awskvs.New(awskvs.Options{
			Region:       "eu-west-1",
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
			BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.HTTPClient(), RetryMaxAttempts: 1,
		})
		return kvs.New(c, kvsfake.ARN)
	})
}
