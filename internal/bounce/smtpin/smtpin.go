// Package smtpin is crieur's inbound SMTP listener for bounces and
// complaints (CRIEUR_BOUNCE_LISTEN): the publisher's MX, or the relay that
// sends crieur's mail, forwards the bounce domain to it. It accepts mail
// for that domain only, never relays, reads at most bounce.MaxReportSize
// per message, bounds connections, their lifetime and each command, and
// hands every message to a bounce.Intake.
package smtpin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/netutil"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/startstop"
)

// Config tunes a Listener; zero values take the defaults given.
type Config struct {
	Addr   string // host:port to listen on
	Domain string // the bounce domain: the only one mail is accepted for
	Intake *bounce.Intake
	Log    *slog.Logger
	// MaxConns bounds simultaneous connections (default 32); more wait
	// in the kernel's backlog.
	MaxConns int
	// MaxConnsPerIP bounds one client's simultaneous connections (an
	// IPv6 client's by its /64; default 8): past it a connection is
	// answered 421 and closed, so that one client holding idle
	// connections cannot take every slot from the MTAs.
	MaxConnsPerIP int
	// CommandTimeout bounds each read and write (default 1 min);
	// SessionTimeout a whole connection (default 10 min).
	CommandTimeout, SessionTimeout time.Duration
}

// Listener is the inbound SMTP service. Listen binds (so tests and the
// daemon learn the address before Start); Start serves; Stop closes.
type Listener struct {
	startstop.Base
	cfg Config
	ln  net.Listener
	srv *smtp.Server
	mu  sync.Mutex
}

// New returns a Listener; it binds nothing yet.
func New(cfg Config) *Listener {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 32
	}
	if cfg.MaxConnsPerIP <= 0 {
		cfg.MaxConnsPerIP = 8
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = time.Minute
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Minute
	}
	return &Listener{cfg: cfg}
}

// Listen binds the address; Start calls it when it has not been.
func (l *Listener) Listen() (net.Addr, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		ln, err := net.Listen("tcp", l.cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s (CRIEUR_BOUNCE_LISTEN): %w", l.cfg.Addr, err)
		}
		// The per-client cap inside the global one: it is asked for a
		// connection only when a slot is free.
		per := &perClientListener{Listener: ln, max: l.cfg.MaxConnsPerIP, open: map[netip.Prefix]int{}, log: l.cfg.Log}
		l.ln = &deadlineListener{Listener: netutil.LimitListener(per, l.cfg.MaxConns), life: l.cfg.SessionTimeout}
	}
	return l.ln.Addr(), nil
}

// Start serves until Stop.
func (l *Listener) Start(ctx context.Context) error {
	if _, err := l.Listen(); err != nil {
		return err
	}
	ctx, ok := l.Begin(ctx)
	if !ok {
		return nil
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{l: l, ctx: ctx}, nil
	}))
	srv.Domain = l.cfg.Domain
	srv.MaxMessageBytes = bounce.MaxReportSize
	srv.MaxRecipients = 16
	srv.ReadTimeout, srv.WriteTimeout = l.cfg.CommandTimeout, l.cfg.CommandTimeout
	srv.ErrorLog = slogPrinter{l.cfg.Log}
	l.mu.Lock()
	l.srv = srv
	ln := l.ln
	l.mu.Unlock()
	l.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			l.cfg.Log.Error("bounce listener stopped", "err", err)
		}
	})
	l.cfg.Log.Info("bounce listener serving", "addr", ln.Addr().String(), "domain", l.cfg.Domain)
	return nil
}

// Stop lets messages being handed over finish until ctx is done, then
// closes every connection; a sender whose message was cut retries it.
func (l *Listener) Stop(ctx context.Context) {
	l.mu.Lock()
	srv, ln := l.srv, l.ln
	l.srv, l.ln = nil, nil
	l.mu.Unlock()
	if srv != nil {
		// An MTA that keeps an idle connection open must not hold the
		// daemon's whole grace, which the delivery pipelines share.
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
	} else if ln != nil {
		ln.Close() // bound by Listen, never served
	}
	l.Base.Stop()
}

// session is one SMTP transaction's state.
type session struct {
	l     *Listener
	ctx   context.Context
	rcpts []string
}

var errRelay = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied: this server takes mail for its bounce domain only"}

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	_, domain, ok := strings.Cut(to, "@")
	if !ok || !strings.EqualFold(strings.TrimSuffix(domain, "."), s.l.cfg.Domain) {
		return errRelay
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		// Over MaxMessageBytes: go-smtp's 552, which the sender reads
		// as permanent; or the connection broke.
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	if _, err := s.l.cfg.Intake.HandleOrPark(ctx, "smtp", s.rcpts, raw); err != nil {
		s.l.cfg.Log.Error("bounce report not stored; the sender will retry", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Cannot store the report now, try again later"}
	}
	return nil
}

func (s *session) Reset()        { s.rcpts = nil }
func (s *session) Logout() error { return nil }

// deadlineListener gives every connection a whole-life deadline, so a
// client that trickles bytes cannot hold a slot forever.
type deadlineListener struct {
	net.Listener
	life time.Duration
}

func (d *deadlineListener) Accept() (net.Conn, error) {
	c, err := d.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(d.life))
	return &lifeConn{Conn: c, end: time.Now().Add(d.life)}, nil
}

// lifeConn keeps the deadline of its life: go-smtp sets a deadline per
// command, which must not push it further.
type lifeConn struct {
	net.Conn
	end time.Time
}

func (c *lifeConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.min(t)) }
func (c *lifeConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.min(t)) }
func (c *lifeConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.min(t)) }
func (c *lifeConn) min(t time.Time) time.Time {
	if t.IsZero() || t.After(c.end) {
		return c.end
	}
	return t
}

// slogPrinter carries go-smtp's own error lines (broken connections) to
// the daemon's log at debug: they are a remote party's doing.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Debug("bounce listener", "msg", fmt.Sprintf(format, v...))
}
func (p slogPrinter) Println(v ...any) { p.log.Debug("bounce listener", "msg", fmt.Sprint(v...)) }
