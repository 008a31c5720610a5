// Package health is the rule that concludes a stream instance's health from its playlists'
// health, with its settings; the detector and the Confirm task both judge by it.
package health

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// Class is what a playlist carries; each class has its own tolerance.
type Class string

// Classes.
const (
	// Video: an EXT-X-STREAM-INF variant with video (or of unknown content), an EXT-X-MEDIA
	// TYPE=VIDEO rendition, or an origin URL that is a media playlist.
	Video Class = "video"
	// Audio: an audio-only variant, or an EXT-X-MEDIA TYPE=AUDIO rendition.
	Audio Class = "audio"
)

// Valid reports whether c is Video or Audio.
func (c Class) Valid() bool { return c == Video || c == Audio }

// Tolerance is how many stale or unreachable playlists of each class an instance may have and
// still be fresh. A missing class tolerates none.
type Tolerance map[Class]int

// The environment variables Policy is read from, by the detector and the Confirm task alike.
const (
	EnvStaleMultiplier = "STALE_MULTIPLIER"
	EnvMinFailures     = "MIN_FAILURES"
	EnvVideoTolerance  = "VIDEO_TOLERANCE"
	EnvAudioTolerance  = "AUDIO_TOLERANCE"
)

// DefaultMinFailures is Policy's default number of consecutive failures it takes to be
// unreachable; the multiplier's default is hls.DefaultMultiplier.
const DefaultMinFailures = 2

// Policy is the settings of the health rule: how each playlist's tracker judges it (the
// staleness multiplier and the failures it takes to be unreachable) and how many bad playlists
// of each class an instance tolerates. The zero value of a field means its default.
type Policy struct {
	// Tracker configures every playlist's hls.Tracker: Multiplier, MinFailures and MaxBody (the
	// playlist size limit, which the caller's fetcher applies too) come from the environment.
	Tracker hls.TrackerConfig
	// VideoTolerance and AudioTolerance are how many video and audio playlists of an instance
	// may be stale or unreachable while it still counts as fresh (default 0).
	VideoTolerance int
	AudioTolerance int
}

// Tolerance returns the policy's tolerances by class.
func (p Policy) Tolerance() Tolerance {
	return Tolerance{Video: p.VideoTolerance, Audio: p.AudioTolerance}
}

// WithDefaults fills in the defaults and checks the policy.
func (p Policy) WithDefaults() (Policy, error) {
	if p.Tracker.Multiplier == 0 {
		p.Tracker.Multiplier = hls.DefaultMultiplier
	}
	if p.Tracker.MinFailures == 0 {
		p.Tracker.MinFailures = DefaultMinFailures
	}
	if p.Tracker.MaxBody == 0 {
		p.Tracker.MaxBody = hls.DefaultMaxBody
	}
	var problems []string
	if _, err := hls.NewTracker(p.Tracker); err != nil {
		problems = append(problems, err.Error())
	}
	if p.VideoTolerance < 0 || p.AudioTolerance < 0 {
		problems = append(problems, fmt.Sprintf("tolerances must not be negative (video %d, audio %d)", p.VideoTolerance, p.AudioTolerance))
	}
	if len(problems) > 0 {
		return p, &PolicyError{Problems: problems}
	}
	return p, nil
}

// PolicyError lists what is wrong with a policy or its environment variables.
type PolicyError struct {
	Problems []string
}

func (e *PolicyError) Error() string {
	return "health policy: " + strings.Join(e.Problems, "; ")
}

