package push

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/crieur/crieur/internal/netguard"
)

// Config configures a Sender.
type Config struct {
	// PrivateKey and PublicKey are the VAPID key pair, base64url as
	// GenerateVAPIDKeys returns them (padding and the standard alphabet are
	// accepted too).
	PrivateKey, PublicKey string
	// Subject is the VAPID contact: "mailto:ops@example.com" or an https URL.
	Subject string
	// Client's Transport sends the requests; nil means
	// NewHTTPClient(netguard.Policy{}, Timeout, 0), which refuses plain http and
	// private addresses. Share one client. Push requests never follow
	// redirects (a push service has no reason to send one, and a redirected
	// POST would lose its body): a 3xx is a failure, reported.
	Client *http.Client
	// Timeout bounds each request; 0 means 15 s.
	Timeout time.Duration
	// Now is the clock for VAPID expiry and Retry-After dates; nil means
	// time.Now.
	Now func() time.Time
}

// defaultTimeout bounds a request when Config.Timeout is 0.
const defaultTimeout = 15 * time.Second

// Sender sends push messages. It is safe for concurrent use by many
// goroutines; create one per VAPID key and share it.
type Sender struct {
	rt      http.RoundTripper // the client's transport, called directly
	tr      *transport        // rt when it is NewHTTPClient's: HTTP/1.1 services go through its h1 pool
	timeout time.Duration
	now     func() time.Time
	vapid   *vapid
}

// NewSender checks cfg, parses the VAPID key once and returns a Sender.
func NewSender(cfg Config) (*Sender, error) {
	if err := validateSubject(cfg.Subject); err != nil {
		return nil, fmt.Errorf("new push sender: %w", err)
	}
	key, err := parseVAPIDKeys(cfg.PrivateKey, cfg.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("new push sender: %w", err)
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("new push sender: %w", err)
	}
	s := &Sender{
		timeout: cfg.Timeout,
		now:     cfg.Now,
	}
	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	client := cfg.Client
	if client == nil {
		client = NewHTTPClient(netguard.Policy{}, s.timeout, 0)
	}
	// The transport directly, not Client.Do: no redirects to follow, and
	// no per-request header copy kept for them.
	s.rt = client.Transport
	if s.rt == nil {
		s.rt = http.DefaultTransport
	}
	s.tr, _ = s.rt.(*transport)
	s.vapid = &vapid{
		key:     key,
		pubB64:  base64.RawURLEncoding.EncodeToString(pub),
		subject: cfg.Subject,
		now:     s.now,
	}
	return s, nil
}

// Header values shared by every request (see request).
var (
	contentEncoding = []string{"aes128gcm"}
	contentType     = []string{"application/octet-stream"}
	urgencyHeader   = map[string][]string{
		UrgencyVeryLow: {UrgencyVeryLow}, UrgencyLow: {UrgencyLow}, UrgencyNormal: {UrgencyNormal}, UrgencyHigh: {UrgencyHigh},
	}
)

// NewHTTPClient returns the client Senders should share: policy's dialer
// (checked at connect time, so DNS cannot turn a push into a request to an
// internal address), HTTP/2 where the push service offers it, many idle
// connections per host, and no gzip: push services answer with empty
// bodies, so asking for compression is a header and a check per request
// for nothing. timeout bounds the wait for response headers (0 means
// 15 s); there is no client-wide timeout: Send bounds every request with
// its context. inFlight is how many requests the caller keeps in flight (0
// means at most 128): over HTTP/2 (every browser's push service) they share
// a few connections (see transport); a service speaking HTTP/1.1 needs one
// connection for each, and a connection the pool cannot keep idle is closed
// after its request and opened again for the next.
func NewHTTPClient(policy netguard.Policy, timeout time.Duration, inFlight int) *http.Client {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	c := policy.HTTPClient(timeout)
	c.Timeout = 0
	if t, ok := c.Transport.(*http.Transport); ok {
		t.DisableCompression = true
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, inFlight)
		t.MaxIdleConns = max(t.MaxIdleConns, 4*inFlight)
		c.Transport = newTransport(policy, t)
	}
	return c
}

