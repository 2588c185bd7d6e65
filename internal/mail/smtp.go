package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// TLSMode is how an SMTP connection is secured, from the URL's tls parameter.
type TLSMode string

const (
	// TLSNone sends in clear text (a relay on localhost, tests). AUTH is
	// then allowed over the clear connection: the operator asked for it.
	TLSNone TLSMode = "none"
	// TLSStartTLS upgrades with STARTTLS, which is mandatory: a server that
	// does not offer it is a Server error, never a silent clear-text
	// fallback. The default; port 587 when the URL names none.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS); port 465 by
	// default.
	TLSImplicit TLSMode = "tls"
)

// DefaultTimeout bounds dialling and each message's SMTP exchange when
// SMTPOptions.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// SMTPOptions tunes an SMTP transport; the zero value is usable.
type SMTPOptions struct {
	// Timeout bounds the dial and handshake, and each message's whole
	// exchange (MAIL to end of DATA). Zero means DefaultTimeout.
	Timeout time.Duration
	// HELO is the name announced in EHLO; empty means the host name.
	HELO string
	// TLSConfig overrides the TLS settings (root CAs in tests); its
	// ServerName defaults to the URL's host.
	TLSConfig *tls.Config
	// Logger receives connection events (dials, redials); nil discards them.
	Logger *slog.Logger
}

// SMTP is a Transport delivering through an SMTP server with go-mail. Each
// Sender holds one connection. It is safe for concurrent use.
type SMTP struct {
	addr   string
	mode   TLSMode
	opts   SMTPOptions
	tls    *tls.Config
	client *gomail.Client
	log    *slog.Logger
}

// NewSMTP parses an smtp://[user:pass@]host[:port][?tls=none|starttls|tls]
// URL (smtps:// means tls=tls) and returns a transport for it. It does not
// connect; NewSender does. With a user name, AUTH PLAIN (or LOGIN when the
// server offers only that) is required on every connection.
func NewSMTP(rawURL string, opts SMTPOptions) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse errors quote the URL, password included.
		return nil, errors.New("smtp url: cannot parse")
	}
	mode := TLSStartTLS
	switch u.Scheme {
	case "smtp":
	case "smtps":
		mode = TLSImplicit
	default:
		return nil, fmt.Errorf("smtp url: scheme %q, want smtp or smtps", u.Scheme)
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return nil, fmt.Errorf("smtp url: unknown parameter %q", k)
		}
	}
	if v := q.Get("tls"); v != "" {
		switch m := TLSMode(v); m {
		case TLSNone, TLSStartTLS, TLSImplicit:
			mode = m
		default:
			return nil, fmt.Errorf("smtp url: tls=%q, want none, starttls or tls", v)
		}
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("smtp url: no host")
	}
	port := map[TLSMode]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[mode]
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("smtp url: bad port %q", p)
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		tlsConf = opts.TLSConfig.Clone()
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = host
	}
	s := &SMTP{
		addr: net.JoinHostPort(host, strconv.Itoa(port)),
		mode: mode,
		opts: opts,
		tls:  tlsConf,
		log:  logger.With("smtp_server", net.JoinHostPort(host, strconv.Itoa(port))),
	}
	// NOOP before and RSET after every message cost two round trips;
	// Sender.Send issues the commands itself and resets only after a
	// failure. TLS for tls=tls is done in our dialer, so go-mail's own
	// STARTTLS logic is off in that mode.
	gopts := []gomail.Option{
		gomail.WithPort(port),
		gomail.WithTimeout(opts.Timeout),
		gomail.WithTLSConfig(tlsConf),
		gomail.WithDialContextFunc(s.dial),
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
		gomail.WithTLSPolicy(map[TLSMode]gomail.TLSPolicy{
			TLSNone: gomail.NoTLS, TLSStartTLS: gomail.TLSMandatory, TLSImplicit: gomail.NoTLS,
		}[mode]),
	}
	if opts.HELO != "" {
		gopts = append(gopts, gomail.WithHELO(opts.HELO))
	}
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		gopts = append(gopts, gomail.WithSMTPAuthCustom(&plainOrLogin{
			user: u.User.Username(), pass: pass, host: host, allowClear: mode == TLSNone,
		}))
	}
	if s.client, err = gomail.NewClient(host, gopts...); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return s, nil
}

