package sns_test

import (
	"testing"

	"github.com/clustered-video-streams/cvs/internal/aws/sns/snstest"
	"github.com/clustered-video-streams/cvs/internal/topic/topictest"
)

// TestContract runs the publish contract, filter policies included, on the adapter against
// moto_server: what moto delivers is what the twin must deliver.
func TestContract(t *testing.T) {
	topictest.Run(t, snstest.Moto)
}
