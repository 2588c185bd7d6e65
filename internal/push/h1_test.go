package push_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// rawService is an HTTP/1.1 push service written by hand, so that a test
// chooses the exact bytes of every answer and sees the exact bytes of
// every request.
type rawService struct {
	ln       net.Listener
	accepted atomic.Int64
	closed   atomic.Int64 // connections this side has closed
	mu       sync.Mutex
	requests [][]byte // each request's header section, as received
	// answer gives the raw answer to request n (from 1) and whether to
	// close the connection after it.
	answer func(n int) (string, bool)
	n      atomic.Int64
}

func newRawService(t *testing.T, answer func(n int) (string, bool)) *rawService {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawService{ln: ln, answer: answer}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *rawService) serve(c net.Conn) {
	defer func() {
		c.Close()
		s.closed.Add(1)
	}()
	br := bufio.NewReader(c)
	for {
		var head bytes.Buffer
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head.Bytes())))
		if err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, br, req.ContentLength); err != nil {
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, head.Bytes())
		s.mu.Unlock()
		answer, closeAfter := s.answer(int(s.n.Add(1)))
		if _, err := io.WriteString(c, answer); err != nil || closeAfter {
			return
		}
	}
}

func (s *rawService) url() string { return "http://" + s.ln.Addr().String() + "/push/1" }