// Addr returns host:port of the server.
func (s *SMTP) Addr() string { return s.addr }

// Mode returns how connections are secured.
func (s *SMTP) Mode() TLSMode { return s.mode }

// connHolderKey carries a *connHolder through go-mail's dial context so the
// Sender gets hold of the net.Conn go-mail dialled.
type connHolderKey struct{}

type connHolder struct{ conn net.Conn }

// dial is go-mail's DialContextFunc: TCP, then TLS for tls=tls.
func (s *SMTP) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: s.opts.Timeout}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if s.mode == TLSImplicit {
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		conn = tc
	}
	if h, ok := ctx.Value(connHolderKey{}).(*connHolder); ok {
		h.conn = conn
	}
	return conn, nil
}

// NewSender dials the server (EHLO, STARTTLS, AUTH) and returns a Sender
// holding that connection; a failure is a *SendError (Server for a refused
// handshake, Temporary for a network failure).
func (s *SMTP) NewSender(ctx context.Context) (Sender, error) {
	snd := &smtpSender{t: s}
	if err := snd.connect(ctx); err != nil {
		return nil, err
	}
	return snd, nil
}

// smtpSender is one go-mail connection, reused for many messages and
// re-dialled after it drops.
type smtpSender struct {
	t    *SMTP
	mu   sync.Mutex
	c    *gosmtp.Client
	conn net.Conn
	// pipelining is whether the server's EHLO offered PIPELINING (RFC
	// 2920); mailParams are the MAIL FROM parameters go-mail's Mail would
	// add (" BODY=8BITMIME", " SMTPUTF8"). Both are read at connect time,
	// from the EHLO that followed STARTTLS when there was one.
	pipelining bool
	mailParams string
	// data is the DATA section of the message being sent (dot-stuffed,
	// terminator included), reused from one message to the next.
	data []byte
}

// maxKeptData bounds the DATA buffer a Sender keeps between messages, so
// that one unusually large message does not pin its size for good.
const maxKeptData = 1 << 20

func (s *smtpSender) connect(ctx context.Context) error {
	h := &connHolder{}
	c, err := s.t.client.DialToSMTPClientWithContext(context.WithValue(ctx, connHolderKey{}, h))
	if err != nil {
		// go-mail leaves the connection open when EHLO or STARTTLS fails.
		if h.conn != nil {
			_ = h.conn.Close()
		}
		se := classify("connect", err)
		s.t.log.WarnContext(ctx, "smtp connect failed", "kind", se.Kind.String(), "code", se.Code, "error", err)
		return se
	}
	s.c, s.conn = c, h.conn
	s.pipelining, _ = c.Extension("PIPELINING")
	s.mailParams = ""
	if ok, _ := c.Extension("8BITMIME"); ok {
		s.mailParams += " BODY=8BITMIME"
	}
	if ok, _ := c.Extension("SMTPUTF8"); ok {
		s.mailParams += " SMTPUTF8"
	}
	s.t.log.DebugContext(ctx, "smtp connected", "pipelining", s.pipelining)
	return nil
}

// drop closes the connection without QUIT; the next Send re-dials.
func (s *smtpSender) drop() {
	if s.c != nil {
		_ = s.c.Close()
	}
	s.c, s.conn = nil, nil
}

// Send delivers raw. A connection found dead at MAIL FROM (closed by the
// server while idle) is re-dialled and the message retried once,
// transparently; a failure later in the exchange is returned as is and the
// next Send re-dials.
func (s *smtpSender) Send(ctx context.Context, envelopeFrom, rcpt string, raw []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return &SendError{Kind: Temporary, Err: err}
	}
	for attempt := 0; ; attempt++ {
		fresh := false
		if s.c == nil {
			if err := s.connect(ctx); err != nil {
				return err
			}
			fresh = true
		}
		err, stale := s.sendOnce(ctx, envelopeFrom, rcpt, raw)
		if err == nil {
			return nil
		}
		if stale && !fresh && attempt == 0 && ctx.Err() == nil {
			s.t.log.DebugContext(ctx, "smtp connection went stale; redialling", "error", err)
			continue
		}
		return err
	}
}

