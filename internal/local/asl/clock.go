package asl

import (
	"context"
	"sync"
	"time"
)

// Clock is the interpreter's source of time: timestamps, Wait states, retry intervals and task
// timeouts all go through it.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx is done (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
	// NewTimer returns a channel that receives once d has passed, and a stop function.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

// RealClock is wall-clock time.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewTimer starts a real timer.
func (RealClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// VirtualClock is time that passes only when told: Sleep returns at once after moving the clock
// forward, and timers fire when the clock reaches them. Tests use it to run Wait states, retry
// backoff and task timeouts without waiting; it records every sleep so tests can check them.
type VirtualClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	timers []*virtualTimer
}

type virtualTimer struct {
	at      time.Time
	c       chan time.Time
	stopped bool
}

// NewVirtualClock returns a clock that starts at start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{now: start} }

// Now returns the virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep records d and moves the clock forward by d, at once.
func (c *VirtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.Advance(d)
	return nil
}

// Advance moves the clock forward by d and fires the timers that are due.
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true // fired: stopping it now reports false
			t.c <- c.now     // buffered, never blocks
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// NewTimer returns a timer that fires when the clock reaches now+d.
func (c *VirtualClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &virtualTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t.c, func() bool { return false }
	}
	c.timers = append(c.timers, t)
	return t.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Sleeps returns every duration passed to Sleep, in order.
func (c *VirtualClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
