package detectortest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
)

// PipeNet serves an http.Handler over in-memory connections (net.Pipe), so that a real HTTP
// client and server can run inside a testing/synctest bubble, where time is simulated and
// loopback sockets are not allowed. Every connection dialed, whatever the address, reaches the
// handler. Close it before the bubble ends.
type PipeNet struct {
	ln        *pipeListener
	srv       *http.Server
	transport *http.Transport
	served    chan struct{}
}

// NewPipeNet starts serving h.
func NewPipeNet(h http.Handler) *PipeNet {
	n := &PipeNet{
		ln:     &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})},
		srv:    &http.Server{Handler: h},
		served: make(chan struct{}),
	}
	n.transport = &http.Transport{
		DialContext:         n.ln.dial,
		MaxIdleConnsPerHost: 64,
	}
	go func() {
		defer close(n.served)
		_ = n.srv.Serve(n.ln)
	}()
	return n
}

// Client returns an HTTP client whose connections go to the handler.
func (n *PipeNet) Client() *http.Client { return &http.Client{Transport: n.transport} }

// Close stops the server and drops every connection.
func (n *PipeNet) Close() {
	n.transport.CloseIdleConnections()
	_ = n.srv.Close()
	<-n.served
}

// Dials returns how many connections clients opened.
func (n *PipeNet) Dials() int {
	n.ln.mu.Lock()
	defer n.ln.mu.Unlock()
	return n.ln.dials
}

type pipeListener struct {
	mu    sync.Mutex
	dials int
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	l.mu.Lock()
	l.dials++
	l.mu.Unlock()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, errors.New("pipenet: closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
