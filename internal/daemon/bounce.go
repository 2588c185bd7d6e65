package daemon

import (
	"fmt"
	"net"
	"strings"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/imapin"
	"github.com/crieur/crieur/internal/bounce/smtpin"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// validateBounces checks CRIEUR_BOUNCE_DOMAIN, _LISTEN and _MAILBOX.
func (c Config) validateBounces() error {
	if c.BounceDomain != "" {
		if _, err := mail.ValidateAddress("b-x@" + c.BounceDomain); err != nil || strings.ContainsAny(c.BounceDomain, "@[]") {
			return fmt.Errorf("CRIEUR_BOUNCE_DOMAIN must be a mail domain such as bounces.example.com")
		}
	}
	if c.BounceListen != "" {
		if c.BounceDomain == "" {
			return fmt.Errorf("CRIEUR_BOUNCE_LISTEN needs CRIEUR_BOUNCE_DOMAIN: the listener takes mail for that domain only")
		}
		if _, _, err := net.SplitHostPort(c.BounceListen); err != nil {
			return fmt.Errorf("CRIEUR_BOUNCE_LISTEN must be host:port, such as 127.0.0.1:2526")
		}
		if c.BounceListen == c.Listen || c.BounceListen == c.MetricsListen {
			return fmt.Errorf("CRIEUR_BOUNCE_LISTEN must differ from CRIEUR_LISTEN and CRIEUR_METRICS_LISTEN")
		}
	}
	if c.BounceMailbox != "" {
		if _, err := imapin.ParseURL(c.BounceMailbox); err != nil {
			return fmt.Errorf("CRIEUR_BOUNCE_MAILBOX: %v", err)
		}
	}
	return nil
}

// bounceTokens signs the delivery references of every email.
func bounceTokens(secret string) *bounce.Tokens {
	return bounce.NewTokens(derive(secret, "bounce-tokens"))
}

// deliveryRef is what an email's references name: a preview names no
// reader, whoever it once previewed (its refusal says nothing of them).
func deliveryRef(d store.Delivery) bounce.Ref {
	r := bounce.Ref{DeliveryID: d.ID, SubscriberID: d.SubscriberID}
	if d.Kind == news.MailPreview {
		r.SubscriberID = 0
	}
	return r
}

// returnPaths gives each email its VERP envelope sender; nil without a
// bounce domain (the envelope sender is then the From address).
func returnPaths(tk *bounce.Tokens, domain string) func(store.Delivery) string {
	if domain == "" {
		return nil
	}
	return func(d store.Delivery) string { return tk.ReturnPath(deliveryRef(d), domain) }
}

// messageIDs gives each email a Message-ID that a report quoting it can
// be traced back by, with or without VERP.
func messageIDs(tk *bounce.Tokens, domain string) func(store.Delivery) string {
	return func(d store.Delivery) string { return tk.MessageID(deliveryRef(d), domain) }
}

// buildBounceWays builds the SMTP listener and the IMAP poller that are
// configured, around one intake counted in /metrics.
func (d *Daemon) buildBounceWays(tk *bounce.Tokens) error {
	if d.cfg.BounceListen == "" && d.cfg.BounceMailbox == "" {
		return nil
	}
	counter := bounce.NewCounter()
	if err := d.Metrics.Register(counter); err != nil {
		return fmt.Errorf("bounce metrics: %w", err)
	}
	in := &bounce.Intake{Tokens: tk, Domain: d.cfg.BounceDomain, Recorder: d.Bounces, Log: d.log, Counter: counter}
	if d.cfg.BounceListen != "" {
		d.BounceListener = smtpin.New(smtpin.Config{Addr: d.cfg.BounceListen, Domain: d.cfg.BounceDomain, Intake: in, Log: d.log})
	}
	if d.cfg.BounceMailbox != "" {
		m, err := imapin.ParseURL(d.cfg.BounceMailbox)
		if err != nil {
			return fmt.Errorf("CRIEUR_BOUNCE_MAILBOX: %w", err)
		}
		d.BouncePoller = imapin.New(imapin.Config{Mailbox: m, Intake: in, Log: d.log})
	}
	return nil
}
