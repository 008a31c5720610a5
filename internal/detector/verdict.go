package detector

import (
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/state"
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
	LiveEdge *contract.LiveEdge
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

// counts counts an instance's playlists by class and health and concludes its health by the
// rule health.Decide applies, without allocating: the loop takes the health with it after every
// poll.
type counts = health.Counts
