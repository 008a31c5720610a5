// Package contract holds the wire contracts between the detector, the trigger and the failover
// and failback state machines: the detector event, each task's input, output and error names.
package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// EventVersion is the only detector event version this package accepts.
const EventVersion = 1

// Limits on detector events. An event is the Step Functions execution input, whose hard limit is
// 256 KiB; these keep it far below that and keep names printable in notifications.
const (
	MaxNameLen      = 256 // cluster, domain and region, in bytes
	MaxURLLen       = 2048
	MaxPlaylists    = 64
	MaxEventBodyLen = 64 << 10
)

// StartsFailover reports whether a detector event of health h starts the failover workflow:
// stale or unreachable. An ended stream is not a failure (design.md 5.2), and a fresh origin
// needs no failover.
func StartsFailover(h state.Health) bool { return h.IsStale() }

// DetectorEvent is the body of the detector's SNS message (design.md 4.2) and the input of the
// failover workflow. The detector publishes each transition of an instance at least once: a
// transition published again (its publication could not be saved) carries the same Sequence.
// Sequence increases with every transition of one instance and is never reused, because it
// names the workflow execution, so a repeat starts no second workflow.
type DetectorEvent struct {
	Version           int              `json:"version"`
	Event             state.Health     `json:"event"`
	Cluster           string           `json:"cluster"`
	Domain            string           `json:"domain"`
	Region            string           `json:"region"`
	OriginPlaylistURL string           `json:"origin_playlist_url"`
	Playlists         []PlaylistDetail `json:"playlists"`
	DetectedAt        time.Time        `json:"detected_at"`
	StaleForMS        int64            `json:"stale_for_ms"`
	Sequence          int64            `json:"sequence"`
	// OmittedPlaylists counts the instance's playlists the event leaves out to stay within
	// MaxEventBodyLen (or MaxPlaylists): the detector lists the stale and unreachable ones
	// first, so those left out were fresh or ended at detection. Optional (added within
	// version 1); absent means none.
	OmittedPlaylists int `json:"omitted_playlists,omitempty"`
}

// PlaylistDetail is what the detector saw of one origin playlist (a media playlist, or the
// master when it could not be read).
type PlaylistDetail struct {
	URL   string       `json:"url"`
	State state.Health `json:"state"` // fresh, stale, unreachable or ended
	// MediaSequence is the EXT-X-MEDIA-SEQUENCE of the last successful read.
	MediaSequence uint64 `json:"media_sequence"`
	// TargetDuration is EXT-X-TARGETDURATION in seconds; 0 when the playlist was never read.
	TargetDuration int `json:"target_duration"`
	// LastChange is when the playlist last got a new segment; zero when never seen.
	LastChange time.Time `json:"last_change,omitzero"`
	// LiveEdge is where the live edge stood at the last successful read: the evidence the
	// detector's tracker compares to tell progress. Optional (added within version 1): the
	// detector sends it for every playlist it has read; an event without it is judged from
	// media_sequence alone, which cannot see an EVENT playlist or a growing window advance.
	LiveEdge *LiveEdge `json:"live_edge,omitempty"`
	// Class is what the playlist carries, video or audio, for the per-class tolerances of the
	// health rule (internal/health). Optional (added within version 1): the detector sends it
	// for every playlist; an event without it is judged as if every playlist were video.
	Class health.Class `json:"class,omitempty"`
}

// ParseDetectorEvent decodes and validates an SNS message body: exactly one JSON object whose
// keys are the event's fields, spelt exactly, each at most once (strictjson.Decode).
//
// Within version 1 the event only ever gains optional fields (playlists[].live_edge,
// playlists[].class and omitted_playlists so far); a change that an older consumer would misread
// (a field removed, renamed or given another meaning or type) makes a new version, which this
// refuses. A field this code does not know is refused too, so that every consumer acts on exactly
// the fields it validated: a release that adds an optional field updates its consumers (trigger,
// Confirm) before its producer sends the field (the README's "How it works", Trigger).
func ParseDetectorEvent(body []byte) (DetectorEvent, error) {
	var e DetectorEvent
	if len(body) > MaxEventBodyLen {
		return e, &InvalidInputError{What: "detector event", Problems: []string{
			fmt.Sprintf("body is %d bytes, more than %d", len(body), MaxEventBodyLen)}}
	}
	if err := strictjson.Decode(body, &e); err != nil {
		p := []string{err.Error()}
		// Another version may not decode as this one: say so first.
		var head struct {
			Version *int `json:"version"`
		}
		if json.Unmarshal(body, &head) == nil && head.Version != nil && *head.Version != EventVersion {
			p = append([]string{fmt.Sprintf("version: is %d, want %d", *head.Version, EventVersion)}, p...)
		}
		return DetectorEvent{}, &InvalidInputError{What: "detector event", Problems: p}
	}
	if err := e.Validate(); err != nil {
		return DetectorEvent{}, err
	}
	return e, nil
}

// ParseDetectorEventAt is ParseDetectorEvent for a consumer that acts on the event at now: it
// also refuses a sequence more than MaxSequenceAhead ahead of now.
func ParseDetectorEventAt(body []byte, now time.Time) (DetectorEvent, error) {
	e, err := ParseDetectorEvent(body)
	if err != nil {
		return e, err
	}
	var p problems
	p.sequence("sequence", e.Sequence, now)
	if err := p.err("detector event"); err != nil {
		return DetectorEvent{}, err
	}
	return e, nil
}