// ErrInvalidMessage is wrapped by errors about a Message the Sender refuses
// to send (negative TTL, bad Urgency or Topic).
var ErrInvalidMessage = errors.New("push: invalid message")

// Body sizes read from a push service's answer: the start is kept for
// StatusError, the rest drained (bounded) so the connection can be reused.
const (
	errBodyLen   = 512
	maxDrainBody = 64 << 10
)

// Send encrypts m for sub and posts it to the subscription's push service.
// It never panics on bad input: an invalid message, subscription keys or
// endpoint yields a Failed result. The request is bounded by Config.Timeout
// and by ctx.
func (s *Sender) Send(ctx context.Context, sub Subscription, m Message) Result {
	if s.tr != nil && s.tr.viaH1(sub.Endpoint) {
		if r, ok := s.sendH1(ctx, sub, m); ok {
			return r
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := s.request(ctx, sub, m)
	if err != nil {
		return Result{Outcome: Failed, Err: err}
	}
	resp, err := s.rt.RoundTrip(req)
	if err != nil {
		if errors.Is(err, netguard.ErrNotAllowed) {
			return Result{Outcome: Failed, Err: fmt.Errorf("push: %w", err)}
		}
		return Result{Outcome: Retry, Err: fmt.Errorf("push: %w", err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrainBody)
		return Result{Outcome: Delivered, Status: resp.StatusCode}
	}
	var head [errBodyLen]byte
	n, _ := io.ReadFull(resp.Body, head[:])
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrainBody)
	return classify(resp.StatusCode, resp.Header.Get("Retry-After"), head[:n], s.now())
}

// request validates m and sub and builds the encrypted, signed request.
func (s *Sender) request(ctx context.Context, sub Subscription, m Message) (*http.Request, error) {
	body, err := s.body(nil, sub, m)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("push: endpoint: %w", err)
	}
	if (req.URL.Scheme != "https" && req.URL.Scheme != "http") || req.URL.Host == "" {
		return nil, fmt.Errorf("push: endpoint %q: not an http(s) URL", sub.Endpoint)
	}
	auth2, err := s.vapid.header(req.URL.Scheme + "://" + req.URL.Host)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	// Canonical keys set directly: no per-request canonicalisation. The
	// constant values are shared slices, read and never modified by
	// net/http, so a request allocates only what varies.
	h := http.Header{
		"Authorization":    auth2,
		"Content-Encoding": contentEncoding,
		"Content-Type":     contentType,
		"Ttl":              {strconv.FormatInt(int64(m.TTL/time.Second), 10)},
	}
	if m.Urgency != "" {
		h["Urgency"] = urgencyHeader[m.Urgency]
	}
	if m.Topic != "" {
		h["Topic"] = []string{m.Topic}
	}
	req.Header = h
	return req, nil
}

// body validates m and sub and appends the encrypted body to dst.
func (s *Sender) body(dst []byte, sub Subscription, m Message) ([]byte, error) {
	if m.TTL < 0 {
		return nil, fmt.Errorf("%w: negative TTL %v", ErrInvalidMessage, m.TTL)
	}
	if m.Urgency != "" && !ValidUrgency(m.Urgency) {
		return nil, fmt.Errorf("%w: urgency %q", ErrInvalidMessage, m.Urgency)
	}
	if m.Topic != "" && !ValidTopic(m.Topic) {
		return nil, fmt.Errorf("%w: topic %q (use TopicFor)", ErrInvalidMessage, m.Topic)
	}
	padTo, err := paddedLen(len(m.Payload))
	if err != nil {
		return nil, err
	}
	ua, auth, err := parseSubscriptionKeys(sub.P256dh, sub.Auth)
	if err != nil {
		return nil, err
	}
	// A fresh ephemeral key and salt for every message (RFC 8291 §2, RFC 8188).
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("push: ephemeral key: %w", err)
	}
	var salt [saltLen]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, fmt.Errorf("push: salt: %w", err)
	}
	out, err := appendEncrypted(dst, m.Payload, ua, auth, eph, salt[:], padTo)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	return out, nil
}
