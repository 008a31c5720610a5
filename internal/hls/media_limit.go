package hls

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// DefaultMaxBody is the largest playlist body the tracker reads by default (1 MiB): a live media
// playlist is a few kilobytes, so anything near this is not one.
const DefaultMaxBody = 1 << 20

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
