package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// WebhookEndpoint is a URL an admin registered to receive events.
type WebhookEndpoint struct {
	ID     int64
	URL    string
	Events []news.EventType
	// Secret is the endpoint's whsec_ signing secret.
	Secret    string
	CreatedBy string
	CreatedAt time.Time
	// FailingSince is the first failure of the current streak (zero when
	// the last attempt succeeded).
	FailingSince time.Time
	// DisabledAt is when the endpoint was disabled for failing a day
	// (zero: enabled), DisabledReason why.
	DisabledAt     time.Time
	DisabledReason string
}

// WebhookJob is one claimed delivery of one event to one endpoint.
type WebhookJob struct {
	ID, EndpointID, EventID int64
	Attempts, Claims        int
	URL, Secret             string
	Type                    news.EventType
	Body                    []byte
	EventAt                 time.Time
}

// WebhookVerdict is what became of one attempt.
type WebhookVerdict int

// The verdicts of an attempt.
const (
	// WebhookSent: the endpoint answered 2xx.
	WebhookSent WebhookVerdict = iota + 1
	// WebhookRetry: try again at RetryAt, unless the endpoint or the
	// delivery has failed for the give-up period (see RecordWebhook).
	WebhookRetry
	// WebhookReleased: not attempted (shutdown); back to the queue as it was.
	WebhookReleased
)

// WebhookOutcome is the result of one attempt of a job.
type WebhookOutcome struct {
	Job     WebhookJob
	Verdict WebhookVerdict
	Status  int
	Latency time.Duration
	Error   string
	RetryAt time.Time
}

// WebhookLogEntry is one delivery in an endpoint's log.
type WebhookLogEntry struct {
	ID, EventID int64
	Type        news.EventType
	State       string
	Attempts    int
	Status      int
	Latency     time.Duration
	LastError   string
	CreatedAt   time.Time
	FinishedAt  time.Time
	NextAttempt time.Time
}

// eventList stores event names between commas, so one LIKE finds one.
func eventList(events []news.EventType) string {
	var b strings.Builder
	b.WriteByte(',')
	for _, e := range events {
		b.WriteString(string(e))
		b.WriteByte(',')
	}
	return b.String()
}

func scanWebhookEndpoint(r rowScanner) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	var events string
	var created, failing, disabled sql.NullInt64
	if err := r.Scan(&e.ID, &e.URL, &events, &e.Secret, &e.CreatedBy, &created, &failing, &disabled, &e.DisabledReason); err != nil {
		return e, err
	}
	for _, name := range strings.Split(strings.Trim(events, ","), ",") {
		if name != "" {
			e.Events = append(e.Events, news.EventType(name))
		}
	}
	e.CreatedAt, e.FailingSince, e.DisabledAt = fromMS(created), fromMS(failing), fromMS(disabled)
	return e, nil
}

// CreateWebhookEndpoint registers an endpoint; the caller has checked its
// URL and events and made its secret.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, url string, events []news.EventType, secret, by string, now time.Time) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, s.query("InsertWebhookEndpoint"), url, eventList(events), secret, by, ms(now)).Scan(&id); err != nil {
		return 0, fmt.Errorf("create webhook endpoint: %w", err)
	}
	return id, nil
}

