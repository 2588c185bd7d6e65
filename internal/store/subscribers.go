package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
)

type rowScanner interface{ Scan(dest ...any) error }

func scanSubscriber(r rowScanner) (news.Subscriber, error) {
	var (
		sub                         news.Subscriber
		status, freq, lang          string
		alerts, paused              int64
		created, confirmed, updated sql.NullInt64
	)
	if err := r.Scan(&sub.ID, &sub.Email, &status, &freq, &lang, &alerts, &paused, &created, &confirmed, &updated, &sub.LinkGen, &sub.Timezone); err != nil {
		return sub, err
	}
	sub.Status, sub.Frequency, sub.Lang = news.Status(status), news.Frequency(freq), news.Lang(lang)
	sub.Alerts, sub.Paused = alerts != 0, paused != 0
	sub.CreatedAt, sub.ConfirmedAt, sub.UpdatedAt = fromMS(created), fromMS(confirmed), fromMS(updated)
	return sub, nil
}

func (s *Store) subscriberTopics(ctx context.Context, q querier, id int64) ([]string, error) {
	if _, ok := q.(stmtQuerier); ok || q == querier(s.db) {
		st, err := s.stmt(ctx, "SubscriberTopics")
		if err != nil {
			return nil, err
		}
		q = stmtQuerier{st}
	}
	rows, err := q.QueryContext(ctx, s.query("SubscriberTopics"), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var slug string
		if err := rows.Scan(&slug); err != nil {
			return nil, err
		}
		out = append(out, slug)
	}
	return out, rows.Err()
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// stmtQuerier runs one prepared statement whatever query text it is given:
// it lets the helpers above take a prepared statement where they take a
// handle.
type stmtQuerier struct{ st *sql.Stmt }

func (q stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return q.st.QueryContext(ctx, args...)
}

func (q stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return q.st.QueryRowContext(ctx, args...)
}

func (q stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return q.st.ExecContext(ctx, args...)
}

// SubscriberByEmail returns a subscriber with topics; ErrNotFound if none.
// The address matches whatever its case: a subscriber's identity is the
// lower-cased address (see Subscribe).
func (s *Store) SubscriberByEmail(ctx context.Context, email string) (news.Subscriber, error) {
	return s.subscriber(ctx, s.db, "GetSubscriberByEmail", email)
}

// SubscriberByID returns a subscriber with topics; ErrNotFound if none.
// It is the mail builders' hot path: one prepared statement, topics
// aggregated in SQL.
func (s *Store) SubscriberByID(ctx context.Context, id int64) (news.Subscriber, error) {
	st, err := s.stmt(ctx, "GetSubscriberWithTopics")
	if err != nil {
		return news.Subscriber{}, err
	}
	var topics string
	sub, err := scanSubscriber(extraCol{st.QueryRowContext(ctx, id), &topics})
	if errors.Is(err, sql.ErrNoRows) {
		return sub, ErrNotFound
	}
	if err != nil {
		return sub, fmt.Errorf("get subscriber: %w", err)
	}
	sub.Topics = []string{}
	if topics != "" {
		sub.Topics = strings.Split(topics, ",")
		sort.Strings(sub.Topics)
	}
	return sub, nil
}

// extraCol scans one more column after a subscriber's.
type extraCol struct {
	r     rowScanner
	extra any
}

func (e extraCol) Scan(dest ...any) error { return e.r.Scan(append(dest, e.extra)...) }

func (s *Store) subscriber(ctx context.Context, q querier, name string, arg any) (news.Subscriber, error) {
	if q == querier(s.db) {
		// Outside a transaction this is the senders' hot path: prepared.
		st, err := s.stmt(ctx, name)
		if err != nil {
			return news.Subscriber{}, err
		}
		q = stmtQuerier{st}
	}
	sub, err := scanSubscriber(q.QueryRowContext(ctx, s.query(name), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return sub, ErrNotFound
	}
	if err != nil {
		return sub, fmt.Errorf("get subscriber: %w", err)
	}
	sub.Topics, err = s.subscriberTopics(ctx, q, sub.ID)
	if err != nil {
		return sub, fmt.Errorf("get subscriber topics: %w", err)
	}
	return sub, nil
}

// Prefs are the choices a reader makes.
type Prefs struct {
	Frequency news.Frequency
	Lang      news.Lang
	Alerts    bool
	Paused    bool
	TopicIDs  []int64
	// Timezone is an IANA name the caller checked, "" for CRIEUR_TIMEZONE.
	Timezone string
}

// SubscribeOutcome says what a subscription request did.
type SubscribeOutcome int

// What a subscription request can do to a stored subscriber.
const (
	// SubscribeNew created a pending subscriber and queued a confirmation.
	SubscribeNew SubscribeOutcome = iota
	// SubscribeResent refreshed a pending (or formerly unsubscribed)
	// subscriber and queued a new confirmation.
	SubscribeResent
	// SubscribeAlreadyConfirmed changed nothing: the reader is confirmed.
	SubscribeAlreadyConfirmed
	// SubscribeSuppressed changed nothing and sent nothing: the address
	// bounced or complained (see SubscribeRequest).
	SubscribeSuppressed
)

// Subscribe records a double opt-in request and queues its confirmation
// email in the same transaction, so that a crash cannot leave one without
// the other. The address is one identity whatever its case: an existing
// subscriber is found case-insensitively and a new one is stored
// lower-cased, local part included. It does not consult the suppression
// list; the public form goes through SubscribeRequest.
func (s *Store) Subscribe(ctx context.Context, email string, p Prefs, now time.Time) (int64, SubscribeOutcome, error) {
	return s.SubscribeRequest(ctx, email, "", p, now)
}

// SubscribeRequest is Subscribe for a request anyone can make: when
// suppressionHash (the address's keyed hash, "" for none) is on the
// suppression list for a bounce or a complaint, nothing changes and
// nothing is sent (SubscribeSuppressed). Whatever the address's state,
// the request does the same database work, one write transaction with the
// same statements, so that its timing tells nobody whether the address
// is a reader: a confirmed or suppressed address gets its request
// recorded as a cancelled confirmation.
func (s *Store) SubscribeRequest(ctx context.Context, email, suppressionHash string, p Prefs, now time.Time) (int64, SubscribeOutcome, error) {
	id, outcome, err := s.subscribe(ctx, email, suppressionHash, p, now)
	if isUnique(err) {
		// The same new address in two requests at once (two instances,
		// or a double click): the other insert won. Once more, this
		// request finds that reader.
		id, outcome, err = s.subscribe(ctx, email, suppressionHash, p, now)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("subscribe: %w", err)
	}
	return id, outcome, nil
}

func (s *Store) subscribe(ctx context.Context, email, suppressionHash string, p Prefs, now time.Time) (int64, SubscribeOutcome, error) {
	var id int64
	var outcome SubscribeOutcome
	err := s.tx(ctx, func(tx *sql.Tx) error {
		sub, err := s.subscriber(ctx, tx, "GetSubscriberByEmail", email)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		found := err == nil
		blocked, err := s.hardSuppressed(ctx, tx, suppressionHash)
		if err != nil {
			return err
		}
		switch {
		case blocked || found && sub.Status == news.Confirmed:
			id, outcome = sub.ID, SubscribeAlreadyConfirmed
			reason := "already confirmed"
			if blocked {
				outcome, reason = SubscribeSuppressed, "address suppressed"
			}
			return s.recordRefusedRequest(ctx, tx, id, reason, now)
		case !found:
			err = tx.QueryRowContext(ctx, s.query("InsertSubscriber"), email, string(news.Pending), string(p.Frequency), string(p.Lang),
				b2i(p.Alerts), ms(now), sql.NullInt64{}, ms(now), p.Timezone).Scan(&id)
			if err != nil {
				return err
			}
			outcome = SubscribeNew
		default:
			id, outcome = sub.ID, SubscribeResent
			if _, err := tx.ExecContext(ctx, s.query("ResetPending"), string(p.Frequency), string(p.Lang), b2i(p.Alerts), ms(now), ms(now), p.Timezone, id); err != nil {
				return err
			}
		}
		if err := s.setTopics(ctx, tx, id, p.TopicIDs); err != nil {
			return err
		}
		return s.insertDelivery(ctx, tx, news.MailConfirm, id, now)
	})
	return id, outcome, err
}

func (s *Store) setTopics(ctx context.Context, tx *sql.Tx, id int64, topicIDs []int64) error {
	if _, err := tx.ExecContext(ctx, s.query("DeleteSubscriberTopics"), id); err != nil {
		return err
	}
	for _, t := range topicIDs {
		if _, err := tx.ExecContext(ctx, s.query("InsertSubscriberTopic"), id, t); err != nil {
			return err
		}
	}
	return nil
}

// Confirm marks a pending subscriber confirmed. It reports whether the
// subscriber was pending; confirming twice is harmless.
func (s *Store) Confirm(ctx context.Context, id int64, suppressionHash string, now time.Time) (bool, error) {
	var changed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query("ConfirmSubscriber"), ms(now), ms(now), id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		changed = n > 0
		if !changed {
			return nil
		}
		// The reader consented again: the address may be mailed.
		if _, err = tx.ExecContext(ctx, s.query("Unsuppress"), suppressionHash); err != nil {
			return err
		}
		// Only the transaction that made the reader confirmed queues the
		// welcome email and the event: a second confirm changes nothing.
		if err := s.queueWelcome(ctx, tx, id, now); err != nil {
			return err
		}
		return s.emitSubscriberEvent(ctx, tx, news.EventSubscriberConfirmed, id, "", now)
	})
	if err != nil {
		return false, fmt.Errorf("confirm subscriber: %w", err)
	}
	return changed, nil
}

