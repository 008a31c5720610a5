package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// listeners opens n listeners on the configured loopback address: free ports for port 0,
// consecutive ports from P otherwise.
func listeners(addr string, n int) ([]net.Listener, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("listen %s: port %q is not a number", addr, portText)
	}
	if port != 0 && port+n-1 > 65535 {
		return nil, fmt.Errorf("listen %s: %d ports from %d run past 65535", addr, n, port)
	}
	var ls []net.Listener
	for i := range n {
		p := 0
		if port != 0 {
			p = port + i
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("listen: %w", err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// serve runs h on l until closed; the server is returned so that shutdown can close it.
func serve(l net.Listener, h http.Handler, log *slog.Logger) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("server stopped", "addr", l.Addr().String(), "err", err)
		}
	}()
	return srv
}

func urlOf(l net.Listener) string { return "http://" + l.Addr().String() }

// cors gives every answer Access-Control-Allow-Origin: * unless it carries one already, as a
// CloudFront response headers policy (SimpleCORS) does, and answers CORS preflights.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "*")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(&corsWriter{ResponseWriter: w}, r)
	})
}

type corsWriter struct {
	http.ResponseWriter
	wrote bool
}

func (c *corsWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		if c.Header().Get("Access-Control-Allow-Origin") == "" {
			c.Header().Set("Access-Control-Allow-Origin", "*")
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *corsWriter) Write(p []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(p)
}

func (c *corsWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// log404 logs every 404 an edge answers, with the copilot's state and reason headers.
func log404(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == http.StatusNotFound {
			log.Info("edge: answered 404", "path", r.URL.Path, "x_cvs_state", sw.Header().Get("X-Cvs-State"),
				"x_cvs_reason", sw.Header().Get("X-Cvs-Reason"))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *corsWriter) Unwrap() http.ResponseWriter   { return c.ResponseWriter }
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func mustURL(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err) // built from a listener's address
	}
	return u
}