// sendOnce runs one MAIL/RCPT/DATA exchange. stale reports that the
// connection was found dead before anything was accepted, so that a retry
// on a new connection is safe.
//
// The conversation is go-mail's connection, but the commands and the body
// go through its exported textproto.Conn rather than Client.Mail, Rcpt and
// Data: with PIPELINING, MAIL, RCPT and DATA leave in one write and their
// replies are read in order (one round trip instead of three), and the
// body is dot-stuffed in one pass into a reused buffer and written at once
// with its terminator, instead of a byte at a time through DotWriter.
func (s *smtpSender) sendOnce(ctx context.Context, from, rcpt string, raw []byte) (err *SendError, stale bool) {
	// The paths go into command lines: a CR or LF there would inject
	// commands. go-mail's Mail and Rcpt refused them too.
	if strings.ContainsAny(from, "\r\n") {
		return &SendError{Kind: Server, Stage: "mail", Err: fmt.Errorf("envelope sender: %w", ErrHeaderInjection)}, false
	}
	if strings.ContainsAny(rcpt, "\r\n") {
		return &SendError{Kind: Recipient, Stage: "rcpt", Err: fmt.Errorf("recipient: %w", ErrHeaderInjection)}, false
	}
	c := s.c
	// The connection deadline is the per-message timeout; a context
	// deadline or cancellation interrupts through AfterFunc, so the error
	// then reports the context's cause.
	deadline := time.Now().Add(s.t.opts.Timeout)
	if s.conn != nil {
		if e := s.conn.SetDeadline(deadline); e != nil {
			s.drop()
			return &SendError{Kind: Temporary, Stage: "mail", Err: e}, true
		}
		// Unblock a pending read or write as soon as ctx is cancelled.
		conn := s.conn
		stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
		defer stop()
	} else if e := c.UpdateDeadline(time.Until(deadline)); e != nil {
		s.drop()
		return &SendError{Kind: Temporary, Stage: "mail", Err: e}, true
	}

	// fail classifies e at stage, then leaves the connection usable (RSET
	// inside a transaction) or drops it (network error, 421).
	fail := func(stage string, e error, inTransaction bool) *SendError {
		se := classify(stage, e)
		if ctxErr := ctx.Err(); ctxErr != nil {
			se = &SendError{Kind: Temporary, Stage: stage, Err: fmt.Errorf("%w: %w", ctxErr, e)}
		}
		switch {
		case !isReply(e) || replyCode(e) == 421:
			s.drop()
		case inTransaction:
			if rerr := c.Reset(); rerr != nil {
				s.drop()
			}
		}
		return se
	}
	// RFC 5321 §4.1.2 wants the paths in angle brackets, and strict
	// servers answer 555 to a bare address. Both addresses were
	// validated: no brackets in them.
	text := c.Text
	w := text.W
	_, _ = w.WriteString("MAIL FROM:<")
	_, _ = w.WriteString(from)
	_, _ = w.WriteString(">")
	_, _ = w.WriteString(s.mailParams)
	_, _ = w.WriteString("\r\n")
	if !s.pipelining {
		// Without PIPELINING the client waits for each reply (RFC 5321).
		if e := s.command(250); e != nil {
			return fail("mail", e, true), !isReply(e) || replyCode(e) == 421
		}
		_, _ = w.WriteString("RCPT TO:<")
		_, _ = w.WriteString(rcpt)
		_, _ = w.WriteString(">\r\n")
		if e := s.command(25); e != nil {
			return fail("rcpt", e, true), false
		}
		_, _ = w.WriteString("DATA\r\n")
		if e := s.command(354); e != nil {
			return fail("data", e, true), false
		}
	} else {
		// RFC 2920: the three commands in one write, DATA last; then every
		// reply, in order, whatever the earlier ones said.
		_, _ = w.WriteString("RCPT TO:<")
		_, _ = w.WriteString(rcpt)
		_, _ = w.WriteString(">\r\nDATA\r\n")
		if e := w.Flush(); e != nil {
			return fail("mail", e, false), true
		}
		stages := [3]string{"mail", "rcpt", "data"}
		var replies [3]error
		for i, code := range [3]int{250, 25, 354} {
			_, _, replies[i] = text.ReadResponse(code)
			if e := replies[i]; e != nil && (!isReply(e) || replyCode(e) == 421) {
				// The connection is gone or going: no further reply
				// will come. The first failure is the one to report (a
				// 5xx to MAIL stays a Server failure even if the
				// server hangs up at RCPT); only a connection found
				// dead at MAIL makes a retry on a new one safe.
				s.drop()
				first := 0
				for replies[first] == nil {
					first++
				}
				return fail(stages[first], replies[first], false), i == 0
			}
		}
		switch mailErr, rcptErr, dataErr := replies[0], replies[1], replies[2]; {
		case mailErr != nil || rcptErr != nil:
			if dataErr == nil {
				// DATA accepted although MAIL or RCPT failed: RFC 2920
				// 3.1 says to send a lone dot, which ends the (empty)
				// transaction; its reply is of no interest.
				_, _ = w.WriteString(dotEnd)
				if e := w.Flush(); e != nil {
					s.drop()
				} else if _, _, e := text.ReadResponse(250); e != nil && !isReply(e) {
					s.drop()
				}
			}
			if mailErr != nil {
				return fail(stages[0], mailErr, s.c != nil), false
			}
			return fail(stages[1], rcptErr, s.c != nil), false
		case dataErr != nil:
			return fail(stages[2], dataErr, true), false
		}
	}
	// The body, dot-stuffed, and its terminator in one write.
	s.data = appendDotData(s.data[:0], raw)
	_, e := w.Write(s.data)
	if e == nil {
		e = w.Flush()
	}
	if cap(s.data) > maxKeptData {
		s.data = nil
	}
	if e != nil {
		return fail("write", e, false), false
	}
	if _, _, e := text.ReadResponse(250); e != nil {
		// The reply to the final dot ends the transaction: no RSET needed.
		return fail("end-of-data", e, false), false
	}
	return nil, false
}

