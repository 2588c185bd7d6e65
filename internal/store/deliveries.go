package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// Delivery is one claimed email to send.
type Delivery struct {
	ID           int64
	Kind         news.MailKind
	RunID        int64
	AlertID      int64
	SubscriberID int64
	Rcpt         string  // set for messages to someone who is not a subscriber (previews)
	Articles     []int64 // a digest's articles, newest first
	More         int     // articles beyond those listed
	Attempts     int
	// Claim is the row's claim number, which recording its outcome must
	// match (see Outcome).
	Claim int
	// Meta is a preview's sample-reader settings (lang, frequency, topics
	// as a query string); empty otherwise.
	Meta string
	// Reader, when set, is the subscriber SubscriberID names, read with
	// the claim (SubscribersByID) rather than when the message is built.
	Reader *news.Subscriber
}

// Outcome fills in r which message and claim it is the outcome of.
func (d Delivery) Outcome(r Result) Result {
	r.Key = d.ClaimKey()
	return r
}

// ClaimKey names the claim d is held under.
func (d Delivery) ClaimKey() news.ClaimKey {
	return news.ClaimKey{Kind: news.ClaimEmail, ID: d.ID, Claim: d.Claim}
}

func (s *Store) insertDelivery(ctx context.Context, q querier, kind news.MailKind, subscriberID int64, now time.Time) error {
	_, err := q.ExecContext(ctx, s.query("InsertDelivery"), string(kind), nil, nil, subscriberID, "", "", 0, 0, ms(now), ms(now))
	return err
}

// EnqueuePreview queues a one-off digest preview for an editor's address,
// as a reader described by meta (lang, frequency, topics) would get it.
// It names no subscriber, even when it previews one: a delivery's
// failures and bounces act on its subscriber, and the preview's are the
// editor's.
func (s *Store) EnqueuePreview(ctx context.Context, rcpt string, articles []int64, more int, meta string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.query("InsertPreview"), rcpt, joinIDs(articles), more, ms(now), ms(now), meta)
	if err != nil {
		return fmt.Errorf("enqueue preview: %w", err)
	}
	return nil
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// ClaimDeliveries takes up to limit due emails for owner, marking them
// sending. Rows a crashed owner left in sending come back through
// RescueDeliveries.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now time.Time, limit int) ([]Delivery, error) {
	st, err := s.stmt(ctx, "ClaimDeliveries")
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, ms(now), owner, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var kind, arts string
		var run, alert, sub sql.NullInt64
		if err := rows.Scan(&d.ID, &kind, &run, &alert, &sub, &d.Rcpt, &arts, &d.More, &d.Attempts, &d.Meta, &d.Claim); err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", err)
		}
		d.Kind, d.RunID, d.AlertID, d.SubscriberID = news.MailKind(kind), run.Int64, alert.Int64, sub.Int64
		d.Articles = splitIDs(arts)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// Result is what happened to one claimed message.
type Result struct {
	// Key is the claim the message was sent under (Delivery.Outcome and
	// PushTarget.Outcome set it): an outcome under an older claim than the
	// row's or window's is stale and changes nothing.
	Key   news.ClaimKey
	State news.DeliveryState // sent, failed, expired, cancelled, or pending for a retry
	// NextAttempt is when a retry is due (State pending).
	NextAttempt time.Time
	// Release returns the message to the queue untouched (shutdown).
	Release bool
	Status  int // push service status code
	Error   string
	// AlertID is a push message's alert (PushTarget.AlertID): RecordPush
	// counts the messages it marks sent under it, which costs less than
	// reading each row's alert back. Required for push messages sent.
	AlertID int64
	// A push message's browser and attempts (PushTarget.Outcome sets
	// them): a window's message becomes a push_deliveries row of its own
	// when it did not simply go out.
	SubscriptionID int64
	Attempts       int
}

// RecordDeliveries stores the outcomes of sent emails in one transaction.
// It returns how many were stale: the message had been taken back from
// this worker (thought dead) and claimed again since, so that outcome
// changed nothing; the caller should log them.
func (s *Store) RecordDeliveries(ctx context.Context, results []Result, now time.Time) (stale int, err error) {
	return s.record(ctx, results, now, "MarkDeliveryRetry", "MarkDeliveryFailed", "ReleaseDelivery", news.ClaimEmail)
}

// RecordPush stores the outcomes of push messages in one transaction and
// returns how many were stale, as RecordDeliveries does.
func (s *Store) RecordPush(ctx context.Context, results []Result, now time.Time) (stale int, err error) {
	return s.record(ctx, results, now, "MarkPushRetry", "MarkPushFailed", "ReleasePush", news.ClaimPush)
}

