package tests

import (
	"testing"

	"github.com/clustered-video-streams/cvs/internal/health"
)

// TestTemplateOneStalenessSetting: every function that judges staleness takes the multiplier
// from one parameter under one variable name, so the detector, Confirm and the sweeper cannot
// judge a playlist by different rules.
func TestTemplateOneStalenessSetting(t *testing.T) {
	root := foTemplate(t)
	const param = "StaleMultiplier"
	if foNode(t, root, "Parameters", param) == nil {
		t.Fatalf("template.yaml has no parameter %s", param)
	}
	for _, fn := range []string{"DetectorFunction", "ConfirmFunction", "SweeperFunction"} {
		t.Run(fn, func(t *testing.T) {
			vars := foNode(t, root, "Resources", fn, "Properties", "Environment", "Variables")
			v := child(vars, health.EnvStaleMultiplier)
			if v == nil {
				t.Fatalf("%s does not set %s", fn, health.EnvStaleMultiplier)
			}
			if v.Tag != "!Ref" || v.Value != param {
				t.Errorf("%s: %s is %s %q, want !Ref %s", fn, health.EnvStaleMultiplier, v.Tag, v.Value, param)
			}
		})
	}
}