// WebhookEndpoints lists every endpoint, oldest first.
func (s *Store) WebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListWebhookEndpoints"))
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	defer rows.Close()
	out := []WebhookEndpoint{}
	for rows.Next() {
		e, err := scanWebhookEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhook endpoints: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// WebhookEndpoint returns one endpoint, or ErrNotFound.
func (s *Store) WebhookEndpoint(ctx context.Context, id int64) (WebhookEndpoint, error) {
	e, err := scanWebhookEndpoint(s.db.QueryRowContext(ctx, s.query("GetWebhookEndpoint"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("get webhook endpoint: %w", err)
	}
	return e, nil
}

// DeleteWebhookEndpoint removes an endpoint and what was queued for it.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.query("DeleteWebhookEndpoint"), id)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// EnableWebhookEndpoint turns a disabled endpoint back on: what was
// queued for it while it was off goes out, in order.
func (s *Store) EnableWebhookEndpoint(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.query("EnableWebhookEndpoint"), id)
	if err != nil {
		return fmt.Errorf("enable webhook endpoint: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// EmitTestWebhook queues a webhook.test event for one endpoint only.
func (s *Store) EmitTestWebhook(ctx context.Context, endpointID int64, now time.Time) (int64, error) {
	var eventID int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM webhook_endpoints WHERE id = ?`), endpointID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		var err error
		eventID, err = s.insertEvent(ctx, tx, []int64{endpointID}, news.EventTest, "", map[string]string{"message": "a test event from crieur"}, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("emit test webhook: %w", err)
	}
	return eventID, nil
}

// emitEvent writes an event to the outbox in tx, with one delivery per
// enabled endpoint that asked for typ; nothing when none did. Callers
// call it in the transaction that makes the change the event tells of,
// so the event and the change are kept or lost together. subject orders
// deliveries: one endpoint gets one subject's events in the order they
// were emitted.
func (s *Store) emitEvent(ctx context.Context, tx *sql.Tx, typ news.EventType, subject string, data any, now time.Time) error {
	rows, err := tx.QueryContext(ctx, s.query("WebhookEndpointsFor"), "%,"+string(typ)+",%")
	if err != nil {
		return fmt.Errorf("webhook endpoints: %w", err)
	}
	var endpoints []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		endpoints = append(endpoints, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(endpoints) == 0 {
		return nil
	}
	if fn, ok := data.(func() (any, error)); ok {
		if data, err = fn(); err != nil {
			return err
		}
	}
	_, err = s.insertEvent(ctx, tx, endpoints, typ, subject, data, now)
	return err
}

// webhookBody is an event's payload (contract: {"type", "timestamp", "data"}).
type webhookBody struct {
	Type      news.EventType `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      any            `json:"data"`
}

func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, endpoints []int64, typ news.EventType, subject string, data any, now time.Time) (int64, error) {
	body, err := json.Marshal(webhookBody{Type: typ, Timestamp: now.UTC().Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return 0, fmt.Errorf("webhook body: %w", err)
	}
	var eventID int64
	if err := tx.QueryRowContext(ctx, s.query("InsertWebhookEvent"), string(typ), subject, string(body), ms(now)).Scan(&eventID); err != nil {
		return 0, fmt.Errorf("insert webhook event: %w", err)
	}
	for _, ep := range endpoints {
		if _, err := tx.ExecContext(ctx, s.query("InsertWebhookDelivery"), ep, eventID, subject, ms(now), ms(now)); err != nil {
			return 0, fmt.Errorf("insert webhook delivery: %w", err)
		}
	}
	return eventID, nil
}

// subscriberEventData is a subscriber event's data.
type subscriberEventData struct {
	ID        string   `json:"id"`
	Email     string   `json:"email,omitempty"`
	Status    string   `json:"status,omitempty"`
	Lang      string   `json:"lang,omitempty"`
	Frequency string   `json:"frequency,omitempty"`
	Topics    []string `json:"topics,omitempty"`
	Reason    string   `json:"reason,omitempty"`
}

// emitSubscriberEvent writes a subscriber.* event about reader id, as
// its row reads in tx. Call it in the transaction that changes the
// reader's status (a store method making a reader bounced or complained
// calls it with news.EventSubscriberBounced or EventSubscriberComplained).
func (s *Store) emitSubscriberEvent(ctx context.Context, tx *sql.Tx, typ news.EventType, id int64, reason string, now time.Time) error {
	return s.emitEvent(ctx, tx, typ, subscriberSubject(id), func() (any, error) {
		sub, err := s.subscriber(ctx, tx, "GetSubscriberByID", id)
		if err != nil {
			return nil, err
		}
		return subscriberEventData{ID: strconv.FormatInt(id, 10), Email: sub.Email, Status: string(sub.Status), Lang: string(sub.Lang),
			Frequency: string(sub.Frequency), Topics: sub.Topics, Reason: reason}, nil
	}, now)
}

func subscriberSubject(id int64) string { return "subscriber:" + strconv.FormatInt(id, 10) }

// scrubSubscriberEvents rewrites, in tx, every stored event about reader
// id without their address: an erased reader's events, sent or still
// queued, carry none.
func (s *Store) scrubSubscriberEvents(ctx context.Context, tx *sql.Tx, id int64) error {
	rows, err := tx.QueryContext(ctx, s.query("SubjectWebhookEvents"), subscriberSubject(id))
	if err != nil {
		return err
	}
	type ev struct {
		id   int64
		body string
	}
	var evs []ev
	for rows.Next() {
		var e ev
		if err := rows.Scan(&e.id, &e.body); err != nil {
			rows.Close()
			return err
		}
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range evs {
		var b struct {
			Type      news.EventType      `json:"type"`
			Timestamp string              `json:"timestamp"`
			Data      subscriberEventData `json:"data"`
		}
		if err := json.Unmarshal([]byte(e.body), &b); err != nil {
			return fmt.Errorf("scrub webhook event %d: %w", e.id, err)
		}
		b.Data = subscriberEventData{ID: b.Data.ID, Status: b.Data.Status}
		body, err := json.Marshal(b)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.query("SetWebhookEventBody"), string(body), e.id); err != nil {
			return err
		}
	}
	return nil
}

// ClaimWebhooks takes up to limit due deliveries for owner, marking them
// sending. A subject's later events wait until its earlier ones to the
// same endpoint are sent or given up.
func (s *Store) ClaimWebhooks(ctx context.Context, owner string, now time.Time, limit int) ([]WebhookJob, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ClaimWebhookDeliveries"), ms(now), owner, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim webhooks: %w", err)
	}
	var jobs []WebhookJob
	for rows.Next() {
		var j WebhookJob
		if err := rows.Scan(&j.ID, &j.EndpointID, &j.EventID, &j.Attempts, &j.Claims); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim webhooks: %w", err)
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim webhooks: %w", err)
	}
	for i := range jobs {
		j := &jobs[i]
		var typ, body string
		var at sql.NullInt64
		if err := s.db.QueryRowContext(ctx, s.query("GetWebhookJob"), j.ID).Scan(&j.URL, &j.Secret, &typ, &body, &at); err != nil {
			return nil, fmt.Errorf("read webhook job: %w", err)
		}
		j.Type, j.Body, j.EventAt = news.EventType(typ), []byte(body), fromMS(at)
	}
	return jobs, nil
}

// WebhookGiveUp is how long a delivery, or an endpoint, may fail before
// crieur gives up on it: the delivery is marked failed, the endpoint is
// disabled (what is queued for it waits until an admin enables it again).
const WebhookGiveUp = 24 * time.Hour

// RecordWebhook stores the outcome of one attempt, under the claim it was
// made with (a stale claim changes nothing). A failure starts or extends
// the endpoint's failure streak; when that streak is WebhookGiveUp old the
// endpoint is disabled and the delivery goes back to the queue for when
// it is enabled again; when the delivery itself is that old (the endpoint
// answers others, not this one) it is given up. It reports whether the
// endpoint was disabled by this outcome.
func (s *Store) RecordWebhook(ctx context.Context, o WebhookOutcome, now time.Time) (disabled bool, err error) {
	j := o.Job
	latency := o.Latency.Milliseconds()
	errText := truncateText(o.Error, 500)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		switch o.Verdict {
		case WebhookReleased:
			_, err := tx.ExecContext(ctx, s.query("ReleaseWebhook"), j.ID, j.Claims)
			return err
		case WebhookSent:
			res, err := tx.ExecContext(ctx, s.query("MarkWebhookSent"), o.Status, latency, ms(now), j.ID, j.Claims)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil
			}
			_, err = tx.ExecContext(ctx, s.query("WebhookEndpointOK"), j.EndpointID)
			return err
		}
		var since sql.NullInt64
		err := tx.QueryRowContext(ctx, s.query("WebhookEndpointFailing"), ms(now), j.EndpointID).Scan(&since)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // deleted meanwhile, with its deliveries
		}
		if err != nil {
			return err
		}
		switch {
		case now.Sub(fromMS(since)) >= WebhookGiveUp:
			reason := "failing since " + fromMS(since).Format(time.RFC3339) + ": " + errText
			res, err := tx.ExecContext(ctx, s.query("DisableWebhookEndpoint"), ms(now), truncateText(reason, 500), j.EndpointID)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			disabled = n > 0
			_, err = tx.ExecContext(ctx, s.query("MarkWebhookRetry"), o.Status, latency, errText, ms(now), j.ID, j.Claims)
			return err
		case now.Sub(j.EventAt) >= WebhookGiveUp:
			_, err := tx.ExecContext(ctx, s.query("MarkWebhookFailed"), o.Status, latency, errText, ms(now), j.ID, j.Claims)
			return err
		default:
			_, err := tx.ExecContext(ctx, s.query("MarkWebhookRetry"), o.Status, latency, errText, ms(o.RetryAt), j.ID, j.Claims)
			return err
		}
	})
	if err != nil {
		return false, fmt.Errorf("record webhook: %w", err)
	}
	return disabled, nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// RescueWebhooks returns to the queue the deliveries claimed before
