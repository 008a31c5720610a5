package detector

import (
	"time"

	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/workflow"
)

// playlistView is one playlist's conclusion as the verdict sees it.
type playlistView struct {
	URL   string
	Class class
	// Health is the tracker's conclusion, or state.HealthUnknown while a playlist that was never
	// read has not failed long enough to be unreachable.
	Health state.Health
	Reason string
	// StaleFor is how long the playlist had shown no progress at its last observation; Down how
	// long it had been failing: since its last good read, or since its first failure when it was
	// never read.
	StaleFor time.Duration
	Down     time.Duration
	// The last good read's facts; zero when the playlist was never read.
	MediaSequence  uint64
	TargetDuration time.Duration
	LastChange     time.Time
	// LiveEdge is the tracker's live-edge evidence, sent in events so that Confirm judges the
	// origin by the same rule; nil when the playlist was never read.
	LiveEdge *workflow.LiveEdge
}

// verdict is an instance's health as concluded from its playlists.
type verdict = health.Verdict

// tolerance is how many stale or unreachable playlists of each class an instance may have and
// still be fresh.
type tolerance = health.Tolerance

// decide concludes an instance's health from its playlists by the rule the Confirm task also
// applies (health.Decide): ended when every playlist has ended, stale or unreachable when some
// class has more bad playlists than its tolerance, unknown (no event) while playlists never read
// could still tip the balance, fresh otherwise.
func decide(views []playlistView, tol tolerance) verdict {
	playlists := make([]health.Playlist, len(views))
	for i, v := range views {
		playlists[i] = health.Playlist{URL: v.URL, Class: v.Class, Health: v.Health, Reason: v.Reason, StaleFor: v.StaleFor, Down: v.Down}
	}
	return health.Decide(playlists, tol)
}

// healthCounts counts playlists by health.
type healthCounts struct{ n, fresh, stale, unreachable, ended, unknown int }

func (k *healthCounts) add(h state.Health) {
	k.n++
	switch h {
	case state.HealthFresh:
		k.fresh++
	case state.HealthStale:
		k.stale++
	case state.HealthUnreachable:
		k.unreachable++
	case state.HealthEnded:
		k.ended++
	default:
		k.unknown++
	}
}

// classCounts counts an instance's playlists by class (a class other than audio counts as
// video, as in health.Decide) and health.
type classCounts struct{ video, audio healthCounts }

func (c *classCounts) add(cl class, h state.Health) {
	if cl == classAudio {
		c.audio.add(h)
		return
	}
	c.video.add(h)
}

// health is the health health.Decide concludes from playlists counted in c, with the given
// tolerances, without its reason: the same rule, checked against health.Decide by
// TestClassCountsHealthIsDecide.
func (c *classCounts) health(videoTol, audioTol int) state.Health {
	total := healthCounts{
		n:           c.video.n + c.audio.n,
		fresh:       c.video.fresh + c.audio.fresh,
		stale:       c.video.stale + c.audio.stale,
		unreachable: c.video.unreachable + c.audio.unreachable,
		ended:       c.video.ended + c.audio.ended,
		unknown:     c.video.unknown + c.audio.unknown,
	}
	switch {
	case total.n == 0:
		return state.HealthUnknown
	case total.ended == total.n:
		return state.HealthEnded
	}
	offending, anyStale, undecided := false, false, false
	for _, k := range []struct {
		c   *healthCounts
		tol int
	}{{&c.video, videoTol}, {&c.audio, audioTol}} {
		if k.c.n == 0 {
			continue
		}
		bad := k.c.stale + k.c.unreachable
		switch {
		case bad > k.tol:
			offending = true
			anyStale = anyStale || k.c.stale > 0
		case bad+k.c.unknown > k.tol:
			undecided = true
		}
	}
	switch {
	case offending && anyStale:
		return state.HealthStale
	case offending:
		return state.HealthUnreachable
	case undecided, total.fresh == 0 && total.unknown > 0:
		return state.HealthUnknown
	case total.fresh == 0:
		return state.HealthEnded
	}
	return state.HealthFresh
}
