package bounce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Why a report is parked. Callers may give other reasons; the metric
// counts those as "other" so that its labels stay bounded.
const (
	ParkUnparsable = "unparsable"   // not a report crieur can read
	ParkUnmatched  = "unmatched"    // a report about no known reader or email
	ParkBadToken   = "forged_token" // a VERP token that does not verify
	ParkTooLarge   = "too_large"    // over the size a report may have
)

// Caps on what is kept of a report.
const (
	MaxParked     = 64 << 10 // bytes of a parked report kept for the admin
	maxDiagnostic = 500      // characters of the remote server's words
	maxStatus     = 16
	maxReason     = 200
)

// Sources are the ways in; a report from another is counted as "other".
var Sources = []string{"rcpt", "smtp", "imap", "ses", "sendgrid", "postmark", "mailgun"}

// Changed is told, once, that a reader became bounced or complained: the
// one place a reader's status changes for a bounce or a complaint,
// whichever way it came in. It runs after the change is stored.
type Changed func(ctx context.Context, subscriberID int64, became news.Status, r Report)

// StoreConfig wires a Store recorder.
type StoreConfig struct {
	Store *store.Store
	// Hash gives an address's suppression-list hash
	// (subscribe.Service.Hash).
	Hash func(email string) string
	// Soft is how many soft bounces within how long make a reader bounced.
	Soft store.SoftPolicy
	// OnChange, when set, is called after a reader became bounced or
	// complained (outgoing webhooks subscriber.bounced and
	// subscriber.complained hang here).
	OnChange Changed
	// MessageIDs, when set, finds the delivery an original Message-ID
	// names (reports that quote it without a VERP token), so the bounce
	// counts against its digest run or alert; nil: matched by address.
	MessageIDs func(ctx context.Context, messageID string) (deliveryID int64, ok bool)
	Log        *slog.Logger
	Now        func() time.Time
}

// Store is the Recorder crieur runs: it keeps every bounce and complaint
// in the reader's history and applies the rules (store.RecordBounce), and
// parks what it cannot match. Its counters are Collectors for /metrics.
type Store struct {
	cfg     StoreConfig
	reports *prometheus.CounterVec
	parked  *prometheus.CounterVec
}

// NewStore returns a Store recorder.
func NewStore(cfg StoreConfig) *Store {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Store{cfg: cfg,
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crieur_bounce_reports_total",
			Help: "Bounce and complaint reports recorded, by source, kind and outcome (applied, ignored, unmatched).",
		}, []string{"source", "kind", "outcome"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crieur_bounce_parked_total",
			Help: "Reports kept for an admin instead of acted on, by source and reason (forged_token counts unknown or forged VERP tokens).",
		}, []string{"source", "reason"}),
	}
	for _, src := range append(Sources, "other") {
		for _, k := range []Kind{Hard, Soft, Complaint} {
			for _, o := range []Outcome{Applied, Ignored, Unmatched} {
				r.reports.WithLabelValues(src, string(k), string(o))
			}
		}
		for _, why := range []string{ParkUnparsable, ParkUnmatched, ParkBadToken, ParkTooLarge, "other"} {
			r.parked.WithLabelValues(src, why)
		}
	}
	return r
}

// Collectors are the recorder's metrics, for web.Metrics.MustRegister.
func (r *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.reports, r.parked}
}

// Record applies one report. A report naming a delivery or a reader acts
// on that reader; one naming only an address acts on the reader with that
// address; one that matches no reader changes nothing (Unmatched). The
// same report told twice is recorded once (Ignored the second time).
func (r *Store) Record(ctx context.Context, rep Report) (Outcome, error) {
	out, err := r.record(ctx, rep)
	if err == nil {
		r.reports.WithLabelValues(label(rep.Source, Sources), string(rep.Kind), string(out)).Inc()
	}
	return out, err
}

func (r *Store) record(ctx context.Context, rep Report) (Outcome, error) {
	switch rep.Kind {
	case Hard, Soft, Complaint:
	default:
		return Ignored, fmt.Errorf("record bounce: unknown kind %q", rep.Kind)
	}
	if rep.DeliveryID == 0 && rep.MessageID != "" && r.cfg.MessageIDs != nil {
		if id, ok := r.cfg.MessageIDs(ctx, rep.MessageID); ok {
			rep.DeliveryID = id
		}
	}
	if rep.SubscriberID == 0 && rep.DeliveryID == 0 {
		addr := strings.ToLower(strings.TrimSpace(rep.Recipient))
		if addr == "" {
			return Unmatched, nil
		}
		sub, err := r.cfg.Store.SubscriberByEmail(ctx, addr)
		if errors.Is(err, store.ErrNotFound) {
			return Unmatched, nil
		}
		if err != nil {
			return "", err
		}
		rep.SubscriberID = sub.ID
	}
	at := rep.At
	if at.IsZero() || at.After(r.cfg.Now().Add(time.Hour)) {
		// A report dated in the future would stretch the soft window.
		at = r.cfg.Now()
	}
	b := store.Bounce{SubscriberID: rep.SubscriberID, DeliveryID: rep.DeliveryID, At: at.UTC().Truncate(time.Millisecond),
		Kind: string(rep.Kind), Status: clip(rep.Status, maxStatus), Diagnostic: clip(rep.Diagnostic, maxDiagnostic),
		Source: label(rep.Source, Sources)}
	res, err := r.cfg.Store.RecordBounce(ctx, b, r.cfg.Hash, r.cfg.Soft)
	if errors.Is(err, store.ErrNotFound) {
		return Unmatched, nil
	}
	if err != nil {
		return "", err
	}
	if !res.Recorded {
		return Ignored, nil
	}
	if res.Became != "" {
		r.cfg.Log.Info("subscriber "+string(res.Became), "subscriber_id", b.SubscriberID, "kind", b.Kind, "status", b.Status, "source", b.Source)
		if r.cfg.OnChange != nil {
			r.cfg.OnChange(ctx, b.SubscriberID, res.Became, rep)
		}
	}
	return Applied, nil
}

// Park keeps a report for an admin: its first MaxParked bytes, its size,
// where it came from and why.
func (r *Store) Park(ctx context.Context, source, reason string, raw []byte) error {
	r.parked.WithLabelValues(label(source, Sources), label(reason, []string{ParkUnparsable, ParkUnmatched, ParkBadToken, ParkTooLarge})).Inc()
	kept := raw
	if len(kept) > MaxParked {
		kept = kept[:MaxParked]
	}
	return r.cfg.Store.Park(ctx, store.Parked{At: r.cfg.Now(), Source: clip(source, 32), Reason: clip(reason, maxReason),
		Size: int64(len(raw)), Raw: append([]byte{}, kept...)})
}

// label is v when it is one of known, else "other".
func label(v string, known []string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return "other"
}

// clip trims s to n characters on a rune boundary, replacing invalid
// UTF-8 (a report in another charset) so it stores and prints.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