// record stores outcomes of claims of kind (a queued row's; RecordPush's
// window messages are recorded by recordWindows first).
func (s *Store) record(ctx context.Context, results []Result, now time.Time, retry, failed, release string, kind news.ClaimKind) (int, error) {
	if len(results) == 0 {
		return 0, nil
	}
	push := kind == news.ClaimPush
	var stale int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		c := newOutcomeCounts(push)
		changed := 0 // of the rows' outcomes (not the windows')
		rows := results
		if push {
			var err error
			var windowStale int
			if rows, windowStale, err = s.recordWindows(ctx, tx, c, results, now); err != nil {
				return err
			}
			stale += windowStale
		}
		// Sent is the common outcome: those rows are marked with one
		// statement per alert, push status and claim number instead of
		// one per row.
		sentBy := map[sentGroup][]int64{}
		for _, r := range rows {
			var (
				n   int64
				err error
			)
			switch {
			case r.Key.Kind != kind:
				err = fmt.Errorf("outcome of %s claim %d given to the %s queue", r.Key.Kind, r.Key.ID, kind)
			case r.State == news.DeliverySent && !r.Release && push && r.AlertID == 0:
				err = fmt.Errorf("push message %d sent without its alert id", r.Key.ID)
			case r.State == news.DeliverySent && !r.Release:
				g := sentGroup{status: r.Status, claim: r.Key.Claim}
				if push {
					g.alert = r.AlertID
				}
				sentBy[g] = append(sentBy[g], r.Key.ID)
			case r.Release:
				n, err = s.execStmt(ctx, tx, release, r.Key.ID, r.Key.Claim)
			case r.State == news.DeliveryPending && push:
				n, err = s.execStmt(ctx, tx, retry, r.Status, ms(r.NextAttempt), r.Error, r.Key.ID, r.Key.Claim)
			case r.State == news.DeliveryPending:
				n, err = s.execStmt(ctx, tx, retry, ms(r.NextAttempt), r.Error, r.Key.ID, r.Key.Claim)
			case push:
				n, err = s.mark(ctx, tx, c, failed, r.State, string(r.State), r.Status, r.Error, r.Key.ID, r.Key.Claim)
			default:
				n, err = s.mark(ctx, tx, c, failed, r.State, string(r.State), r.Error, r.Key.ID, r.Key.Claim)
			}
			if err != nil {
				return err
			}
			changed += int(n)
		}
		for g, ids := range sentBy {
			var (
				n   int64
				err error
			)
			if push {
				n, err = s.markPushSent(ctx, tx, c, g, ms(now), s.idList(ids))
			} else {
				n, err = s.mark(ctx, tx, c, "MarkDeliveriesSent", news.DeliverySent, ms(now), g.claim, s.idList(ids))
			}
			if err != nil {
				return err
			}
			changed += int(n)
		}
		stale += len(rows) - changed
		return s.addCounts(ctx, tx, c)
	})
	if err != nil {
		return 0, fmt.Errorf("record %d outcomes: %w", len(results), err)
	}
	return stale, nil
}

