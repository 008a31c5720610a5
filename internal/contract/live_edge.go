package contract

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
)

// MaxEdgeURILen bounds each URI of a LiveEdge, in bytes, so that the live edge adds little to an
// event (at most 2 x 256 bytes of URIs per playlist) next to MaxEventBodyLen. The detector leaves
// out the live edge of a playlist whose URIs are longer: its event is then judged from the media
// sequence alone, as an event from before live_edge.
const MaxEdgeURILen = 256

// LiveEdge is where a media playlist's live edge stood at the detector's last good read: the
// facts its hls.Tracker compares with the next read to tell progress from none. Progress is a
// newer segment at the live edge (a higher Sequence, or another SegmentURI), or a new LL-HLS
// part (another PartURI); a media or discontinuity sequence that goes back is a restart.
// Segments marked EXT-X-GAP are not media: a playlist that only adds gaps shows no progress,
// so the live edge is the newest segment that is not a gap.
//
// URIs are kept without query and fragment (hls.SegmentKey), which is all the tracker compares:
// origins that vary tokens per response would otherwise look new on every read, and tokens stay
// out of executions and notifications.
type LiveEdge struct {
	// Sequence is the media sequence number of the newest segment not marked EXT-X-GAP; 0 when
	// every listed segment is a gap.
	Sequence uint64 `json:"sequence"`
	// SegmentURI is that segment's URI, "" when every listed segment is a gap.
	SegmentURI string `json:"segment_uri,omitempty"`
	// PartURI is the newest LL-HLS part's URI (EXT-X-PART without GAP=YES), "" without parts.
	PartURI string `json:"part_uri,omitempty"`
	// DiscontinuitySequence is EXT-X-DISCONTINUITY-SEQUENCE, 0 when absent.
	DiscontinuitySequence uint64 `json:"discontinuity_sequence,omitempty"`
}

// LiveEdgeOf returns the live edge a tracker's memory holds, nil when the tracker has not read
// the playlist yet or a URI is too long to carry.
func LiveEdgeOf(s hls.TrackerState) *LiveEdge {
	if s.LastGood.IsZero() {
		return nil
	}
	e := &LiveEdge{
		Sequence:              s.EdgeSequence,
		SegmentURI:            hls.SegmentKey(s.EdgeURI),
		PartURI:               hls.SegmentKey(s.LastPartURI),
		DiscontinuitySequence: s.DiscontinuitySequence,
	}
	if edgeURIProblem(e.SegmentURI) != "" || edgeURIProblem(e.PartURI) != "" {
		return nil
	}
	return e
}

// ApplyTo sets the live edge in s, a tracker memory restored from an event, so that the tracker
// judges its next read against the same facts as the detector's tracker would have.
func (e LiveEdge) ApplyTo(s *hls.TrackerState) {
	s.EdgeSequence = e.Sequence
	s.EdgeURI = e.SegmentURI
	s.LastPartURI = e.PartURI
	s.DiscontinuitySequence = e.DiscontinuitySequence
}

// liveEdge checks playlist pl's live edge, reported as field f.
func (p *problems) liveEdge(f string, pl PlaylistDetail) {
	e := pl.LiveEdge
	if pl.TargetDuration == 0 && pl.State == state.HealthUnreachable {
		// (With another state, target_duration 0 is the problem, reported already.)
		p.add(f, "is given for a playlist that was never read (target_duration 0)")
	}
	for _, u := range []struct{ field, v string }{{"segment_uri", e.SegmentURI}, {"part_uri", e.PartURI}} {
		if why := edgeURIProblem(u.v); why != "" {
			p.add(f+"."+u.field, "%s", why)
		}
	}
	switch {
	case e.SegmentURI == "" && e.Sequence != 0:
		p.add(f+".sequence", "is %d without a segment_uri (every segment a gap), want 0", e.Sequence)
	case e.SegmentURI != "" && e.Sequence < pl.MediaSequence:
		p.add(f+".sequence", "is %d, before media_sequence %d", e.Sequence, pl.MediaSequence)
	}
}

// edgeURIProblem says what is wrong with a live edge URI, "" when nothing is.
func edgeURIProblem(v string) string {
	switch {
	case len(v) > MaxEdgeURILen:
		return fmt.Sprintf("is %d bytes, more than %d", len(v), MaxEdgeURILen)
	case strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "contains spaces or control characters"
	}
	return ""
}