// PolicyFromEnv reads the policy's settings from environment variables (getenv is os.Getenv in
// Lambda), without filling in defaults:
//
//	STALE_MULTIPLIER   stale or unreachable after this many target durations (1.5)
//	MIN_FAILURES       consecutive failures it takes to be unreachable (2)
//	VIDEO_TOLERANCE    stale or unreachable video playlists tolerated per instance (0)
//	AUDIO_TOLERANCE    stale or unreachable audio playlists tolerated per instance (0)
//	MAX_PLAYLIST_BYTES the playlist size limit, hls.MaxBodyFromEnv (hls.DefaultMaxBody, 16 MiB)
//
// Every malformed value is reported, in one *PolicyError.
func PolicyFromEnv(getenv func(string) string) (Policy, error) {
	var p Policy
	var problems []string
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s=%q: want a whole number", name, v))
				return
			}
			*dst = n
		}
	}
	if m, err := MultiplierFromEnv(getenv); err != nil {
		problems = append(problems, err.Error())
	} else {
		p.Tracker.Multiplier = m
	}
	num(EnvMinFailures, &p.Tracker.MinFailures)
	num(EnvVideoTolerance, &p.VideoTolerance)
	num(EnvAudioTolerance, &p.AudioTolerance)
	maxBody, err := hls.MaxBodyFromEnv(getenv)
	if err != nil {
		problems = append(problems, err.Error())
	}
	p.Tracker.MaxBody = maxBody
	if len(problems) > 0 {
		return p, &PolicyError{Problems: problems}
	}
	return p, nil
}

// MultiplierFromEnv reads the staleness multiplier (hls.StaleAfter) from EnvStaleMultiplier, the
// one setting of every function that judges staleness (detector, Confirm, sweeper): 0 when
// unset, which means hls.DefaultMultiplier.
func MultiplierFromEnv(getenv func(string) string) (float64, error) {
	v := getenv(EnvStaleMultiplier)
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a number", EnvStaleMultiplier, v)
	}
	return f, nil
}

// Problems returns the problems err lists when it is a *PolicyError, else err's message.
func Problems(err error) []string {
	var pe *PolicyError
	if errors.As(err, &pe) {
		return pe.Problems
	}
	return []string{err.Error()}
}

// Playlist is one playlist's conclusion, as Decide sees it.
type Playlist struct {
	URL   string
	Class Class
	// Health is the playlist's tracker's conclusion; state.HealthUnknown while nothing can be
	// concluded (a playlist never read that has not failed long enough, or one a probe cannot
	// judge).
	Health state.Health
	Reason string
	// StaleFor is how long the playlist had shown no progress, Down how long it had been
	// failing; they make the verdict's StaleFor.
	StaleFor time.Duration
	Down     time.Duration
}

// Verdict is an instance's health as concluded from its playlists.
type Verdict struct {
	Health   state.Health
	Reason   string
	StaleFor time.Duration
}

// Counts counts an instance's playlists by class and health, and holds the rule that concludes
// the instance's health from those counts. It allocates nothing, so a loop can take an
// instance's health after every poll; Decide uses it too, so there is one rule. The zero value
// counts no playlist.
type Counts struct{ video, audio tally }

// tally counts one class's (or all) playlists by health.
type tally struct{ n, fresh, stale, unreachable, ended, unknown int }