// rawSender is a Sender on the daemon's client (its HTTP/1.1 pool for
// plain http) and, when std, one on net/http's transport with the same keys.
func rawSender(t *testing.T, std bool) *push.Sender {
	t.Helper()
	client := push.NewHTTPClient(netguard.Policy{AllowPrivate: true}, 2*time.Second, 8)
	if std {
		client = netguard.Policy{AllowPrivate: true}.HTTPClient(2 * time.Second)
		client.Transport.(*http.Transport).DisableCompression = true
	}
	t.Cleanup(client.CloseIdleConnections)
	s, err := push.NewSender(push.Config{PrivateKey: testVAPIDPriv, PublicKey: testVAPIDPub, Subject: "mailto:ops@example.com", Client: client, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testVAPIDPriv, testVAPIDPub = func() (string, string) {
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		panic(err)
	}
	return priv, pub
}()

const created = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"

// The HTTP/1.1 pool writes what net/http writes: the same request line
// and headers, in the same order (only the VAPID signature differs).
func TestH1RequestAsNetHTTP(t *testing.T) {
	t.Parallel()
	srv := newRawService(t, func(int) (string, bool) { return created, false })
	b := pushtest.NewBrowser()
	sub := push.Subscription{Endpoint: srv.url() + "?x=1", P256dh: b.P256dh, Auth: b.Auth}
	for _, m := range []push.Message{
		{Payload: []byte("hi"), TTL: time.Hour, Urgency: push.UrgencyHigh, Topic: push.TopicFor("a")},
		{Payload: []byte("hi")},
	} {
		for _, std := range []bool{true, false} {
			if r := rawSender(t, std).Send(t.Context(), sub, m); r.Outcome != push.Delivered {
				t.Fatalf("std %v: %+v", std, r)
			}
		}
	}
	sig := func(h []byte) string {
		var out []string
		for _, l := range strings.Split(string(h), "\r\n") {
			if strings.HasPrefix(l, "Authorization: vapid t=") {
				l = "Authorization: vapid t=…" + l[strings.Index(l, ", k="):]
			}
			out = append(out, l)
		}
		return strings.Join(out, "\r\n")
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.requests) != 4 {
		t.Fatalf("%d requests", len(srv.requests))
	}
	for i := 0; i < 4; i += 2 {
		if std, fast := sig(srv.requests[i]), sig(srv.requests[i+1]); std != fast {
			t.Errorf("net/http wrote\n%s\nthe pool wrote\n%s", std, fast)
		}
	}
}

// Every framing of an answer is read to its end, and the connection is
// reused exactly when HTTP/1.1 allows it.
func TestH1AnswerFraming(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		answer     string
		closeAfter bool
		want       push.Outcome
		status     int
		reused     bool
		retryAfter time.Duration
	}{
		{"empty", created, false, push.Delivered, 201, true, 0},
		{"length body", "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello", false, push.Delivered, 201, true, 0},
		{"chunked with trailer", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", false, push.Delivered, 201, true, 0},
		{"interim 100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", false, push.Delivered, 201, true, 0},
		{"five interim", strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 5) + created, false, push.Delivered, 201, true, 0},
		// An endless stream of them would hold a core until the deadline.
		{"six interim", strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 6) + created, true, push.Retry, 0, false, 0},
		{"204 no body", "HTTP/1.1 204 No Content\r\n\r\n", false, push.Delivered, 204, true, 0},
		{"connection close", "HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", true, push.Delivered, 201, false, 0},
		{"until close", "HTTP/1.1 201 Created\r\n\r\nbody", true, push.Delivered, 201, false, 0},
		{"HTTP/1.0", "HTTP/1.0 201 Created\r\nContent-Length: 0\r\n\r\n", true, push.Delivered, 201, false, 0},
		{"429 retry-after", "HTTP/1.1 429 Too Many Requests\r\nretry-after:  30 \r\nContent-Length: 4\r\n\r\nslow", false, push.Retry, 429, true, 30 * time.Second},
		{"410 chunked", "HTTP/1.1 410 Gone\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbye\r\n0\r\n\r\n", false, push.Gone, 410, true, 0},
		{"bare LF", "HTTP/1.1 201 Created\nContent-Length: 0\n\n", false, push.Delivered, 201, true, 0},
		{"no reason", "HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n", false, push.Delivered, 201, true, 0},
		{"unasked second answer", created + created, false, push.Delivered, 201, false, 0},
		{"garbage", "SMTP ready\r\n\r\n", true, push.Retry, 0, false, 0},
		{"bad length", "HTTP/1.1 201 Created\r\nContent-Length: -1\r\n\r\n", true, push.Retry, 0, false, 0},
		{"short body", "HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\nabc", true, push.Retry, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newRawService(t, func(int) (string, bool) { return tt.answer, tt.closeAfter })
			s := rawSender(t, false)
			b := pushtest.NewBrowser()
			sub := push.Subscription{Endpoint: srv.url(), P256dh: b.P256dh, Auth: b.Auth}
			for i := range 2 {
				r := s.Send(t.Context(), sub, push.Message{Payload: []byte("x"), TTL: time.Minute})
				if r.Outcome != tt.want || r.Status != tt.status || r.RetryAfter != tt.retryAfter {
					t.Fatalf("send %d: %v %d retry %v (%v), want %v %d retry %v", i, r.Outcome, r.Status, r.RetryAfter, r.Err, tt.want, tt.status, tt.retryAfter)
				}
			}
			wantConns := int64(2)
			if tt.reused {
				wantConns = 1
			}
			if got := srv.accepted.Load(); got != wantConns {
				t.Errorf("%d connections for 2 requests, want %d", got, wantConns)
			}
		})
	}
}