// UpdatePrefs replaces a subscriber's preferences and topics.
func (s *Store) UpdatePrefs(ctx context.Context, id int64, p Prefs, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query("UpdateSubscriberPrefs"), string(p.Frequency), string(p.Lang), b2i(p.Alerts), b2i(p.Paused), ms(now), p.Timezone, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return s.setTopics(ctx, tx, id, p.TopicIDs)
	})
	if err != nil {
		return fmt.Errorf("update preferences: %w", err)
	}
	return nil
}

// Unsubscribe marks a subscriber unsubscribed, cancels what was queued for
// them and puts the address's hash on the suppression list.
func (s *Store) Unsubscribe(ctx context.Context, id int64, suppressionHash, reason string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.query("SetSubscriberStatus"), string(news.Unsubscribed), ms(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if err := s.cancelSubscriberDeliveries(ctx, tx, reason, id); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, s.query("Suppress"), suppressionHash, reason, ms(now)); err != nil {
			return err
		}
		return s.emitSubscriberEvent(ctx, tx, unsubscribeEvent(reason), id, reason, now)
	})
	if err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return nil
}

// cancelSubscriberDeliveries cancels the emails queued for subscriber id
// and counts them against their runs.
func (s *Store) cancelSubscriberDeliveries(ctx context.Context, tx *sql.Tx, reason string, id int64) error {
	c := newOutcomeCounts(false)
	if _, err := s.mark(ctx, tx, c, "CancelSubscriberDeliveries", news.DeliveryCancelled, reason, id); err != nil {
		return err
	}
	return s.addCounts(ctx, tx, c)
}

