package bounce

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Result is what handling one incoming report came to; it is also the
// result label of crieur_bounce_intake_total.
type Result string

const (
	// ResultApplied: a reader was found and the Recorder acted on it.
	ResultApplied Result = "applied"
	// ResultIgnored: understood, and nothing to do (an auto-reply, a delay
	// warning, a refusal of the message rather than the address, feedback
	// that is no complaint, or the Recorder had nothing to change).
	ResultIgnored Result = "ignored"
	// ResultUnknown: the reference verified but names no reader any more
	// (erased since); nothing is kept.
	ResultUnknown Result = "unknown"
	// ResultForged: the VERP token or Message-ID reference did not verify;
	// nothing changed.
	ResultForged Result = "forged"
	// ResultParked: unreadable, or a report naming no email of ours: kept
	// for an admin (Recorder.Park), never guessed at.
	ResultParked Result = "parked"
	// ResultNotReport: mail that is no report (for a person, spam), left
	// alone (the IMAP poller); HandleOrPark parks it instead.
	ResultNotReport Result = "not_report"
)

// NewCounter is crieur_bounce_intake_total (messages received, by way in
// and result; what was recorded is the recorder's
// crieur_bounce_reports_total), for the daemon to register.
func NewCounter() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crieur_bounce_intake_total",
		Help: "Bounce reports, complaints and auto-replies received, by way in (smtp, imap) and result (applied, ignored, unknown, forged, parked, not_report).",
	}, []string{"source", "result"})
	for _, s := range []string{"smtp", "imap"} {
		for _, r := range []Result{ResultApplied, ResultIgnored, ResultUnknown, ResultForged, ResultParked, ResultNotReport} {
			c.WithLabelValues(s, string(r))
		}
	}
	return c
}

// Intake turns raw reports into Reports for the Recorder: the one path
// the SMTP listener and the IMAP poller share. Only a verified reference
// (a VERP address at Domain, or a Message-ID crieur made) names the
// reader: a report's Final-Recipient is anyone's to write, so a report
// naming no reference is parked, never matched by address.
type Intake struct {
	Tokens   *Tokens
	Domain   string // CRIEUR_BOUNCE_DOMAIN; empty: no VERP addresses are read
	Recorder Recorder
	Log      *slog.Logger
	Counter  *prometheus.CounterVec // nil: not counted
	Now      func() time.Time
}

// Handle parses one incoming message and acts on it. rcpts are its
// envelope recipients when known (SMTP). An error means the Recorder
// failed (the database): the caller should have the message tried again.
func (in *Intake) Handle(ctx context.Context, source string, rcpts []string, raw []byte) (Result, error) {
	res, err := in.handle(ctx, source, rcpts, raw)
	if err == nil && in.Counter != nil {
		in.Counter.WithLabelValues(source, string(res)).Inc()
	}
	return res, err
}

func (in *Intake) handle(ctx context.Context, source string, rcpts []string, raw []byte) (Result, error) {
	p, err := Parse(raw)
	if err != nil {
		in.Log.Warn("bounce report unreadable; parked", "source", source, "err", err, "bytes", len(raw))
		return ResultParked, in.park(ctx, source, "unreadable: "+err.Error(), raw)
	}
	if p.Type == TypeOther {
		return ResultNotReport, nil
	}
	v := p.Verdict()
	if v.Kind == "" {
		in.Log.Debug("bounce report needs nothing", "source", source, "type", p.Type, "why", v.Why, "status", v.Recipient.Status)
		return ResultIgnored, nil
	}
	ref, found, err := in.resolve(p, rcpts)
	if err != nil {
		in.Log.Warn("bounce report with a forged delivery reference; nothing changed", "source", source, "type", p.Type)
		return ResultForged, nil
	}
	if !found {
		in.Log.Info("bounce report names no email of ours; parked", "source", source, "type", p.Type, "kind", v.Kind)
		return ResultParked, in.park(ctx, source, "no delivery reference", raw)
	}
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	out, err := in.Recorder.Record(ctx, Report{Kind: v.Kind, DeliveryID: ref.DeliveryID, SubscriberID: ref.SubscriberID,
		Recipient: v.Recipient.Address, Status: v.Recipient.Status, Diagnostic: v.Recipient.Diagnostic, At: now(), Source: source})
	if err != nil {
		return "", fmt.Errorf("record %s report: %w", v.Kind, err)
	}
	in.Log.Info("bounce report", "source", source, "kind", v.Kind, "status", v.Recipient.Status, "delivery_id", ref.DeliveryID,
		"subscriber_id", ref.SubscriberID, "outcome", out)
	switch out {
	case Applied:
		return ResultApplied, nil
	case Unmatched:
		return ResultUnknown, nil
	}
	return ResultIgnored, nil
}

// HandleOrPark is Handle for a way in where all mail is meant for crieur
// (the SMTP listener of the bounce domain): mail that is no report (a
// reader answering the Return-Path, spam) is parked for an admin too.
func (in *Intake) HandleOrPark(ctx context.Context, source string, rcpts []string, raw []byte) (Result, error) {
	res, err := in.handle(ctx, source, rcpts, raw)
	if err == nil && res == ResultNotReport {
		res, err = ResultParked, in.park(ctx, source, "not a report", raw)
	}
	if err == nil && in.Counter != nil {
		in.Counter.WithLabelValues(source, string(res)).Inc()
	}
	return res, err
}

func (in *Intake) park(ctx context.Context, source, reason string, raw []byte) error {
	if len(raw) > MaxReportSize {
		raw = raw[:MaxReportSize]
	}
	if err := in.Recorder.Park(ctx, source, reason, raw); err != nil {
		return fmt.Errorf("park report: %w", err)
	}
	return nil
}

// resolve finds the delivery a report is about: a VERP address at the
// bounce domain (the envelope recipient first, then where the report was
// addressed, then the original's quoted return path), else a Message-ID
// crieur made. The first reference found decides: if it does not verify,
// the report is forged, whatever else it says.
func (in *Intake) resolve(p *Parsed, rcpts []string) (Ref, bool, error) {
	tok, ok := in.reference(p, rcpts)
	if !ok {
		return Ref{}, false, nil
	}
	ref, err := in.Tokens.Parse(tok)
	if err != nil {
		return Ref{}, false, err
	}
	return ref, true, nil
}

// reference returns the first delivery token the report carries, in the
// order resolve gives, unverified.
func (in *Intake) reference(p *Parsed, rcpts []string) (string, bool) {
	if in.Domain != "" {
		for _, group := range [][]string{rcpts, p.Addressed, p.ReturnPaths} {
			for _, a := range group {
				_, domain, _ := strings.Cut(strings.Trim(strings.TrimSpace(a), "<>"), "@")
				if !strings.EqualFold(domain, in.Domain) {
					continue
				}
				if tok, ok := verpToken(a); ok {
					return tok, true
				}
			}
		}
	}
	for _, id := range p.MessageIDs {
		if tok, ok := messageIDToken(id); ok {
			return tok, true
		}
	}
	return "", false
}
