package runtime

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
)

// Global is the region attribute of the log lines of shared parts (state store, edge sync, API,
// master distribution, control API).
const Global = "global"

// gate holds log lines back until the contract's first line is out, so that stdout starts with
// it whatever logged during start-up.
type gate struct {
	mu   sync.Mutex
	out  io.Writer
	open bool
	held bytes.Buffer
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		return g.held.Write(p)
	}
	return g.out.Write(p)
}

// Open writes first, then the lines held, and lets later lines through.
func (g *gate) Open(first []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = true
	if _, err := g.out.Write(first); err != nil {
		return err
	}
	_, err := g.out.Write(g.held.Bytes())
	g.held.Reset()
	return err
}

// newLogger returns the JSON logger of everything after the first line: time, level, msg and
// a region attribute on every line.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}
