// Package imapin polls a mailbox over IMAP for bounces and complaints
// (CRIEUR_BOUNCE_MAILBOX), for publishers whose bounces land in a mailbox
// rather than at crieur's SMTP listener. Reports are handed to a
// bounce.Intake, then flagged \Seen and moved to a folder of their own
// (created if missing); nothing is ever deleted or expunged, and mail
// that is no report is not touched at all, not even marked seen (it is
// read with BODY.PEEK), so the mailbox can be shared with people.
package imapin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/startstop"
)

// processedKeyword marks, where the mailbox allows keywords, what crieur
// has handled; on a server without MOVE it is what keeps a report from
// being read twice.
const processedKeyword = "$CrieurProcessed"

// Config tunes a Poller.
type Config struct {
	Mailbox Mailbox
	Intake  *bounce.Intake
	Log     *slog.Logger
	// TLSConfig overrides the TLS settings (root CAs in tests); its
	// ServerName defaults to the mailbox host.
	TLSConfig *tls.Config
	// Timeout bounds the dial and each IMAP command (default 30s).
	Timeout time.Duration
	// MaxBackoff caps the wait after failed polls (default 30 min).
	MaxBackoff time.Duration
}

// Poller is the IMAP way in: Start polls every Mailbox.Interval until
// Stop; after a failure (the server down, a refused login) it waits
// longer each time, doubling up to MaxBackoff, and never loops.
type Poller struct {
	startstop.Base
	cfg Config

	mu       sync.Mutex
	validity uint32          // UIDVALIDITY others belongs to
	others   map[uint32]bool // UIDs that are no report (or too large): left alone, not read again
}

// New returns a Poller; Start runs it.
func New(cfg Config) *Poller {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Minute
	}
	return &Poller{cfg: cfg, others: map[uint32]bool{}}
}

// Start polls until Stop.
func (p *Poller) Start(ctx context.Context) error {
	ctx, ok := p.Begin(ctx)
	if !ok {
		return nil
	}
	p.Go(func() { p.loop(ctx) })
	return nil
}

// Stop ends the poll in progress (the message being handled is either
// moved or left for the next poll) and waits for it.
func (p *Poller) Stop(context.Context) { p.Base.Stop() }

