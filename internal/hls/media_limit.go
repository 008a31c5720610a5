package hls

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// DefaultMaxBody is the largest playlist body read by default (16 MiB), MaxBodyFromEnv's default:
// a 24-hour EVENT playlist of 1 s segments with an EXT-X-PROGRAM-DATE-TIME tag per segment is
// 7.8 MiB with short segment URIs and 10.2 MiB with 56-byte relative paths, so this leaves room
// for longer URIs (parsing the 7.8 MiB one takes about 60 ms and 20 MiB of allocations).
const DefaultMaxBody = 16 << 20

// EnvMaxBody names the environment variable that sets the playlist size limit of every
// function that reads playlists (detector, Confirm, merge, sweeper).
const EnvMaxBody = "MAX_PLAYLIST_BYTES"

// MaxBodyFromEnv reads the playlist size limit from EnvMaxBody: a positive whole number of
// bytes, DefaultMaxBody when unset.
func MaxBodyFromEnv(getenv func(string) string) (int64, error) {
	v := getenv(EnvMaxBody)
	if v == "" {
		return DefaultMaxBody, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive whole number of bytes", EnvMaxBody, v)
	}
	return n, nil
}

// ErrTooLarge is matched (errors.Is) by every *TooLargeError.
var ErrTooLarge = errors.New("body too large")

// TooLargeError refuses a body over Limit bytes.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("body larger than %d bytes", e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// ReadLimited reads r to the end, or fails with *TooLargeError as soon as it has seen more than
// limit bytes, reading at most limit+1. It is what a fetcher uses on a response body.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("read limited: limit %d is not positive", limit)
	}
	n := limit
	if n < math.MaxInt64 {
		n++ // one byte more than allowed tells "exactly limit" from "over limit"
	}
	b, err := io.ReadAll(io.LimitReader(r, n))
	if err != nil {
		return nil, fmt.Errorf("read limited: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return b, nil
}
