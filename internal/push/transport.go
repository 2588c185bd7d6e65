package push

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/crieur/crieur/internal/netguard"
)

// transport sends to https push services over HTTP/2 with a connection pool
// that dials one connection per host at a time, and to everything else
// (plain http in development, an https host that does not offer h2) with
// net/http's transport.
//
// Why not net/http's own HTTP/2: its pool dials once per waiting request.
// A fan-out that puts a thousand requests in flight at a push service 50 ms
// away opened 541 TLS connections to it where ten would carry them (100
// streams each), each a handshake of CPU on both sides and a pattern push
// services rate-limit. x/net/http2's pool shares one dial among the
// requests waiting for it and opens the next connection only when the
// open ones have no free stream.
type transport struct {
	h1 *http.Transport
	h2 *http2.Transport
	// fast carries the Sender's requests to HTTP/1.1 services (see
	// h1Pool); h1 carries anything else sent through this transport.
	fast *h1Pool

	mu      sync.Mutex
	noH2    map[string]bool // hosts whose TLS handshake did not choose h2
	anyNoH2 atomic.Bool     // noH2 is not empty
}

// errNoH2 is a dial whose TLS handshake did not choose h2: the request is
// sent again over HTTP/1.1, and the host remembered.
var errNoH2 = errors.New("push: the service did not choose HTTP/2")

func newTransport(policy netguard.Policy, h1 *http.Transport) *transport {
	t := &transport{h1: h1, noH2: map[string]bool{}}
	idleTimeout := h1.IdleConnTimeout
	if idleTimeout <= 0 {
		idleTimeout = 90 * time.Second
	}
	t.fast = newH1Pool(policy, func() *tls.Config { return t.h1.TLSClientConfig }, h1.MaxIdleConnsPerHost, idleTimeout)
	t.h2 = &http2.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
			conn, err := policy.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Offer HTTP/1.1 too: a service that speaks only that refuses
			// a handshake offering h2 alone ("no application protocol").
			cfg = cfg.Clone()
			cfg.NextProtos = []string{http2.NextProtoTLS, "http/1.1"}
			tc := tls.Client(conn, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, fmt.Errorf("push: tls %s: %w", addr, err)
			}
			if tc.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
				tc.Close()
				return nil, errNoH2
			}
			return newBatchConn(tc), nil
		},
		// No gzip: push services answer with empty bodies.
		DisableCompression: true,
		// Past a connection's stream limit, open another rather than queue.
		StrictMaxConcurrentStreams: false,
		ReadIdleTimeout:            30 * time.Second,
		PingTimeout:                15 * time.Second,
		IdleConnTimeout:            90 * time.Second,
	}
	return t
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" || t.skipH2(req.URL.Host) {
		return t.h1.RoundTrip(req)
	}
	resp, err := t.h2.RoundTrip(req)
	if errors.Is(err, errNoH2) {
		t.mu.Lock()
		t.noH2[req.URL.Host] = true
		t.anyNoH2.Store(true)
		t.mu.Unlock()
		return t.h1.RoundTrip(req)
	}
	return resp, err
}

func (t *transport) skipH2(host string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.noH2[host]
}

// viaH1 reports whether a push to endpoint goes through the HTTP/1.1
// pool: plain http, or an https service known not to speak h2. Endpoints
// it cannot tell about cheaply take the general path.
func (t *transport) viaH1(endpoint string) bool {
	if len(endpoint) > 7 && endpoint[:7] == "http://" {
		return true
	}
	if !t.anyNoH2.Load() || len(endpoint) <= 8 || endpoint[:8] != "https://" {
		return false
	}
	host := endpoint[8:]
	for i := range len(host) {
		if c := host[i]; c == '/' || c == '?' || c == '#' {
			host = host[:i]
			break
		}
	}
	return t.skipH2(host)
}

// CloseIdleConnections closes every pool's idle connections.
func (t *transport) CloseIdleConnections() {
	t.h1.CloseIdleConnections()
	t.h2.CloseIdleConnections()
	t.fast.closeIdle()
}