func (p *Poller) loop(ctx context.Context) {
	failures := 0
	for {
		wait := p.cfg.Mailbox.Interval
		st, err := p.RunOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			wait = Backoff(failures, p.cfg.Mailbox.Interval, p.cfg.MaxBackoff)
			p.cfg.Log.Error("bounce mailbox poll failed; retrying later", "err", err, "failures", failures, "retry_in", wait.String())
		default:
			failures = 0
			if st.Handled > 0 {
				p.cfg.Log.Info("bounce mailbox polled", "handled", st.Handled, "left_alone", st.LeftAlone)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Backoff is the wait after the n-th failed poll in a row: twice the
// interval, then doubling, at most max.
func Backoff(n int, interval, max time.Duration) time.Duration {
	d := interval
	for range min(n, 32) {
		d *= 2
		if d >= max {
			return max
		}
	}
	return d
}

// Stats counts what one poll did.
type Stats struct {
	Handled   int // reports handed to the intake, then flagged and moved
	LeftAlone int // messages that are no report (or too large), untouched
}

// RunOnce connects, logs in, reads every message of the folder not yet
// seen to be no report, and returns. A message is flagged and moved right
// after the intake took it, so a poll cut short reads nothing twice.
func (p *Poller) RunOnce(ctx context.Context) (Stats, error) {
	var st Stats
	m := p.cfg.Mailbox
	c, err := p.dial()
	if err != nil {
		return st, err
	}
	stop := context.AfterFunc(ctx, func() { c.Terminate() })
	defer stop()
	defer c.Logout()
	c.Timeout = p.cfg.Timeout
	if err := c.Login(m.User, m.Password); err != nil {
		return st, fmt.Errorf("imap login at %s: %w", m.Addr, err)
	}
	if err := p.ensureFolder(c, m.Processed); err != nil {
		return st, err
	}
	mb, err := c.Select(m.Folder, false)
	if err != nil {
		return st, fmt.Errorf("imap select %q: %w", m.Folder, err)
	}
	p.mu.Lock()
	if mb.UidValidity != p.validity {
		p.validity, p.others = mb.UidValidity, map[uint32]bool{}
	}
	p.mu.Unlock()
	if mb.Messages == 0 {
		return st, nil
	}
	keywords := slices.Contains(mb.PermanentFlags, imap.TryCreateFlag)
	canMove, err := c.Support("MOVE")
	if err != nil {
		return st, fmt.Errorf("imap capability: %w", err)
	}
	crit := imap.NewSearchCriteria()
	if !canMove {
		crit.WithoutFlags = []string{processedKeyword}
	}
	uids, err := c.UidSearch(crit)
	if err != nil {
		return st, fmt.Errorf("imap search: %w", err)
	}
	sizes, err := p.sizes(c, uids)
	if err != nil {
		return st, err
	}
	for _, uid := range uids {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if p.known(uid) {
			st.LeftAlone++
			continue
		}
		if sizes[uid] > bounce.MaxReportSize {
			p.cfg.Log.Warn("bounce mailbox: message over 1 MiB left alone", "uid", uid, "bytes", sizes[uid])
			p.leave(uid)
			st.LeftAlone++
			continue
		}
		raw, err := p.body(c, uid)
		if err != nil {
			return st, err
		}
		res, err := p.cfg.Intake.Handle(ctx, "imap", nil, raw)
		if err != nil {
			return st, err
		}
		if res == bounce.ResultNotReport {
			p.leave(uid)
			st.LeftAlone++
			continue
		}
		if err := p.done(c, uid, keywords, canMove); err != nil {
			return st, err
		}
		st.Handled++
	}
	return st, nil
}

func (p *Poller) dial() (*client.Client, error) {
	m := p.cfg.Mailbox
	d := &net.Dialer{Timeout: p.cfg.Timeout}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.cfg.TLSConfig != nil {
		tc = p.cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = m.Host
	}
	var c *client.Client
	var err error
	if m.TLS == TLSImplicit {
		c, err = client.DialWithDialerTLS(d, m.Addr, tc)
	} else {
		c, err = client.DialWithDialer(d, m.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("imap connect to %s: %w", m.Addr, err)
	}
	if m.TLS == TLSStartTLS {
		// Mandatory: a server that does not offer it never gets the
		// password in clear.
		if err := c.StartTLS(tc); err != nil {
			c.Terminate()
			return nil, fmt.Errorf("imap STARTTLS at %s: %w", m.Addr, err)
		}
	}
	return c, nil
}

// ensureFolder creates the processed folder when it does not exist.
func (p *Poller) ensureFolder(c *client.Client, name string) error {
	ch := make(chan *imap.MailboxInfo, 8)
	done := make(chan error, 1)
	go func() { done <- c.List("", name, ch) }()
	found := false
	for range ch {
		found = true
	}
	if err := <-done; err != nil {
		return fmt.Errorf("imap list %q: %w", name, err)
	}
	if found {
		return nil
	}
	if err := c.Create(name); err != nil {
		return fmt.Errorf("imap create %q: %w", name, err)
	}
	p.cfg.Log.Info("bounce mailbox: created the folder for processed reports", "folder", name)
	return nil
}

func (p *Poller) sizes(c *client.Client, uids []uint32) (map[uint32]uint32, error) {
	out := map[uint32]uint32{}
	if len(uids) == 0 {
		return out, nil
	}
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	ch := make(chan *imap.Message, 16)
	done := make(chan error, 1)
	go func() { done <- c.UidFetch(set, []imap.FetchItem{imap.FetchUid, imap.FetchRFC822Size}, ch) }()
	for msg := range ch {
		out[msg.Uid] = msg.Size
	}
	if err := <-done; err != nil {
		return nil, fmt.Errorf("imap fetch sizes: %w", err)
	}
	return out, nil
}

// body reads one message with BODY.PEEK[]: reading sets no \Seen.
func (p *Poller) body(c *client.Client, uid uint32) ([]byte, error) {
	set := new(imap.SeqSet)
	set.AddNum(uid)
	section := &imap.BodySectionName{Peek: true}
	ch := make(chan *imap.Message, 1)
	done := make(chan error, 1)
	go func() { done <- c.UidFetch(set, []imap.FetchItem{section.FetchItem()}, ch) }()
	var raw []byte
	var rerr error
	for msg := range ch {
		if lit := msg.GetBody(section); lit != nil {
			raw, rerr = io.ReadAll(io.LimitReader(lit, bounce.MaxReportSize+1))
		}
	}
	if err := <-done; err != nil {
		return nil, fmt.Errorf("imap fetch message: %w", err)
	}
	if rerr != nil {
		return nil, fmt.Errorf("imap read message: %w", rerr)
	}
	if raw == nil {
		return nil, errors.New("imap fetch: the server sent no body")
	}
	return raw, nil
}

// done flags a handled report \Seen (and with crieur's keyword where the
// mailbox takes keywords) and moves it; without MOVE the flags alone keep
// it from being read again: no EXPUNGE, which would also remove what
// people marked deleted.
func (p *Poller) done(c *client.Client, uid uint32, keywords, canMove bool) error {
	set := new(imap.SeqSet)
	set.AddNum(uid)
	flags := []any{imap.SeenFlag}
	if keywords || !canMove {
		flags = append(flags, processedKeyword)
	}
	if err := c.UidStore(set, imap.FormatFlagsOp(imap.AddFlags, true), flags, nil); err != nil {
		return fmt.Errorf("imap flag report: %w", err)
	}
	if !canMove {
		return nil
	}
	if err := c.UidMove(set, p.cfg.Mailbox.Processed); err != nil {
		return fmt.Errorf("imap move report to %q: %w", p.cfg.Mailbox.Processed, err)
	}
	return nil
}

func (p *Poller) known(uid uint32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.others[uid]
}

func (p *Poller) leave(uid uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.others[uid] = true
}
