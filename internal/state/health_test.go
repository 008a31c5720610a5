package state_test

import (
	"testing"

	"github.com/clustered-video-streams/cvs/internal/state"
)

func TestHealthSets(t *testing.T) {
	for _, c := range []struct {
		h                      state.Health
		valid, judged, isStale bool
	}{
		{h: state.HealthUnknown, valid: true},
		{h: state.HealthFresh, valid: true, judged: true},
		{h: state.HealthStale, valid: true, judged: true, isStale: true},
		{h: state.HealthUnreachable, valid: true, judged: true, isStale: true},
		{h: state.HealthEnded, valid: true, judged: true},
		{h: ""},
		{h: "dead"},
	} {
		t.Run(string(c.h), func(t *testing.T) {
			if got := c.h.Valid(); got != c.valid {
				t.Errorf("Valid()=%v, want %v", got, c.valid)
			}
			if got := c.h.Judged(); got != c.judged {
				t.Errorf("Judged()=%v, want %v", got, c.judged)
			}
			if got := c.h.IsStale(); got != c.isStale {
				t.Errorf("IsStale()=%v, want %v", got, c.isStale)
			}
		})
	}
}