// lockedBefore and never recorded: their worker died.
func (s *Store) RescueWebhooks(ctx context.Context, lockedBefore time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.query("RescueWebhooks"), ms(lockedBefore))
	if err != nil {
		return 0, fmt.Errorf("rescue webhooks: %w", err)
	}
	return res.RowsAffected()
}

// WebhookClaimOwners lists the workers holding claimed webhook deliveries.
func (s *Store) WebhookClaimOwners(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.query("WebhookClaimOwners"))
	if err != nil {
		return nil, fmt.Errorf("webhook claim owners: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// RescueWebhookOwner returns to the queue every delivery owner claimed:
// the caller knows owner is dead.
func (s *Store) RescueWebhookOwner(ctx context.Context, owner string) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.query("RescueWebhookOwner"), owner)
	if err != nil {
		return 0, fmt.Errorf("rescue webhooks of %s: %w", owner, err)
	}
	return res.RowsAffected()
}

// NextWebhookDue says when the earliest queued delivery is due (zero: none).
func (s *Store) NextWebhookDue(ctx context.Context) (time.Time, error) {
	var at sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.query("NextWebhookDue")).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("next webhook due: %w", err)
	}
	return fromMS(at), nil
}

// WebhookLog lists an endpoint's latest deliveries, newest first.
func (s *Store) WebhookLog(ctx context.Context, endpointID int64, limit int) ([]WebhookLogEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.query("WebhookLog"), endpointID, limit)
	if err != nil {
		return nil, fmt.Errorf("webhook log: %w", err)
	}
	defer rows.Close()
	out := []WebhookLogEntry{}
	for rows.Next() {
		var e WebhookLogEntry
		var typ string
		var latency int64
		var created, finished, next sql.NullInt64
		if err := rows.Scan(&e.ID, &e.EventID, &typ, &e.State, &e.Attempts, &e.Status, &latency, &e.LastError, &created, &finished, &next); err != nil {
			return nil, err
		}
		e.Type, e.Latency = news.EventType(typ), time.Duration(latency)*time.Millisecond
		e.CreatedAt, e.FinishedAt, e.NextAttempt = fromMS(created), fromMS(finished), fromMS(next)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CleanWebhooks deletes deliveries finished before `before` and events
// left with no delivery.
func (s *Store) CleanWebhooks(ctx context.Context, before time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.query("DeleteOldWebhookDeliveries"), ms(before)); err != nil {
		return fmt.Errorf("clean webhook deliveries: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.query("DeleteOrphanWebhookEvents"), ms(before)); err != nil {
		return fmt.Errorf("clean webhook events: %w", err)
	}
	return nil
}

// unsubscribeEvent is the event an unsubscribe with this reason tells
// of: the bounce handling unsubscribes a bounced or complaining reader
// with reason "bounce" or "complaint".
func unsubscribeEvent(reason string) news.EventType {
	switch reason {
	case "bounce":
		return news.EventSubscriberBounced
	case "complaint":
		return news.EventSubscriberComplained
	}
	return news.EventSubscriberUnsubscribed
}
