package detector

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/hls"
)

// class is what a polled playlist carries; each class has its own tolerance (health.Class).
type class = health.Class

const (
	// classVideo: an EXT-X-STREAM-INF variant with video (or of unknown content), an EXT-X-MEDIA
	// TYPE=VIDEO rendition with a URI, or an origin URL that is a media playlist.
	classVideo = health.Video
	// classAudio: an audio-only variant, or an EXT-X-MEDIA TYPE=AUDIO rendition with a URI.
	classAudio = health.Audio
)

// target is a playlist to poll.
type target struct {
	URL   string
	Class class
}

// discover lists the playlists of a master to poll, in the master's order, video before audio,
// without duplicates: every EXT-X-STREAM-INF variant and every EXT-X-MEDIA rendition of TYPE
// AUDIO or VIDEO that has a URI. Subtitles and closed captions are not polled: playback goes on
// without them. I-frame playlists are not polled: they follow the same segments. URIs are
// resolved against base, the URL the master was read from; m's variables must be resolved
// (hls.ExpandMasterVariables): a URI still holding one is an error. Beyond max, the last ones are left
// out and counted in omitted, but every class keeps at least one playlist, so that a long video
// ladder never leaves the audio unwatched.
func discover(base *url.URL, m *hls.Master, max int) (targets []target, omitted int, err error) {
	var video, audio []target
	seen := map[string]bool{}
	add := func(list *[]target, uri string, c class) error {
		ref, err := url.Parse(strings.TrimSpace(uri))
		if err != nil {
			return fmt.Errorf("URI %q: %w", uri, err)
		}
		u := base.ResolveReference(ref)
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("URI %q does not resolve to an http(s) URL", uri)
		}
		s := u.String()
		if hls.HasVariableReference(s) {
			return fmt.Errorf("URI %q holds a variable reference that no EXT-X-DEFINE resolved", uri)
		}
		if !seen[s] {
			seen[s] = true
			*list = append(*list, target{URL: s, Class: c})
		}
		return nil
	}
	for _, v := range m.Variants {
		c := variantClass(v.Attrs)
		list := &video
		if c == classAudio {
			list = &audio
		}
		if err := add(list, v.URI, c); err != nil {
			return nil, 0, fmt.Errorf("line %d EXT-X-STREAM-INF: %w", v.URILine, err)
		}
	}
	for _, r := range m.Renditions {
		uri, ok := r.Attrs.Get("URI")
		if !ok {
			continue
		}
		typ, _ := r.Attrs.Get("TYPE")
		var err error
		switch typ.Unquoted() {
		case "VIDEO":
			err = add(&video, uri.Unquoted(), classVideo)
		case "AUDIO":
			err = add(&audio, uri.Unquoted(), classAudio)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("line %d EXT-X-MEDIA: %w", r.Line, err)
		}
	}
	if n := len(video) + len(audio); n > max {
		keepAudio := min(len(audio), max-min(len(video), max-1))
		if len(video) > 0 {
			keepAudio = min(keepAudio, max-1)
		}
		video, audio, omitted = video[:max-keepAudio], audio[:keepAudio], n-max
	}
	return append(video, audio...), omitted, nil
}

// variantClass tells an audio-only variant from one with video: audio-only when it has no
// RESOLUTION and CODECS names only audio codecs. A variant without CODECS counts as video, so
// that an unknown variant is never ignored by the default tolerance.
func variantClass(attrs hls.AttrList) class {
	if _, ok := attrs.Get("RESOLUTION"); ok {
		return classVideo
	}
	codecs, ok := attrs.Get("CODECS")
	if !ok {
		return classVideo
	}
	audio := 0
	list := strings.Split(codecs.Unquoted(), ",")
	for _, c := range list {
		if audioCodec(strings.TrimSpace(c)) {
			audio++
		}
	}
	if audio == len(list) {
		return classAudio
	}
	return classVideo
}

// audioCodecPrefixes are the RFC 6381 codec names of audio formats HLS carries.
var audioCodecPrefixes = []string{"mp4a", "ac-3", "ec-3", "ac-4", "opus", "flac", "fLaC", "Opus", "alac", "dtsc", "dtse", "dtsh", "dtsl", "mha1", "mhm1", "mp3"}

func audioCodec(c string) bool {
	for _, p := range audioCodecPrefixes {
		if c == p || strings.HasPrefix(c, p+".") {
			return true
		}
	}
	return false
}