// MaxSequenceAhead is how far ahead of a consumer's clock an event sequence may be. A sequence is
// the detector's clock in Unix milliseconds (or one more than the instance's last, when that is
// higher), so a genuine one is ahead only by the skew between two NTP-synchronised hosts, well
// under a second; five minutes leaves room for a badly drifting clock while bounding how long a
// corrupt or forged sequence could make genuine later events look old (events not newer than the
// last acted upon are skipped).
const MaxSequenceAhead = 5 * time.Minute

// Validate reports every way the event breaks the contract, as an *InvalidInputError.
func (e DetectorEvent) Validate() error {
	var p problems
	if e.Version != EventVersion {
		p.add("version", "is %d, want %d", e.Version, EventVersion)
	}
	if !e.Event.Judged() {
		p.add("event", "is %q, want stale, fresh, unreachable or ended", e.Event)
	}
	p.name("cluster", e.Cluster)
	p.name("domain", e.Domain)
	p.name("region", e.Region)
	p.url("origin_playlist_url", e.OriginPlaylistURL)
	switch {
	case len(e.Playlists) == 0:
		p.add("playlists", "is empty, want at least one")
	case len(e.Playlists) > MaxPlaylists:
		p.add("playlists", "has %d entries, more than %d", len(e.Playlists), MaxPlaylists)
	}
	for i, pl := range e.Playlists {
		f := "playlists[" + strconv.Itoa(i) + "]"
		p.url(f+".url", pl.URL)
		switch pl.State {
		case state.HealthFresh, state.HealthStale, state.HealthUnreachable, state.HealthEnded:
		default:
			p.add(f+".state", "is %q, want fresh, stale, unreachable or ended", pl.State)
		}
		if pl.TargetDuration < 0 {
			p.add(f+".target_duration", "is %d, want >= 0", pl.TargetDuration)
		}
		if pl.TargetDuration == 0 && pl.State != state.HealthUnreachable {
			p.add(f+".target_duration", "is 0 for a playlist that was read (state %s)", pl.State)
		}
		if pl.LiveEdge != nil {
			p.liveEdge(f+".live_edge", pl)
		}
		if pl.Class != "" && !pl.Class.Valid() {
			p.add(f+".class", "is %q, want video or audio", pl.Class)
		}
	}
	if e.DetectedAt.IsZero() {
		p.add("detected_at", "is missing")
	}
	if e.StaleForMS < 0 {
		p.add("stale_for_ms", "is %d, want >= 0", e.StaleForMS)
	}
	if e.Event == state.HealthStale && e.StaleForMS == 0 {
		p.add("stale_for_ms", "is 0 in a stale event")
	}
	if e.Sequence < 1 {
		p.add("sequence", "is %d, want >= 1", e.Sequence)
	}
	if e.OmittedPlaylists < 0 {
		p.add("omitted_playlists", "is %d, want >= 0", e.OmittedPlaylists)
	}
	return p.err("detector event")
}

// problems collects contract violations, field by field, for one *InvalidInputError.
type problems []string

// sequence checks that a sequence is not more than MaxSequenceAhead ahead of now.
func (p *problems) sequence(field string, seq int64, now time.Time) {
	if limit := now.Add(MaxSequenceAhead).UnixMilli(); seq > limit {
		p.add(field, "is %d, more than %s ahead of now (%d): sequences are the detector's clock in milliseconds", seq, MaxSequenceAhead, now.UnixMilli())
	}
}

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

// name checks a required identifier: non-empty, short, no spaces or control characters (it
// appears in execution names, SNS message attributes and log lines).
func (p *problems) name(field, v string) {
	switch {
	case v == "":
		p.add(field, "is required")
	case len(v) > MaxNameLen:
		p.add(field, "is %d bytes, more than %d", len(v), MaxNameLen)
	case strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		p.add(field, "%q contains spaces or control characters", v)
	}
}

// url checks a required absolute http or https URL.
func (p *problems) url(field, v string) {
	if v == "" {
		p.add(field, "is required")
		return
	}
	if len(v) > MaxURLLen {
		p.add(field, "is %d bytes, more than %d", len(v), MaxURLLen)
		return
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(field, "%q is not an absolute http(s) URL", v)
	}
}

func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	return &InvalidInputError{What: what, Problems: p}
}

// MaxExecutionName is Step Functions' limit on execution names.
const MaxExecutionName = 80

// The readable part of an execution name keeps at most these many characters of the cluster and
// the domain; a hash of the exact values keeps names of different events apart when the readable
// part is cut or has characters replaced.
const (
	nameClusterChars = 16
	nameDomainChars  = 30
	nameHashChars    = 10
)

// ExecutionName derives the Step Functions execution name for an event from its cluster,
// domain and sequence, so a duplicate SNS delivery of the same event starts no second workflow:
// StartExecution returns the running execution for the same name and input, and
// ExecutionAlreadyExists once it has ended (the trigger treats both as "already started").
// Names use only
// A-Z, a-z, 0-9, - and _ (what CloudWatch Logs accepts) and are at most 80 characters. Names are
// unique per state machine, so failover and failback may share one.
func ExecutionName(e DetectorEvent) string {
	seq := strconv.FormatInt(e.Sequence, 10)
	sum := sha256.Sum256([]byte(e.Cluster + "\x00" + e.Domain + "\x00" + seq))
	// At most 16 + 1 + 30 + 1 + 20 (an int64) + 1 + 10 = 79 characters.
	return nameSafe(e.Cluster, nameClusterChars) + "_" + nameSafe(e.Domain, nameDomainChars) +
		"_" + seq + "_" + hex.EncodeToString(sum[:])[:nameHashChars]
}

// nameSafe keeps up to n characters of s, replacing anything outside A-Z a-z 0-9 - _ with '-'.
func nameSafe(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() == n {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