// A connection the service closed while it sat idle is not used again:
// the next push goes out on a new one.
func TestH1IdleConnectionClosedByService(t *testing.T) {
	t.Parallel()
	// Closed after the answer without saying so, as a service's idle
	// timeout does.
	srv := newRawService(t, func(int) (string, bool) { return created, true })
	s := rawSender(t, false)
	b := pushtest.NewBrowser()
	sub := push.Subscription{Endpoint: srv.url(), P256dh: b.P256dh, Auth: b.Auth}
	for i := range 2 {
		if r := s.Send(t.Context(), sub, push.Message{Payload: []byte("x")}); r.Outcome != push.Delivered {
			t.Fatalf("send %d: %+v", i, r)
		}
		// Wait for the close itself, not for a guessed time: on a busy
		// machine the service's goroutine may close late, and a request
		// written before that meets a reset, as it would through net/http.
		for deadline := time.Now().Add(5 * time.Second); srv.closed.Load() < int64(i+1); {
			if time.Now().After(deadline) {
				t.Fatalf("the service did not close connection %d", i+1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if got := srv.accepted.Load(); got != 2 {
		t.Errorf("%d connections, want 2", got)
	}
}

// Cancelling the context ends a request in flight at once, and the
// connection it was on is not reused.
func TestH1CancelInFlight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	var start time.Time
	srv := newRawService(t, func(n int) (string, bool) {
		if n == 1 {
			// Cancelled once the request is in the service's hands, however
			// slow the machine is to get it there.
			start = time.Now()
			cancel()
			<-release
		}
		return created, false
	})
	defer close(release)
	s := rawSender(t, false)
	b := pushtest.NewBrowser()
	sub := push.Subscription{Endpoint: srv.url(), P256dh: b.P256dh, Auth: b.Auth}
	r := s.Send(ctx, sub, push.Message{Payload: []byte("x")})
	if r.Outcome != push.Retry || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("%+v", r)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancel took %v", d)
	}
	if r := s.Send(t.Context(), sub, push.Message{Payload: []byte("x")}); r.Outcome != push.Delivered {
		t.Fatalf("after cancel: %+v", r)
	}
	if got := srv.accepted.Load(); got != 2 {
		t.Errorf("%d connections, want 2 (the cancelled one dropped)", got)
	}
}

// The pool refuses what the policy refuses, as net/http's dialer does.
func TestH1PolicyRefuses(t *testing.T) {
	t.Parallel()
	srv := newRawService(t, func(int) (string, bool) { return created, false })
	client := push.NewHTTPClient(netguard.Policy{}, time.Second, 8)
	s, err := push.NewSender(push.Config{PrivateKey: testVAPIDPriv, PublicKey: testVAPIDPub, Subject: "mailto:ops@example.com", Client: client})
	if err != nil {
		t.Fatal(err)
	}
	b := pushtest.NewBrowser()
	r := s.Send(t.Context(), push.Subscription{Endpoint: srv.url(), P256dh: b.P256dh, Auth: b.Auth}, push.Message{Payload: []byte("x")})
	if r.Outcome != push.Failed || !errors.Is(r.Err, netguard.ErrNotAllowed) || srv.accepted.Load() != 0 {
		t.Fatalf("%+v, %d connections", r, srv.accepted.Load())
	}
}

// Over TLS, an idle connection is still reused when the service kept it
// open (what TLS sent after the handshake, such
// as session tickets, does not count as the service closing it).
func TestH1TLSIdleConnectionReused(t *testing.T) {
	t.Parallel()
	var accepted atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}
	srv.StartTLS() // HTTP/1.1 only
	defer srv.Close()
	client := push.NewHTTPClient(netguard.Policy{AllowPrivate: true}, 0, 8)
	push.TrustRoots(client, srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs)
	defer client.CloseIdleConnections()
	s, err := push.NewSender(push.Config{PrivateKey: testVAPIDPriv, PublicKey: testVAPIDPub, Subject: "mailto:ops@example.com", Client: client})
	if err != nil {
		t.Fatal(err)
	}
	b := pushtest.NewBrowser()
	sub := push.Subscription{Endpoint: srv.URL + "/push/1", P256dh: b.P256dh, Auth: b.Auth}
	send := func() {
		t.Helper()
		if r := s.Send(t.Context(), sub, push.Message{Payload: []byte("x")}); r.Outcome != push.Delivered {
			t.Fatalf("%+v", r)
		}
	}
	send() // learns that the service does not speak h2
	send() // the first through the HTTP/1.1 pool
	before := accepted.Load()
	time.Sleep(100 * time.Millisecond)
	send()
	if n := accepted.Load(); n != before {
		t.Errorf("%d new connections, want the pooled one reused", n-before)
	}
}
