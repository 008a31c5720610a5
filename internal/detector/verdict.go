package detector

import (
	"fmt"
	"strings"
	"time"

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
type verdict struct {
	Health   state.Health
	Reason   string
	StaleFor time.Duration
}

// tolerance is how many stale or unreachable playlists of each class an instance may have and
// still be fresh.
type tolerance map[class]int

// decide concludes an instance's health from its playlists:
//   - ended when every playlist has ended (#EXT-X-ENDLIST): not a failure;
//   - stale or unreachable when, in some class, more playlists than its tolerance are stale or
//     unreachable: unreachable when none of those classes' bad playlists is stale (they all
//     fail to answer), stale otherwise;
//   - unknown (no event) while playlists that were never read could still tip the balance, or
//     when there is nothing to judge;
//   - fresh otherwise.
func decide(views []playlistView, tol tolerance) verdict {
	if len(views) == 0 {
		return verdict{Health: state.HealthUnknown, Reason: "no playlist to judge"}
	}
	type counts struct{ n, fresh, stale, unreachable, ended, unknown int }
	by := map[class]*counts{}
	var total counts
	for _, v := range views {
		c := by[v.Class]
		if c == nil {
			c = &counts{}
			by[v.Class] = c
		}
		for _, k := range []*counts{c, &total} {
			k.n++
			switch v.Health {
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
	}
	if total.ended == total.n {
		return verdict{Health: state.HealthEnded, Reason: "every playlist has #EXT-X-ENDLIST: the stream has ended"}
	}
	offending := map[class]bool{}
	anyStale := false
	undecided := false
	for _, c := range []class{classVideo, classAudio} {
		k := by[c]
		if k == nil {
			continue
		}
		bad := k.stale + k.unreachable
		switch {
		case bad > tol[c]:
			offending[c] = true
			anyStale = anyStale || k.stale > 0
		case bad+k.unknown > tol[c]:
			undecided = true
		}
	}
	if len(offending) > 0 {
		v := verdict{Health: state.HealthStale}
		if !anyStale {
			v.Health = state.HealthUnreachable
		}
		var why []string
		for _, p := range views {
			if !offending[p.Class] || (p.Health != state.HealthStale && p.Health != state.HealthUnreachable) {
				continue
			}
			why = append(why, fmt.Sprintf("%s %s %s: %s", p.Class, p.URL, p.Health, p.Reason))
			d := p.StaleFor
			if p.Health == state.HealthUnreachable {
				d = max(d, p.Down)
			}
			v.StaleFor = max(v.StaleFor, d)
		}
		v.Reason = strings.Join(why, "; ")
		if v.Health == state.HealthStale && v.StaleFor <= 0 {
			v.StaleFor = time.Millisecond // a stale playlist has been unchanged for some time
		}
		return v
	}
	if undecided {
		return verdict{Health: state.HealthUnknown, Reason: fmt.Sprintf("%d playlist(s) not read yet", total.unknown)}
	}
	if total.fresh == 0 {
		if total.unknown > 0 {
			return verdict{Health: state.HealthUnknown, Reason: fmt.Sprintf("%d playlist(s) not read yet", total.unknown)}
		}
		return verdict{Health: state.HealthEnded, Reason: "the playlists that have not ended are within the tolerance"}
	}
	reason := fmt.Sprintf("%d of %d playlist(s) fresh", total.fresh, total.n)
	if bad := total.stale + total.unreachable; bad > 0 {
		reason += fmt.Sprintf(", %d stale or unreachable within the tolerance", bad)
	}
	return verdict{Health: state.HealthFresh, Reason: reason}
}
