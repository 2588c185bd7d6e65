package imapin

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Mailbox is a parsed CRIEUR_BOUNCE_MAILBOX.
type Mailbox struct {
	Addr      string // host:port
	Host      string
	User      string
	Password  string
	Folder    string // polled, default INBOX
	Processed string // where reports go, default crieur-processed
	TLS       TLSMode
	Interval  time.Duration // between polls, default 1m
}

// TLSMode is how the connection is secured.
type TLSMode string

const (
	TLSImplicit TLSMode = "tls"      // imaps://, port 993
	TLSStartTLS TLSMode = "starttls" // imap://, port 143, STARTTLS mandatory
	TLSNone     TLSMode = "none"     // imap://…?tls=none: loopback only
)

// ParseURL reads imaps://user:pass@host[:port]/FOLDER or
// imap://user:pass@host[:port]/FOLDER[?tls=starttls|none], with optional
// processed=FOLDER and interval=DURATION parameters. Plain text
// (tls=none) is accepted for a loopback host only: a password must not
// cross a network in the clear. Errors never quote the URL (it holds the
// password).
func ParseURL(raw string) (Mailbox, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Mailbox{}, errors.New("cannot parse the URL")
	}
	m := Mailbox{Folder: "INBOX", Processed: "crieur-processed", Interval: time.Minute}
	q := u.Query()
	port := ""
	switch u.Scheme {
	case "imaps":
		m.TLS, port = TLSImplicit, "993"
		if q.Has("tls") && q.Get("tls") != "tls" {
			return Mailbox{}, errors.New("imaps:// is TLS from the first byte: drop tls= or use imap://")
		}
	case "imap":
		m.TLS, port = TLSStartTLS, "143"
		switch q.Get("tls") {
		case "", "starttls":
		case "none":
			m.TLS = TLSNone
		default:
			return Mailbox{}, errors.New("tls must be starttls or none")
		}
	default:
		return Mailbox{}, errors.New("the scheme must be imaps:// or imap://")
	}
	m.Host = u.Hostname()
	if m.Host == "" {
		return Mailbox{}, errors.New("no host")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	m.Addr = net.JoinHostPort(m.Host, port)
	if u.User == nil || u.User.Username() == "" {
		return Mailbox{}, errors.New("no user name (imaps://user:pass@host/FOLDER)")
	}
	m.User = u.User.Username()
	m.Password, _ = u.User.Password()
	if f := strings.Trim(u.Path, "/"); f != "" {
		m.Folder = f
	}
	if p := q.Get("processed"); p != "" {
		m.Processed = p
	}
	if m.Processed == m.Folder {
		return Mailbox{}, errors.New("processed must be another folder than the one polled")
	}
	if v := q.Get("interval"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 50*time.Millisecond {
			return Mailbox{}, fmt.Errorf("interval must be a duration such as 1m")
		}
		m.Interval = d
	}
	if m.TLS == TLSNone && !loopback(m.Host) {
		return Mailbox{}, errors.New("tls=none is allowed for a loopback host only (the password would cross the network in clear)")
	}
	return m, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
