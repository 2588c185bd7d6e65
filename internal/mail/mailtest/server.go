// Package mailtest is an in-process SMTP sink for tests of the whole
// project, built on github.com/emersion/go-smtp: it records every message
// (or only counts them, for benchmarks), can offer STARTTLS with a
// self-signed certificate and AUTH PLAIN, and can be scripted to fail
// (4xx/5xx replies per RCPT or DATA, a connection dropped mid-DATA, a stall,
// refused AUTH), and can leave PIPELINING out of its EHLO reply. It also
// scores messages with SpamAssassin and measures raw
// go-mail throughput for comparison with crieur's own sending path.
//
// It must not import mail or dispatch: it is the far side of the wire and
// checks what crieur sends by SMTP alone.
package mailtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Hook decides the reply to the n-th RCPT (or DATA) command the server has
// received (counting from 1 over its lifetime); rcpt is the recipient (for
// DATA: the transaction's first recipient). Returning nil accepts.
type Hook func(rcpt string, n int) *smtp.SMTPError

// Msg is one message the server accepted.
type Msg struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To are the envelope recipients (RCPT TO).
	To []string
	// Raw is the message as received (after dot-unstuffing).
	Raw []byte
	// Conn numbers the connection that carried the message, from 1.
	Conn int
}

// Option configures a Server.
type Option func(*config)

type config struct {
	startTLS   bool
	user, pass string
	refuseAuth bool
	discard    bool
	rcptHook   Hook
	dataHook   Hook
	dropData   func(rcpt string, n int) bool
	stall      func(rcpt string, n int) time.Duration
	protocol   io.Writer
	noPipeline bool
}

// WithStartTLS offers STARTTLS with a fresh self-signed certificate for
// 127.0.0.1 and localhost; clients trust it through [Server.ClientTLSConfig].
func WithStartTLS() Option { return func(c *config) { c.startTLS = true } }

// WithProtocolLog copies every line of every conversation, both ways, to w
// (which must be safe for concurrent writes), so a test can check the
// commands' exact syntax.
func WithProtocolLog(w io.Writer) Option { return func(c *config) { c.protocol = w } }

// WithoutPipelining leaves PIPELINING (RFC 2920) out of the EHLO reply, as
// a server without the extension does; go-smtp offers it otherwise (and
// accepts pipelined commands either way). The line is removed on its way to
// the socket, so this works in clear text only: not with WithStartTLS.
func WithoutPipelining() Option { return func(c *config) { c.noPipeline = true } }

// WithAuth offers AUTH PLAIN and requires it before MAIL FROM.
func WithAuth(user, pass string) Option {
	return func(c *config) { c.user, c.pass = user, pass }
}

// WithRefuseAuth answers every AUTH with 535 5.7.8 (implies AUTH offered).
func WithRefuseAuth() Option {
	return func(c *config) {
		c.refuseAuth = true
		if c.user == "" {
			c.user, c.pass = "user", "pass"
		}
	}
}

// WithDiscard keeps only a count of the messages, not their bytes (for
// benchmarks).
func WithDiscard() Option { return func(c *config) { c.discard = true } }

// WithRcptHook scripts the reply to RCPT commands.
func WithRcptHook(h Hook) Option { return func(c *config) { c.rcptHook = h } }

// WithDataHook scripts the reply at the end of DATA (after the message was
// read; it is then not recorded when the hook returns an error).
func WithDataHook(h Hook) Option { return func(c *config) { c.dataHook = h } }

// WithDropDuringData closes the connection in the middle of the n-th DATA
// when drop returns true, without replying.
func WithDropDuringData(drop func(rcpt string, n int) bool) Option {
	return func(c *config) { c.dropData = drop }
}

// WithStall delays the reply to the n-th DATA by the returned duration (or
// until the server closes).
func WithStall(stall func(rcpt string, n int) time.Duration) Option {
	return func(c *config) { c.stall = stall }
}

// Server is a running SMTP sink on 127.0.0.1. It is closed by the test's
// Cleanup and safe for concurrent use.
type Server struct {
	tb     testing.TB
	cfg    config
	srv    *smtp.Server
	ln     net.Listener
	addr   string
	client *tls.Config
	done   chan struct{}

	mu    sync.Mutex
	cond  *sync.Cond
	msgs  []Msg
	count int
	conns int
	rcpts int
	datas int
	open  map[*smtp.Conn]struct{}
	// pipelined counts MAIL FROM commands read together with a following
	// RCPT TO (see PipelinedTransactions).
	pipelined atomic.Int64
}

// NewServer starts a server on 127.0.0.1:0.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{tb: tb, done: make(chan struct{}), open: map[*smtp.Conn]struct{}{}}
	s.cond = sync.NewCond(&s.mu)
	for _, o := range opts {
		o(&s.cfg)
	}
	if s.cfg.noPipeline && s.cfg.startTLS {
		tb.Fatalf("mailtest: WithoutPipelining cannot be combined with WithStartTLS")
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "mailtest.localhost"
	s.srv.MaxMessageBytes = 32 << 20
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.AllowInsecureAuth = !s.cfg.startTLS
	s.srv.Debug = s.cfg.protocol
	if s.cfg.startTLS {
		serverConf, clientConf, err := selfSigned()
		if err != nil {
			tb.Fatalf("mailtest: certificate: %v", err)
		}
		s.srv.TLSConfig, s.client = serverConf, clientConf
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("mailtest: listen: %v", err)
	}
	s.ln, s.addr = ln, ln.Addr().String()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.srv.Serve(watchListener{Listener: ln, s: s})
	}()
	tb.Cleanup(func() {
		close(s.done)
		_ = s.srv.Close()
		<-served
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	return s
}

// Addr returns host:port.
func (s *Server) Addr() string { return s.addr }

// URL returns a CRIEUR_SMTP_URL for this server: tls=starttls with
// WithStartTLS, else tls=none; with the credentials of WithAuth.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr, RawQuery: "tls=none"}
	if s.cfg.startTLS {
		u.RawQuery = "tls=starttls"
	}
	if s.cfg.user != "" {
		u.User = url.UserPassword(s.cfg.user, s.cfg.pass)
	}
	return u.String()
}

