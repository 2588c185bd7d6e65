package pushtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/crieur/crieur/internal/push"
)

// Received is a message the Server accepted.
type Received struct {
	// Endpoint is the URL the message was posted to.
	Endpoint string
	// Payload is the decrypted payload; Body the encrypted request body.
	Payload, Body []byte
	// TTL is the TTL header (the Server refuses requests without a valid one).
	TTL time.Duration
	// Urgency and Topic are the headers of those names, "" when absent.
	Urgency, Topic string
	// Header is the whole request header.
	Header http.Header
}

// Fault scripts a push service's answer. n counts the requests the fault has
// seen, from 1. A zero status means "handle normally" (after the delay);
// StatusReset resets the connection. The delay is waited before answering
// and ends early when the client gives up.
type Fault func(n int, r *http.Request) (status int, header http.Header, delay time.Duration)

// StatusReset, returned by a Fault, closes the connection without an answer.
const StatusReset = -1

// Option configures a Server.
type Option func(*Server)

// CountOnly makes the Server answer 201 to every POST without checking
// VAPID, decrypting or recording: it only counts, cheaply enough for
// benchmarks of 100,000 messages. Faults still apply.
func CountOnly() Option { return func(s *Server) { s.countOnly = true } }

// Server is a push service for tests.
type Server struct {
	// HTTP is the underlying test server.
	HTTP *httptest.Server

	origin    string
	vapidKey  *ecdsa.PublicKey
	vapidB64  []byte
	countOnly bool
	count     atomic.Int64
	next      atomic.Int64

	mu       sync.Mutex
	browsers map[string]*Browser // path → browser
	faults   map[string]*faultState
	global   *faultState
	received []Received
	errs     []error
	verified map[string]time.Time // JWT → exp, verified already
	client   *http.Client
}

type faultState struct {
	f Fault
	n atomic.Int64
}

// NewServer starts a plain-http push service on 127.0.0.1 that accepts VAPID
// tokens signed with the key whose public half is vapidPublicKey (base64url).
// It is closed when the test ends.
func NewServer(tb testing.TB, vapidPublicKey string, opts ...Option) *Server {
	tb.Helper()
	return newServer(tb, vapidPublicKey, false, opts)
}

// NewTLSServer is NewServer over TLS with HTTP/2 enabled; use its Client.
func NewTLSServer(tb testing.TB, vapidPublicKey string, opts ...Option) *Server {
	tb.Helper()
	return newServer(tb, vapidPublicKey, true, opts)
}

func newServer(tb testing.TB, vapidPublicKey string, tls bool, opts []Option) *Server {
	tb.Helper()
	raw, err := decodeB64(vapidPublicKey)
	if err != nil {
		tb.Fatalf("pushtest: vapid public key: %v", err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		tb.Fatalf("pushtest: vapid public key: %v", err)
	}
	s := &Server{
		vapidKey: pub,
		vapidB64: raw,
		browsers: map[string]*Browser{},
		faults:   map[string]*faultState{},
		verified: map[string]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	s.HTTP = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if tls {
		s.HTTP.EnableHTTP2 = true
		s.HTTP.StartTLS()
		c := s.HTTP.Client()
		if t, ok := c.Transport.(*http.Transport); ok {
			t.MaxIdleConnsPerHost = 128
			t.ForceAttemptHTTP2 = true
		}
		s.client = c
	} else {
		s.HTTP.Start()
		s.client = &http.Client{Transport: &http.Transport{
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     30 * time.Second,
		}}
	}
	s.origin = s.HTTP.URL
	tb.Cleanup(func() {
		s.client.CloseIdleConnections()
		s.HTTP.Close()
	})
	return s
}

// Client returns a client tuned for many concurrent requests to this Server
// (for the TLS variant, the only client that trusts its certificate).
func (s *Server) Client() *http.Client { return s.client }

// URL is the Server's origin, e.g. http://127.0.0.1:34567.
func (s *Server) URL() string { return s.origin }

// Endpoint registers b and returns a unique push endpoint URL for it. Each
// call gives a new endpoint.
func (s *Server) Endpoint(b *Browser) string {
	path := fmt.Sprintf("/push/%d", s.next.Add(1))
	s.mu.Lock()
	s.browsers[path] = b
	s.mu.Unlock()
	return s.origin + path
}

// Subscription registers b and returns its subscription as a push sender
// takes it.
func (s *Server) Subscription(b *Browser) push.Subscription {
	return push.Subscription{Endpoint: s.Endpoint(b), P256dh: b.P256dh, Auth: b.Auth}
}

// Unsubscribe forgets endpoint: later messages to it are answered 410 Gone.
func (s *Server) Unsubscribe(endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := strings.TrimPrefix(endpoint, s.origin)
	if _, ok := s.browsers[p]; ok {
		s.browsers[p] = nil
	}
}

// SetFault scripts the answers for one endpoint; nil removes the fault.
func (s *Server) SetFault(endpoint string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := strings.TrimPrefix(endpoint, s.origin)
	if f == nil {
		delete(s.faults, p)
		return
	}
	s.faults[p] = &faultState{f: f}
}

// SetGlobalFault scripts the answers for every endpoint (an endpoint's own
// fault wins); nil removes it.
func (s *Server) SetGlobalFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		s.global = nil
		return
	}
	s.global = &faultState{f: f}
}

