package tests

import (
	"strconv"
	"testing"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/metric"
)

// TestTemplatePlaylistSizeLimit: one parameter sets the playlist size limit of every function
// that reads playlists, its default is the code's, and an alarm sends the metric the functions
// log for an oversized playlist to the operators' topic.
func TestTemplatePlaylistSizeLimit(t *testing.T) {
	root := foTemplate(t)
	param := foNode(t, root, "Parameters", "MaxPlaylistBytes")
	if got := foNode(t, param, "Default").Value; got != strconv.Itoa(hls.DefaultMaxBody) {
		t.Errorf("MaxPlaylistBytes default %s, want hls.DefaultMaxBody %d", got, hls.DefaultMaxBody)
	}
	for _, fn := range []string{"DetectorFunction", "ConfirmFunction", "MergeFunction", "SweeperFunction"} {
		v := child(foNode(t, root, "Resources", fn, "Properties", "Environment", "Variables"), hls.EnvMaxBody)
		if v == nil || v.Tag != "!Ref" || v.Value != "MaxPlaylistBytes" {
			t.Errorf("%s: %s is not !Ref MaxPlaylistBytes", fn, hls.EnvMaxBody)
		}
	}
	alarm := foNode(t, root, "Resources", "PlaylistTooLargeAlarm", "Properties")
	if ns, name := foNode(t, alarm, "Namespace").Value, foNode(t, alarm, "MetricName").Value; ns != metric.Namespace || name != metric.PlaylistTooLarge {
		t.Errorf("PlaylistTooLargeAlarm watches %s/%s, want %s/%s", ns, name, metric.Namespace, metric.PlaylistTooLarge)
	}
	if child(alarm, "Dimensions") != nil {
		t.Error("PlaylistTooLargeAlarm has dimensions; the functions log the metric without any")
	}
	actions := foNode(t, alarm, "AlarmActions")
	if len(actions.Content) != 1 || actions.Content[0].Tag != "!Ref" || actions.Content[0].Value != "OperatorAlarmTopic" {
		t.Error("PlaylistTooLargeAlarm does not notify OperatorAlarmTopic")
	}
}