// ClientTLSConfig returns a client configuration trusting the server's
// certificate (nil without WithStartTLS).
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.client == nil {
		return nil
	}
	return s.client.Clone()
}

// Messages returns a copy of the messages received so far.
func (s *Server) Messages() []Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Msg(nil), s.msgs...)
}

// Count returns how many messages were accepted (also in discard mode).
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Connections returns how many SMTP sessions were opened.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// PipelinedTransactions returns how many times a client's MAIL FROM
// arrived in the same read as the RCPT TO after it: the client pipelined
// them (RFC 2920) rather than waiting for the reply to MAIL FROM. Clear-text
// connections only (after STARTTLS the bytes are encrypted).
func (s *Server) PipelinedTransactions() int { return int(s.pipelined.Load()) }

// Wait blocks until at least n messages were accepted and returns them; it
// fails the test after timeout. Call it from the test goroutine.
func (s *Server) Wait(n int, timeout time.Duration) []Msg {
	s.tb.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.count < n {
		if time.Now().After(deadline) {
			s.tb.Fatalf("mailtest: got %d messages after %v, want %d", s.count, timeout, n)
		}
		select {
		case <-s.done:
			s.tb.Fatalf("mailtest: server closed with %d messages, want %d", s.count, n)
		default:
		}
		s.cond.Wait()
	}
	return append([]Msg(nil), s.msgs...)
}

// DropConnections closes every open connection at once, as a server
// restarting or timing out idle clients would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.open {
		_ = c.Conn().Close()
	}
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns++
	s.open[c] = struct{}{}
	sess := &session{s: s, c: c, conn: s.conns}
	if s.cfg.user != "" {
		return &authSession{sess}, nil
	}
	return sess, nil
}

// session records one SMTP session's transactions.
type session struct {
	s      *Server
	c      *smtp.Conn
	conn   int
	authed bool
	from   string
	to     []string
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error {
	ss.s.mu.Lock()
	delete(ss.s.open, ss.c)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.cfg.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from, ss.to = from, nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	ss.s.rcpts++
	n := ss.s.rcpts
	ss.s.mu.Unlock()
	if h := ss.s.cfg.rcptHook; h != nil {
		if e := h(to, n); e != nil {
			return e
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	ss.s.mu.Lock()
	ss.s.datas++
	n := ss.s.datas
	ss.s.mu.Unlock()
	first := ""
	if len(ss.to) > 0 {
		first = ss.to[0]
	}
	cfg := &ss.s.cfg
	if cfg.dropData != nil && cfg.dropData(first, n) {
		var half [512]byte
		_, _ = io.ReadFull(r, half[:])
		_ = ss.c.Conn().Close()
		return errors.New("mailtest: connection dropped during DATA")
	}
	var raw []byte
	if cfg.discard {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	} else {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r); err != nil {
			return err
		}
		raw = buf.Bytes()
	}
	if cfg.stall != nil {
		if d := cfg.stall(first, n); d > 0 {
			select {
			case <-time.After(d):
			case <-ss.s.done:
			}
		}
	}
	if cfg.dataHook != nil {
		if e := cfg.dataHook(first, n); e != nil {
			return e
		}
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.count++
	if !cfg.discard {
		ss.s.msgs = append(ss.s.msgs, Msg{From: ss.from, To: append([]string(nil), ss.to...), Raw: raw, Conn: ss.conn})
	}
	ss.s.cond.Broadcast()
	return nil
}

// authSession adds AUTH PLAIN to a session.
type authSession struct{ *session }

func (as *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (as *authSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if as.s.cfg.refuseAuth || user != as.s.cfg.user || pass != as.s.cfg.pass || (identity != "" && identity != user) {
			return smtp.ErrAuthFailed
		}
		as.authed = true
		return nil
	}), nil
}

// watchListener wraps every accepted connection in a watchConn.
type watchListener struct {
	net.Listener
	s *Server
}

func (l watchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchConn{Conn: c, s: l.s}, nil
}

// watchConn sees the clear-text bytes of a connection: it counts pipelined
// transactions and, with WithoutPipelining, drops the EHLO line offering
// PIPELINING (go-smtp writes and flushes each reply line on its own).
type watchConn struct {
	net.Conn
	s *Server
}

var (
	pipeliningLine = []byte("250-PIPELINING\r\n")
	mailFrom       = []byte("MAIL FROM:")
	rcptTo         = []byte("\r\nRCPT TO:")
)

func (c *watchConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if i := bytes.Index(p[:n], mailFrom); i >= 0 && bytes.Contains(p[i:n], rcptTo) {
		c.s.pipelined.Add(1)
	}
	return n, err
}

func (c *watchConn) Write(p []byte) (int, error) {
	if c.s.cfg.noPipeline && bytes.Equal(p, pipeliningLine) {
		return len(p), nil
	}
	return c.Conn.Write(p)
}