// Erase deletes a subscriber and everything that names them, keeping only
// the keyed hash of the address on the suppression list.
func (s *Store) Erase(ctx context.Context, id int64, suppressionHash string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.cancelSubscriberDeliveries(ctx, tx, "erased", id); err != nil {
			return err
		}
		if err := s.scrubSubscriberEvents(ctx, tx, id); err != nil {
			return err
		}
		// The event names the reader by id only: its data has no address.
		if err := s.emitEvent(ctx, tx, news.EventSubscriberErased, subscriberSubject(id),
			subscriberEventData{ID: strconv.FormatInt(id, 10)}, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.query("DeleteSubscriber"), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, s.query("Suppress"), suppressionHash, "erased", ms(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("erase subscriber: %w", err)
	}
	return nil
}

// ExpirePending deletes subscribers still unconfirmed since before.
func (s *Store) ExpirePending(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.query("ExpirePending"), ms(before))
	if err != nil {
		return 0, fmt.Errorf("expire pending: %w", err)
	}
	return res.RowsAffected()
}

// Suppressed reports whether an address hash is on the suppression list.
func (s *Store) Suppressed(ctx context.Context, hash string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.query("IsSuppressed"), hash).Scan(&n); err != nil {
		return false, fmt.Errorf("check suppression: %w", err)
	}
	return n > 0, nil
}

// Suppress adds an address hash to the suppression list.
func (s *Store) Suppress(ctx context.Context, hash, reason string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.query("Suppress"), hash, reason, ms(now)); err != nil {
		return fmt.Errorf("suppress: %w", err)
	}
	return nil
}