func (k *tally) add(h state.Health) {
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

// Add counts a playlist of class c in health h. A class other than Audio counts as Video; a
// health other than fresh, stale, unreachable or ended counts as unknown.
func (c *Counts) Add(cl Class, h state.Health) {
	if cl == Audio {
		c.audio.add(h)
		return
	}
	c.video.add(h)
}

func (c *Counts) total() tally {
	return tally{
		n:           c.video.n + c.audio.n,
		fresh:       c.video.fresh + c.audio.fresh,
		stale:       c.video.stale + c.audio.stale,
		unreachable: c.video.unreachable + c.audio.unreachable,
		ended:       c.video.ended + c.audio.ended,
		unknown:     c.video.unknown + c.audio.unknown,
	}
}

// Offending reports which classes have more stale or unreachable playlists than their
// tolerance (a class with no playlist never offends).
func (c *Counts) Offending(tol Tolerance) (video, audio bool) {
	return c.video.n > 0 && c.video.stale+c.video.unreachable > tol[Video],
		c.audio.n > 0 && c.audio.stale+c.audio.unreachable > tol[Audio]
}

// Health concludes the instance's health from the counted playlists (the rule Decide
// documents):
//   - unknown when nothing was counted;
//   - ended when every playlist has ended;
//   - stale when some class offends (see Offending) and an offending class has a stale
//     playlist, unreachable when the offending classes' bad playlists are all unreachable;
//   - unknown while unknown playlists could make a class offend, or when no playlist is fresh
//     and some are unknown;
//   - ended when no playlist is fresh, none is unknown and no class offends (the playlists that
//     have not ended are within the tolerance);
//   - fresh otherwise.
func (c *Counts) Health(tol Tolerance) state.Health {
	total := c.total()
	switch {
	case total.n == 0:
		return state.HealthUnknown
	case total.ended == total.n:
		return state.HealthEnded
	}
	video, audio := c.Offending(tol)
	switch {
	case video && c.video.stale > 0, audio && c.audio.stale > 0:
		return state.HealthStale
	case video, audio:
		return state.HealthUnreachable
	case c.undecided(&c.video, tol[Video]), c.undecided(&c.audio, tol[Audio]),
		total.fresh == 0 && total.unknown > 0:
		return state.HealthUnknown
	case total.fresh == 0:
		return state.HealthEnded
	}
	return state.HealthFresh
}

// undecided reports whether a class within its tolerance could exceed it once its unknown
// playlists are judged.
func (c *Counts) undecided(k *tally, tol int) bool {
	return k.n > 0 && k.stale+k.unreachable+k.unknown > tol
}

// Decide concludes an instance's health from its playlists, by Counts.Health:
//   - ended when every playlist has ended (#EXT-X-ENDLIST): not a failure;
//   - stale or unreachable when, in some class, more playlists than its tolerance are stale or
//     unreachable: unreachable when none of those classes' bad playlists is stale (they all
//     fail to answer), stale otherwise;
//   - unknown while playlists whose health is unknown could still tip the balance, or when
//     there is nothing to judge;
//   - fresh otherwise.
//
// A playlist whose class is not Video or Audio counts as video.
func Decide(playlists []Playlist, tol Tolerance) Verdict {
	if len(playlists) == 0 {
		return Verdict{Health: state.HealthUnknown, Reason: "no playlist to judge"}
	}
	var c Counts
	for _, p := range playlists {
		c.Add(p.Class, p.Health)
	}
	total := c.total()
	switch h := c.Health(tol); h {
	case state.HealthEnded:
		if total.ended == total.n {
			return Verdict{Health: h, Reason: "every playlist has #EXT-X-ENDLIST: the stream has ended"}
		}
		return Verdict{Health: h, Reason: "the playlists that have not ended are within the tolerance"}
	case state.HealthStale, state.HealthUnreachable:
		video, audio := c.Offending(tol)
		offending := map[Class]bool{Video: video, Audio: audio}
		v := Verdict{Health: h}
		var why []string
		for _, p := range playlists {
			if !offending[classOf(p)] || (p.Health != state.HealthStale && p.Health != state.HealthUnreachable) {
				continue
			}
			why = append(why, fmt.Sprintf("%s %s %s: %s", classOf(p), p.URL, p.Health, p.Reason))
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
	case state.HealthFresh:
		reason := fmt.Sprintf("%d of %d playlist(s) fresh", total.fresh, total.n)
		if bad := total.stale + total.unreachable; bad > 0 {
			reason += fmt.Sprintf(", %d stale or unreachable within the tolerance", bad)
		}
		return Verdict{Health: h, Reason: reason}
	default:
		return Verdict{Health: state.HealthUnknown, Reason: fmt.Sprintf("%d playlist(s) not judged yet", total.unknown)}
	}
}

func classOf(p Playlist) Class {
	if p.Class == Audio {
		return Audio
	}
	return Video
}
