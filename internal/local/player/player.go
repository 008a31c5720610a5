// Package player watches a merged master the way a viewer's player does, for local runs and
// tests only: hls.js in headless Chromium, or an HLS client in Go that fetches like a player.
package player

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// Event kinds recorded besides the hls.js event names (MANIFEST_PARSED, LEVEL_SWITCHED,
// FRAG_LOADED, ERROR) and the media element's events (waiting, playing, stalled).
const (
	KindFragLoaded = "FRAG_LOADED"
	KindError      = "ERROR"
	KindWaiting    = "waiting"
	KindPlaying    = "playing"
	// DetailsBufferStalled is the ERROR details hls.js reports when the buffer ran dry.
	DetailsBufferStalled = "bufferStalledError"
)

// Event is one thing that happened while watching, with its wall-clock time.
type Event struct {
	At   time.Time `json:"-"`
	AtMS int64     `json:"at"`
	Kind string    `json:"kind"`
	// Type is a fragment's type: "main" (video) or "audio".
	Type  string `json:"type,omitempty"`
	SN    int64  `json:"sn,omitempty"`
	Level int    `json:"level,omitempty"`
	URL   string `json:"url,omitempty"`
	// Host is the URL's host and Region its name from Options.Regions (the host when unknown).
	Host   string `json:"host,omitempty"`
	Region string `json:"region,omitempty"`
	// Details, Fatal and Code describe an ERROR (Code is the HTTP status, 0 when none).
	Details string `json:"details,omitempty"`
	Fatal   bool   `json:"fatal,omitempty"`
	Code    int    `json:"code,omitempty"`
	// Rebuffer marks a waiting event after the first playing one.
	Rebuffer bool `json:"rebuffer,omitempty"`
}

// Switch is the arrival of the first main fragment from another region than the one before.
type Switch struct {
	At       time.Time
	From, To string
	SN       int64
}

// Snapshot is what a player (or the HLS client) has done so far.
type Snapshot struct {
	At time.Time
	// Started reports that playback began (the first playing event, or the client's start-up
	// buffer filled).
	Started bool
	// CurrentTime is the media element's currentTime in seconds (the client's media played).
	CurrentTime float64
	// Region and Host served the last main fragment; LastSN is its media sequence number.
	Region, Host string
	LastSN       int64
	// Rebuffers counts waiting events after start-up; BufferStalls counts bufferStalledError.
	Rebuffers, BufferStalls int
	Errors                  []Event
	Switches                []Switch
	Events                  []Event
}

// Fragments returns the main fragments loaded at or after t.
func (s Snapshot) Fragments(since time.Time) []Event {
	var out []Event
	for _, e := range s.Events {
		if e.Kind == KindFragLoaded && e.Type == "main" && !e.At.Before(since) {
			out = append(out, e)
		}
	}
	return out
}

// SwitchAfter returns the first switch to another region at or after t.
func (s Snapshot) SwitchAfter(t time.Time) (Switch, bool) {
	for _, sw := range s.Switches {
		if !sw.At.Before(t) {
			return sw, true
		}
	}
	return Switch{}, false
}

// Viewer is what watches a master: hls.js in Chromium (Chromium) or the HLS client (Client).
type Viewer interface {
	Snapshot(ctx context.Context) (Snapshot, error)
	// Describe says what is watching, for example "hls.js 1.7.4 in Chromium 156".
	Describe() string
	Close() error
}

// WaitFor polls v until cond holds of a snapshot or ctx ends, and returns the last snapshot.
func WaitFor(ctx context.Context, v Viewer, cond func(Snapshot) bool) (Snapshot, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := v.Snapshot(ctx)
		if err != nil {
			return s, err
		}
		if cond(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("wait for %s: %w", v.Describe(), context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// summarize derives a snapshot's fields from its events.
func summarize(s *Snapshot) {
	s.Errors, s.Switches = nil, nil
	s.Rebuffers, s.BufferStalls = 0, 0
	last := ""
	for i := range s.Events {
		e := &s.Events[i]
		e.At = time.UnixMilli(e.AtMS)
		switch e.Kind {
		case KindFragLoaded:
			if e.Type != "main" {
				continue
			}
			if last != "" && e.Region != last {
				s.Switches = append(s.Switches, Switch{At: e.At, From: last, To: e.Region, SN: e.SN})
			}
			last, s.Region, s.Host, s.LastSN = e.Region, e.Region, e.Host, e.SN
		case KindError:
			s.Errors = append(s.Errors, *e)
			if e.Details == DetailsBufferStalled {
				s.BufferStalls++
			}
		case KindPlaying:
			s.Started = true
		case KindWaiting:
			if e.Rebuffer {
				s.Rebuffers++
			}
		}
	}
}

// regionOf names the host of rawURL by regions, the host itself when it is not there.
func regionOf(regions map[string]string, rawURL string) (region, host string) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", ""
	}
	if r, ok := regions[u.Host]; ok {
		return r, u.Host
	}
	return u.Host, u.Host
}