// command flushes the command line written to the connection and reads its
// reply, which must start with expect (250, or 25 for 250 and 251).
func (s *smtpSender) command(expect int) error {
	if err := s.c.Text.W.Flush(); err != nil {
		return err
	}
	_, _, err := s.c.Text.ReadResponse(expect)
	return err
}

// isReply reports whether err is an SMTP reply (the connection still
// speaks SMTP), not a network or protocol failure.
func isReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}

// replyCode returns the code of the SMTP reply err wraps, or 0.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// Close ends the session with QUIT and closes the connection.
func (s *smtpSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil
	}
	c := s.c
	s.c, s.conn = nil, nil
	_ = c.UpdateDeadline(5 * time.Second)
	if err := c.Quit(); err != nil {
		_ = c.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		return fmt.Errorf("smtp quit: %w", err)
	}
	return nil
}

// plainOrLogin authenticates with PLAIN, or LOGIN when the server offers only
// that. It is stateless, because go-mail shares one smtp.Auth between all
// the connections a Client dials concurrently. Credentials go only over TLS
// (or to localhost) unless the transport was configured with tls=none.
type plainOrLogin struct {
	user, pass, host string
	allowClear       bool
}

// ErrNoAuthMechanism is wrapped when credentials were configured but the
// server offers neither AUTH PLAIN nor AUTH LOGIN.
var ErrNoAuthMechanism = errors.New("smtp server offers neither AUTH PLAIN nor AUTH LOGIN")

// ErrClearTextAuth is wrapped when credentials would cross an unencrypted
// connection to a remote server without tls=none.
var ErrClearTextAuth = errors.New("refusing to send SMTP credentials over an unencrypted connection")

// Start picks the mechanism and sends PLAIN's initial response.
func (a *plainOrLogin) Start(info *gosmtp.ServerInfo) (string, []byte, error) {
	local := info.Name == "localhost" || net.ParseIP(info.Name).IsLoopback()
	if !info.TLS && !a.allowClear && !local {
		return "", nil, ErrClearTextAuth
	}
	switch {
	case slices.Contains(info.Auth, "PLAIN"):
		return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
	case slices.Contains(info.Auth, "LOGIN"):
		return "LOGIN", nil, nil
	default:
		return "", nil, ErrNoAuthMechanism
	}
}

// Next answers LOGIN's "Username:" and "Password:" prompts; PLAIN expects
// none.
func (a *plainOrLogin) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch prompt := strings.ToLower(string(fromServer)); {
	case strings.Contains(prompt, "user"):
		return []byte(a.user), nil
	case strings.Contains(prompt, "pass"):
		return []byte(a.pass), nil
	default:
		return nil, fmt.Errorf("smtp auth: unexpected server challenge %q", fromServer)
	}
}