// recordWindows records the outcomes of messages from push windows and
// returns the others (queued rows). Each window gets one statement adding
// its handled browsers; a message that did not simply go out also becomes
// a push_deliveries row (a retry, or a final outcome with its reason).
// Outcomes under a claim the window no longer has (it was taken back from
// this worker, thought dead) change nothing and are counted in stale: the
// new claim sends and counts those browsers. A released message is not
// handled: its window goes back to the queue with it (ReleasePushWindows).
func (s *Store) recordWindows(ctx context.Context, tx *sql.Tx, c *outcomeCounts, results []Result, now time.Time) (rest []Result, stale int, err error) {
	var byWindow map[news.ClaimKey][]Result
	rest = results[:0:0]
	for _, r := range results {
		switch {
		case r.Key.Kind != news.ClaimPushWindow:
			rest = append(rest, r)
		case r.Release:
		default:
			if byWindow == nil {
				byWindow = map[news.ClaimKey][]Result{}
			}
			byWindow[r.Key] = append(byWindow[r.Key], r)
		}
	}
	if byWindow == nil {
		// Released window messages are not in rest either: their windows
		// go back whole (ReleasePushWindows).
		return rest, 0, nil
	}
	st, err := s.txStmt(ctx, tx, "RecordPushWindow")
	if err != nil {
		return nil, 0, err
	}
	var ins *sql.Stmt
	b := make([]byte, 0, 512)
	byID := func(a, b news.ClaimKey) int { return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Claim, b.Claim)) }
	for _, k := range slices.SortedFunc(maps.Keys(byWindow), byID) {
		rs := byWindow[k]
		b = b[:0]
		for _, r := range rs {
			b = append(b, ',')
			b = strconv.AppendInt(b, r.SubscriptionID, 10)
		}
		res, err := st.ExecContext(ctx, string(b), len(rs), len(rs), k.ID, k.Claim)
		if err != nil {
			return nil, 0, fmt.Errorf("record push window %d: %w", k.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			stale += len(rs) // stale claim (or an unknown count: not counted twice)
			continue
		}
		for _, r := range rs {
			if r.State == news.DeliverySent {
				c.add(r.AlertID, 0, news.DeliverySent, 1)
				continue
			}
			next := ms(now)
			if r.State == news.DeliveryPending {
				next = ms(r.NextAttempt)
			}
			if ins == nil {
				if ins, err = s.txStmt(ctx, tx, "InsertPushOutcome"); err != nil {
					return nil, 0, err
				}
			}
			res, err := ins.ExecContext(ctx, r.AlertID, r.SubscriptionID, string(r.State), r.Attempts, next, r.Status, r.Error, ms(now))
			if err != nil {
				return nil, 0, fmt.Errorf("record push outcome: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 && r.State != news.DeliveryPending {
				c.add(r.AlertID, 0, r.State, 1)
			}
		}
	}
	return rest, stale, nil
}

// sentGroup is a set of messages marked sent by one statement.
type sentGroup struct {
	alert  int64 // push only: emails' runs and alerts are read back
	status int
	claim  int // nearly always 1: few messages are claimed twice
}

// markPushSent marks a group of push messages sent and counts those it
// changed (a row another worker took back meanwhile is not, so it is not
// counted twice). The statement returns no rows: in a one-off run of
// BenchmarkPushQueue, reading each row's alert back cost about 1 µs of
// the 4 µs a message's record took.
func (s *Store) markPushSent(ctx context.Context, tx *sql.Tx, c *outcomeCounts, g sentGroup, now int64, ids string) (int64, error) {
	n, err := s.execStmt(ctx, tx, "MarkPushSent", now, g.status, g.claim, ids)
	if err != nil {
		return 0, err
	}
	c.add(g.alert, 0, news.DeliverySent, n)
	return n, nil
}

// execStmt runs the named statement in tx and returns how many rows it
// changed.
func (s *Store) execStmt(ctx context.Context, tx *sql.Tx, name string, args ...any) (int64, error) {
	st, err := s.txStmt(ctx, tx, name)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// mark runs the named statement, which moves rows into state and returns
// the owner of each row it changed (push: alert_id; email: run_id,
// alert_id), counts them in c and returns how many it changed. A row
// another worker took back in the meantime is not returned, so it is not
// counted twice.
func (s *Store) mark(ctx context.Context, tx *sql.Tx, c *outcomeCounts, name string, state news.DeliveryState, args ...any) (int64, error) {
	st, err := s.txStmt(ctx, tx, name)
	if err != nil {
		return 0, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var run, alert sql.NullInt64
		if c.push {
			err = rows.Scan(&alert)
		} else {
			err = rows.Scan(&run, &alert)
		}
		if err != nil {
			return n, err
		}
		c.add(alert.Int64, run.Int64, state, 1)
		n++
	}
	return n, rows.Err()
}

// outcomeCounts adds up what one transaction moves into a final state,
// per alert and per run, for their counters.
type outcomeCounts struct {
	push   bool
	alerts map[int64]*[5]int64 // delivered, failed, expired, email_sent, email_failed
	runs   map[int64]*[2]int64 // sent, failed
}

func newOutcomeCounts(push bool) *outcomeCounts {
	return &outcomeCounts{push: push, alerts: map[int64]*[5]int64{}, runs: map[int64]*[2]int64{}}
}

// add counts n messages of alertID or runID that reached state, as the
// progress figures show them: for push, cancelled counts as expired; for
// an alert's emails only sent and failed count; for a run, every end but
// sent is a failure.
func (c *outcomeCounts) add(alertID, runID int64, state news.DeliveryState, n int64) {
	if n == 0 {
		return
	}
	col := -1
	switch {
	case alertID != 0 && c.push:
		switch state {
		case news.DeliverySent:
			col = 0
		case news.DeliveryFailed:
			col = 1
		case news.DeliveryExpired, news.DeliveryCancelled:
			col = 2
		}
	case alertID != 0:
		switch state {
		case news.DeliverySent:
			col = 3
		case news.DeliveryFailed:
			col = 4
		}
	case runID != 0:
		r := c.runs[runID]
		if r == nil {
			r = new([2]int64)
			c.runs[runID] = r
		}
		if state == news.DeliverySent {
			r[0] += n
		} else {
			r[1] += n
		}
		return
	}
	if col < 0 {
		return
	}
	a := c.alerts[alertID]
	if a == nil {
		a = new([5]int64)
		c.alerts[alertID] = a
	}
	a[col] += n
}

// addCounts adds c to the alerts' and runs' counters in tx, in id order so
// that concurrent recorders on PostgreSQL lock those rows in the same order.
func (s *Store) addCounts(ctx context.Context, tx *sql.Tx, c *outcomeCounts) error {
	for _, id := range slices.Sorted(maps.Keys(c.alerts)) {
		a := c.alerts[id]
		st, err := s.txStmt(ctx, tx, "AddAlertCounts")
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, a[0], a[1], a[2], a[3], a[4], id); err != nil {
			return fmt.Errorf("alert %d counts: %w", id, err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.runs)) {
		r := c.runs[id]
		st, err := s.txStmt(ctx, tx, "AddRunCounts")
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, r[0], r[1], id); err != nil {
			return fmt.Errorf("run %d counts: %w", id, err)
		}
	}
	return nil
}

// idList spells ids as one bound value: a JSON array for SQLite's
// json_each, an array literal for PostgreSQL's bigint[].
func (s *Store) idList(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	first, last := byte('['), byte(']')
	if s.dialect == Postgres {
		first, last = '{', '}'
	}
	b = append(b, first)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, last))
}

