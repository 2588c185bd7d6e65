package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// runPushStubTLS is the -push-stub-tls child: a push service as browsers'
// are, HTTP/2 over TLS, answering 201 to every POST after latency. Its
// certificate (self-signed, for 127.0.0.1) is written to certFile, for the
// daemon's SSL_CERT_FILE. Besides the counters of the other helpers it
// counts the connections opened to it and the most requests in flight at
// once, overall and on one connection (HTTP/2 streams).
func runPushStubTLS(latency time.Duration, certFile string, streams int) error {
	var c counters
	cert, err := selfSigned(certFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	type connKey struct{}
	// conn is one connection's: its requests in flight, and whether one
	// ever came (a client racing dials opens some it then closes unused).
	type conn struct {
		streams atomic.Int64
		used    atomic.Bool
	}
	var inFlight atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST only", http.StatusMethodNotAllowed)
				return
			}
			n, _ := io.Copy(io.Discard, r.Body)
			c.hit(int(n))
			onConn := r.Context().Value(connKey{}).(*conn)
			if !onConn.used.Load() && onConn.used.CompareAndSwap(false, true) {
				c.usedConns.Add(1)
			}
			peak(&c.peakStreams, onConn.streams.Add(1))
			peak(&c.peakInFlight, inFlight.Add(1))
			if latency > 0 {
				time.Sleep(latency)
			}
			onConn.streams.Add(-1)
			inFlight.Add(-1)
			w.WriteHeader(http.StatusCreated)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			c.conns.Add(1)
			return context.WithValue(ctx, connKey{}, new(conn))
		},
		HTTP2:       &http.HTTP2Config{MaxConcurrentStreams: streams},
		ReadTimeout: time.Minute,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	ctrl, err := serveControl(&c)
	if err != nil {
		return err
	}
	runChild(ln.Addr().String(), ctrl)
	return srv.Close()
}

// peak raises p to v when v is higher.
func peak(p *atomic.Int64, v int64) {
	for {
		old := p.Load()
		if v <= old || p.CompareAndSwap(old, v) {
			return
		}
	}
}

// selfSigned makes a P-256 certificate for 127.0.0.1 and writes it, PEM,
// to certFile.
func selfSigned(certFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "push stub"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
