package detector

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/strictjson"
)

// memoryVersion is the version of the memory document this package writes and reads.
const memoryVersion = 1

// MaxMemoryBytes bounds an instance's memory document. 64 playlists with long signed URLs and a
// pending event stay below it; a DynamoDB item may hold 400 KB.
const MaxMemoryBytes = 96 << 10

// memoryDoc is the detector's memory of one instance, saved as JSON on the instance's item.
type memoryDoc struct {
	Version int `json:"v"`
	// Owner is the Run that holds the lease on the instance until LeaseUntil; StopAt is when it
	// plans to stop polling, so that the next Run knows when to look for the release.
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	StopAt     time.Time `json:"stop_at,omitzero"`
	// Sequence is the last sequence claimed for an event; it only grows.
	Sequence int64 `json:"seq,omitempty"`
	// Published is the last event known to be published and recorded.
	Published *publishedRef `json:"published,omitempty"`
	// Pending is a claimed event not yet published or not yet recorded in the table.
	Pending *pendingEvent `json:"pending,omitempty"`
	// Origin is the origin playlist URL the playlists below were found from; MasterHash the
	// hash of the master they come from ("media" when the origin URL is a media playlist).
	Origin     string `json:"origin,omitempty"`
	MasterHash string `json:"master,omitempty"`
	// MasterFailures and MasterFailSince follow an origin master that was never read.
	MasterFailures  int              `json:"master_failures,omitempty"`
	MasterFailSince time.Time        `json:"master_fail_since,omitzero"`
	Playlists       []playlistMemory `json:"playlists,omitempty"`
	// Unwatched counts the master's playlists left out by MaxPlaylists; events count them in
	// omitted_playlists.
	Unwatched int `json:"unwatched,omitempty"`
}

type publishedRef struct {
	Event    state.Health `json:"event"`
	Sequence int64        `json:"seq"`
	At       time.Time    `json:"at"`
}

type pendingEvent struct {
	Event contract.DetectorEvent `json:"event"`
	// Reason is the verdict's reason, recorded with the health.
	Reason   string `json:"reason,omitempty"`
	Sent     bool   `json:"sent,omitempty"`
	Recorded bool   `json:"recorded,omitempty"`
}

type playlistMemory struct {
	URL     string           `json:"url"`
	Class   class            `json:"class"`
	Tracker hls.TrackerState `json:"tracker"`
	// FirstFailure is when the current run of failures of a never-read playlist began.
	FirstFailure time.Time `json:"first_failure,omitzero"`
}

// MemoryError says why a stored memory document cannot be used.
type MemoryError struct {
	Problem string
}

func (e *MemoryError) Error() string { return "detector memory: " + e.Problem }

// decodeMemory reads a stored document; nil or empty data is an empty memory.
func decodeMemory(data []byte) (memoryDoc, error) {
	if len(data) == 0 {
		return memoryDoc{Version: memoryVersion}, nil
	}
	if len(data) > MaxMemoryBytes {
		return memoryDoc{}, &MemoryError{Problem: fmt.Sprintf("%d bytes, more than %d", len(data), MaxMemoryBytes)}
	}
	var doc memoryDoc
	if err := strictjson.Decode(data, &doc); err != nil {
		return memoryDoc{}, &MemoryError{Problem: "decode JSON: " + err.Error()}
	}
	if doc.Version != memoryVersion {
		return memoryDoc{}, &MemoryError{Problem: fmt.Sprintf("version %d, want %d", doc.Version, memoryVersion)}
	}
	if doc.Sequence < 0 {
		return memoryDoc{}, &MemoryError{Problem: "negative sequence"}
	}
	if doc.Pending != nil {
		if err := doc.Pending.Event.Validate(); err != nil {
			return memoryDoc{}, &MemoryError{Problem: "pending event: " + err.Error()}
		}
		if doc.Pending.Event.Sequence > doc.Sequence {
			return memoryDoc{}, &MemoryError{Problem: "pending event's sequence is above the claimed sequence"}
		}
	}
	if doc.Published != nil && !doc.Published.Event.Judged() {
		return memoryDoc{}, &MemoryError{Problem: fmt.Sprintf("published event kind %q", doc.Published.Event)}
	}
	for _, p := range doc.Playlists {
		if p.URL == "" || !p.Class.Valid() {
			return memoryDoc{}, &MemoryError{Problem: fmt.Sprintf("playlist %q of class %q", p.URL, p.Class)}
		}
	}
	return doc, nil
}

// encodeMemory writes a document, refusing one over MaxMemoryBytes.
func encodeMemory(doc memoryDoc) ([]byte, error) {
	doc.Version = memoryVersion
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode detector memory: %w", err)
	}
	if len(b) > MaxMemoryBytes {
		return nil, &MemoryError{Problem: fmt.Sprintf("encoded memory is %d bytes, more than %d", len(b), MaxMemoryBytes)}
	}
	return b, nil
}

// errLostLease says another Run has taken the instance over: this one must stop watching it
// and must not write its memory.
var errLostLease = errors.New("lease lost to another run")
