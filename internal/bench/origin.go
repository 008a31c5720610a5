// Package bench is the runner behind `make bench`: it runs the repository's benchmarks and the
// peers' parsers on the same inputs and prints the README's performance table.
package bench

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// OriginConfig says how ServeOrigin listens.
type OriginConfig struct {
	// CertFile, when set, makes the origin serve TLS with a fresh self-signed certificate for
	// 127.0.0.1, written there in PEM so that clients can trust it (SSL_CERT_FILE).
	CertFile string
	// Lifetime bounds the run even if nobody stops it.
	Lifetime time.Duration
}

// OriginBodies are the live media playlists of the detector's capacity benchmarks (in process
// and over a separate origin): target duration 2 s, 6 segments, each one segment newer than the
// one before, so served in turn every poll reads a new body.
func OriginBodies() []string {
	const ring = 4096
	bodies := make([]string, ring)
	for i := range bodies {
		var s strings.Builder
		msn := 1000 + i
		fmt.Fprintf(&s, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n", msn)
		for k := range 6 {
			fmt.Fprintf(&s, "#EXT-X-PROGRAM-DATE-TIME:2025-03-01T12:%02d:%02d.000Z\n#EXTINF:2.000,\nseg-%d.ts\n", (msn+k)/30%60, (msn+k)*2%60, msn+k)
		}
		bodies[i] = s.String()
	}
	return bodies
}

// ServeOrigin serves OriginBodies on a loopback port until stop is closed (or returns EOF),
// ctx ends or the lifetime passes. It writes the base URL as the first line of out and, when it
// stops, one line "served N HTTP/x.y" per protocol seen.
func ServeOrigin(ctx context.Context, cfg OriginConfig, stop io.Reader, out io.Writer) error {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 2 * time.Minute
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("origin: listen: %w", err)
	}
	bodies := OriginBodies()
	var n, h1, h2 atomic.Int64
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 2 {
				h2.Add(1)
			} else {
				h1.Add(1)
			}
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			_, _ = io.WriteString(w, bodies[n.Add(1)%int64(len(bodies))])
		}),
	}
	scheme := "http"
	if cfg.CertFile != "" {
		cert, err := selfSigned(cfg.CertFile)
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Lifetime)
	defer cancel()
	go func() {
		// The parent closes our stdin to stop us; a parent that dies closes it too.
		_, _ = io.Copy(io.Discard, stop)
		cancel()
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(out, "%s://%s\n", scheme, ln.Addr()); err != nil {
		srv.Close()
		return err
	}
	select {
	case err := <-served:
		return fmt.Errorf("origin: %w", err)
	case <-ctx.Done():
	}
	srv.Close()
	fmt.Fprintf(out, "served %d HTTP/1.1\nserved %d HTTP/2.0\n", h1.Load(), h2.Load())
	return nil
}

// selfSigned makes a P-256 certificate for 127.0.0.1 and writes it to certFile in PEM.
func selfSigned(certFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "cvs bench origin"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("origin: certificate: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, pemBytes, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("origin: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// originStats reads the lines ServeOrigin writes after its URL.
func originStats(r *bufio.Reader) (map[string]int64, error) {
	stats := map[string]int64{}
	for {
		line, err := r.ReadString('\n')
		if line = strings.TrimSpace(line); line != "" {
			var n int64
			var proto string
			if _, serr := fmt.Sscanf(line, "served %d %s", &n, &proto); serr == nil {
				stats[proto] = n
			}
		}
		if errors.Is(err, io.EOF) {
			return stats, nil
		}
		if err != nil {
			return stats, err
		}
	}
}