// Suppression is one entry of the suppression list.
type Suppression struct {
	Hash      string
	Reason    string
	CreatedAt time.Time
}

// Suppressions lists the latest suppression entries.
func (s *Store) Suppressions(ctx context.Context, limit int) ([]Suppression, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ListSuppressions"), limit)
	if err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		var e Suppression
		var at sql.NullInt64
		if err := rows.Scan(&e.Hash, &e.Reason, &at); err != nil {
			return nil, err
		}
		e.CreatedAt = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountSubscribers counts subscribers by status.
func (s *Store) CountSubscribers(ctx context.Context) (map[news.Status]int64, error) {
	rows, err := s.db.QueryContext(ctx, s.query("CountSubscribersByStatus"))
	if err != nil {
		return nil, fmt.Errorf("count subscribers: %w", err)
	}
	defer rows.Close()
	out := map[news.Status]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[news.Status(st)] = n
	}
	return out, rows.Err()
}

// EachSubscriber streams every subscriber (with topics) in id order, a page
// at a time, so that exporting a million readers holds one page in memory.
func (s *Store) EachSubscriber(ctx context.Context, fn func(news.Subscriber) error) error {
	const page = 1000
	after := int64(0)
	for {
		rows, err := s.db.QueryContext(ctx, s.query("ExportSubscribers"), after, page)
		if err != nil {
			return fmt.Errorf("export subscribers: %w", err)
		}
		var batch []news.Subscriber
		for rows.Next() {
			sub, err := scanSubscriber(rows)
			if err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, sub)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		if err := s.pageTopics(ctx, batch); err != nil {
			return fmt.Errorf("export subscribers: %w", err)
		}
		for i := range batch {
			if err := fn(batch[i]); err != nil {
				return err
			}
		}
		after = batch[len(batch)-1].ID
	}
}

// pageTopics fills the topics of a page of subscribers (in id order) with
// one query.
func (s *Store) pageTopics(ctx context.Context, batch []news.Subscriber) error {
	byID := make(map[int64]*news.Subscriber, len(batch))
	for i := range batch {
		batch[i].Topics = []string{}
		byID[batch[i].ID] = &batch[i]
	}
	rows, err := s.db.QueryContext(ctx, s.query("PageTopics"), batch[0].ID, batch[len(batch)-1].ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var slug string
		if err := rows.Scan(&id, &slug); err != nil {
			return err
		}
		if sub := byID[id]; sub != nil {
			sub.Topics = append(sub.Topics, slug)
		}
	}
	return rows.Err()
}

// SearchSubscribers finds subscribers whose address contains q, ignoring
// case.
func (s *Store) SearchSubscribers(ctx context.Context, q string, limit int) ([]news.Subscriber, error) {
	rows, err := s.db.QueryContext(ctx, s.query("SearchSubscribers"), "%"+q+"%", limit)
	if err != nil {
		return nil, fmt.Errorf("search subscribers: %w", err)
	}
	defer rows.Close()
	var out []news.Subscriber
	for rows.Next() {
		sub, err := scanSubscriber(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// HistoryEntry is one message queued for a subscriber.
type HistoryEntry struct {
	DeliveryID int64
	Kind       news.MailKind
	RunID      int64
	AlertID    int64
	State      news.DeliveryState
	Attempts   int
	LastError  string
	CreatedAt  time.Time
	SentAt     time.Time
}

// History lists what was queued for a subscriber, newest first.
func (s *Store) History(ctx context.Context, subscriberID int64, limit int) ([]HistoryEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.query("SubscriberHistory"), subscriberID, limit)
	if err != nil {
		return nil, fmt.Errorf("subscriber history: %w", err)
	}
	defer rows.Close()
	out := []HistoryEntry{}
	for rows.Next() {
		var h HistoryEntry
		var kind, state string
		var run, alert, created, sent sql.NullInt64
		if err := rows.Scan(&h.DeliveryID, &kind, &run, &alert, &state, &h.Attempts, &h.LastError, &created, &sent); err != nil {
			return nil, err
		}
		h.Kind, h.State, h.RunID, h.AlertID = news.MailKind(kind), news.DeliveryState(state), run.Int64, alert.Int64
		h.CreatedAt, h.SentAt = fromMS(created), fromMS(sent)
		out = append(out, h)
	}
	return out, rows.Err()
}