// RescueDeliveries returns to the queue emails and push messages claimed
// before lockedBefore and never recorded: their owner died.
func (s *Store) RescueDeliveries(ctx context.Context, lockedBefore time.Time) (int64, error) {
	var total int64
	for _, q := range []string{"RescueDeliveries", "RescuePush", "RescuePushWindows"} {
		res, err := s.db.ExecContext(ctx, s.query(q), ms(lockedBefore))
		if err != nil {
			return total, fmt.Errorf("rescue deliveries: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// ClaimOwners lists the workers (Owner strings) holding claimed emails or
// push messages.
func (s *Store) ClaimOwners(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.query("ClaimOwners"))
	if err != nil {
		return nil, fmt.Errorf("claim owners: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, fmt.Errorf("claim owners: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// RescueOwner returns to the queue every message owner claimed, at once
// rather than after the lease: the caller knows owner is dead.
func (s *Store) RescueOwner(ctx context.Context, owner string) (int64, error) {
	var total int64
	for _, q := range []string{"RescueOwnerDeliveries", "RescueOwnerPush", "RescueOwnerPushWindows"} {
		res, err := s.db.ExecContext(ctx, s.query(q), owner)
		if err != nil {
			return total, fmt.Errorf("rescue %s: %w", owner, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// NextDue returns when the earliest pending email (mail=true) or push
// message is due; zero when none is pending.
func (s *Store) NextDue(ctx context.Context, mail bool) (time.Time, error) {
	q := "NextPushDue"
	if mail {
		q = "NextDeliveryDue"
	}
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.query(q)).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("next due: %w", err)
	}
	return fromMS(v), nil
}

// PendingEmails counts emails not yet sent or given up.
func (s *Store) PendingEmails(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, s.query("PendingDeliveries")).Scan(&n); err != nil {
		return 0, fmt.Errorf("pending deliveries: %w", err)
	}
	return n, nil
}

func joinIDs(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

func splitIDs(s string) []int64 {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]int64, 0, len(parts))
	for _, p := range parts {
		if id, err := strconv.ParseInt(p, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// claimTables is where each kind of claim is leased.
var claimTables = map[news.ClaimKind]string{
	news.ClaimEmail:      "deliveries",
	news.ClaimPush:       "push_deliveries",
	news.ClaimPushWindow: "push_windows",
}

// TouchClaims renews the lease of the claims owner still holds, so that a
// send slower than the lease is not taken back and sent a second time
// while its worker is alive. The claim numbers are not compared: a claim
// taken back and claimed again by another owner is not owner's any more,
// and one owner claiming a row again may renew it too.
func (s *Store) TouchClaims(ctx context.Context, owner string, keys []news.ClaimKey, now time.Time) error {
	byKind := map[news.ClaimKind][]int64{}
	for _, k := range keys {
		if claimTables[k.Kind] == "" {
			return fmt.Errorf("renew claims: %s claim %d", k.Kind, k.ID)
		}
		byKind[k.Kind] = append(byKind[k.Kind], k.ID)
	}
	for kind, ids := range byKind {
		head := "UPDATE " + claimTables[kind] + " SET locked_at = ? WHERE state = 'sending' AND locked_by = ? AND id"
		if err := s.execIn(ctx, s.db, head, []any{ms(now), owner}, ids); err != nil {
			return fmt.Errorf("renew claims: %w", err)
		}
	}
	return nil
}