// Answer returns a Fault that always answers status with the given header
// pairs (e.g. "Retry-After", "30").
func Answer(status int, headerPairs ...string) Fault {
	h := http.Header{}
	for i := 0; i+1 < len(headerPairs); i += 2 {
		h.Add(headerPairs[i], headerPairs[i+1])
	}
	return func(int, *http.Request) (int, http.Header, time.Duration) { return status, h, 0 }
}

// Count returns how many messages the Server accepted.
func (s *Server) Count() int { return int(s.count.Load()) }

// Received returns a copy of the messages accepted so far, in arrival order
// (empty with CountOnly).
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Errors returns the requests the Server refused as malformed (bad VAPID,
// headers or encryption), as errors; a test expecting none checks it is empty.
func (s *Server) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// Wait waits until the Server has accepted at least n messages or timeout
// passes, and returns the recorded messages.
func (s *Server) Wait(n int, timeout time.Duration) ([]Received, error) {
	deadline := time.Now().Add(timeout)
	for s.Count() < n {
		if time.Now().After(deadline) {
			return s.Received(), fmt.Errorf("pushtest: %d of %d messages after %v", s.Count(), n, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return s.Received(), nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	defer r.Body.Close()
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	b, known := s.browsers[r.URL.Path]
	f := s.faults[r.URL.Path]
	if f == nil {
		f = s.global
	}
	s.mu.Unlock()

	// Read the body first: net/http notices a client hanging up (and cancels
	// r.Context) only once the body has been consumed.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRead))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if f != nil {
		status, h, delay := f.f(int(f.n.Add(1)), r)
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if status == StatusReset {
			panic(http.ErrAbortHandler) // closes the connection (HTTP/1) or resets the stream (HTTP/2)
		}
		if status != 0 {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			return
		}
	}
	if s.countOnly {
		s.count.Add(1)
		w.WriteHeader(http.StatusCreated)
		return
	}
	if !known {
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	if b == nil {
		http.Error(w, "unsubscribed", http.StatusGone)
		return
	}
	rec, status, err := s.check(r, body, b)
	if err != nil {
		s.mu.Lock()
		s.errs = append(s.errs, err)
		s.mu.Unlock()
		http.Error(w, err.Error(), status)
		return
	}
	s.mu.Lock()
	s.received = append(s.received, rec)
	s.mu.Unlock()
	s.count.Add(1)
	w.Header().Set("Location", s.origin+"/message/"+strconv.Itoa(s.Count()))
	w.WriteHeader(http.StatusCreated)
}

// maxBody is the largest body a push service must accept (RFC 8030 §7.2);
// the Server refuses larger ones with 413 as real ones do.
const maxBody = 4096

// maxRead bounds how much of a request body the Server reads.
const maxRead = 64 << 10

// check verifies one request as a strict push service would.
func (s *Server) check(r *http.Request, body []byte, b *Browser) (Received, int, error) {
	if err := s.checkVAPID(r.Header.Get("Authorization")); err != nil {
		return Received{}, http.StatusUnauthorized, err
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return Received{}, http.StatusBadRequest, fmt.Errorf("pushtest: Content-Encoding %q", ce)
	}
	ttlh := r.Header.Get("TTL")
	ttl, err := strconv.ParseInt(ttlh, 10, 64)
	if err != nil || ttl < 0 {
		return Received{}, http.StatusBadRequest, fmt.Errorf("pushtest: TTL %q", ttlh)
	}
	urg := r.Header.Get("Urgency")
	if urg != "" && !push.ValidUrgency(urg) {
		return Received{}, http.StatusBadRequest, fmt.Errorf("pushtest: Urgency %q", urg)
	}
	topic := r.Header.Get("Topic")
	if topic != "" && !push.ValidTopic(topic) {
		return Received{}, http.StatusBadRequest, fmt.Errorf("pushtest: Topic %q", topic)
	}
	if len(body) > maxBody {
		return Received{}, http.StatusRequestEntityTooLarge, fmt.Errorf("pushtest: body over %d bytes", maxBody)
	}
	payload, err := b.Decrypt(body)
	if err != nil {
		return Received{}, http.StatusBadRequest, err
	}
	return Received{
		Endpoint: s.origin + r.URL.Path,
		Payload:  payload,
		Body:     body,
		TTL:      time.Duration(ttl) * time.Second,
		Urgency:  urg,
		Topic:    topic,
		Header:   r.Header.Clone(),
	}, 0, nil
}

// errVAPID is wrapped by VAPID verification errors.
var errVAPID = errors.New("pushtest: vapid")

// checkVAPID verifies "vapid t=JWT, k=KEY" (RFC 8292 §3): the key is the
// Server's, the ES256 signature verifies, aud is the Server's origin, exp is
// in the future and at most 24 h ahead, and sub is a mailto: or https: URI.
func (s *Server) checkVAPID(h string) error {
	scheme, params, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "vapid") {
		return fmt.Errorf("%w: Authorization %q is not vapid", errVAPID, scheme)
	}
	var tok, k string
	for p := range strings.SplitSeq(params, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch name {
		case "t":
			tok = val
		case "k":
			k = val
		}
	}
	kb, err := decodeB64(k)
	if err != nil || string(kb) != string(s.vapidB64) {
		return fmt.Errorf("%w: k= is not the server's VAPID key", errVAPID)
	}
	now := time.Now()
	s.mu.Lock()
	exp, seen := s.verified[tok]
	s.mu.Unlock()
	if !seen {
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return s.vapidKey, nil },
			jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(s.origin), jwt.WithExpirationRequired())
		if err != nil {
			return fmt.Errorf("%w: %w", errVAPID, err)
		}
		if aud, _ := claims.GetAudience(); len(aud) != 1 || aud[0] != s.origin {
			return fmt.Errorf("%w: aud %v, want %s", errVAPID, aud, s.origin)
		}
		sub, _ := claims.GetSubject()
		if !strings.HasPrefix(sub, "mailto:") && !strings.HasPrefix(sub, "https:") {
			return fmt.Errorf("%w: sub %q is not a mailto: or https: URI", errVAPID, sub)
		}
		e, _ := claims.GetExpirationTime()
		exp = e.Time
		s.mu.Lock()
		s.verified[tok] = exp
		s.mu.Unlock()
	}
	if !exp.After(now) || exp.After(now.Add(24*time.Hour)) {
		return fmt.Errorf("%w: exp %v not within 24 h ahead", errVAPID, exp)
	}
	return nil
}

// decodeB64 decodes base64 in either alphabet, padded or not.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "+/") {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}
