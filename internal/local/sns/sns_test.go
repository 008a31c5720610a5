package sns_test

import (
	"testing"

	"github.com/clustered-video-streams/cvs/internal/topic/topictest"
)

func TestContract(t *testing.T) {
	topictest.Run(t, topictest.Twin)
}
