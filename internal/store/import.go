package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// ImportRow is one validated line of a subscriber import.
type ImportRow struct {
	Line   int
	Email  string
	Hash   string // keyed hash of the address, checked against suppressions
	Prefs  Prefs
	Status news.Status // pending, confirmed or unsubscribed
}

// ImportOutcome is what happened to one row.
type ImportOutcome int

// Import outcomes.
const (
	Imported ImportOutcome = iota
	ImportedPending
	SkippedExisting
	SkippedSuppressed
	// ImportedUnsubscribed: an unsubscribed row put the address on the
	// suppression list and marked its subscriber, if any, unsubscribed.
	ImportedUnsubscribed
)

// importReason is the suppression reason of an unsubscribed import row.
const importReason = "import"

// ImportBatch writes a batch of rows in one transaction. Pending rows get
// a confirmation email queued; confirmed rows are readers whose consent the
// publisher already holds; suppressed addresses are never re-imported and
// existing subscribers (matched case-insensitively) are left as they are.
// New addresses are stored lower-cased. An unsubscribed row (what an export
// writes after an unsubscribe) sends nothing: it puts the row's Hash on the
// suppression list, and marks an existing subscriber unsubscribed, cancelling
// what was queued for them, as Unsubscribe does; a new address gets no row.
func (s *Store) ImportBatch(ctx context.Context, rows []ImportRow, now time.Time) ([]ImportOutcome, error) {
	out := make([]ImportOutcome, len(rows))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Prepared once per batch: re-preparing each statement per row
		// costs more than running it.
		names := []string{"IsSuppressed", "GetSubscriberByEmail", "InsertSubscriber", "InsertSubscriberTopic", "InsertDelivery", "Suppress", "SuppressHard"}
		st := make(map[string]*sql.Stmt, len(names))
		for _, n := range names {
			p, err := tx.PrepareContext(ctx, s.query(n))
			if err != nil {
				return err
			}
			defer p.Close()
			st[n] = p
		}
		if s.dialect == Postgres && asciiAddresses(rows) {
			return s.importBatchPostgres(ctx, tx, st, rows, out, now)
		}
		for i, r := range rows {
			if r.Status.Stopped() {
				if err := s.importUnsubscribed(ctx, tx, st, r, now); err != nil {
					return err
				}
				out[i] = ImportedUnsubscribed
				continue
			}
			var n int
			if err := st["IsSuppressed"].QueryRowContext(ctx, r.Hash).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				out[i] = SkippedSuppressed
				continue
			}
			var id int64
			err := st["GetSubscriberByEmail"].QueryRowContext(ctx, r.Email).Scan(&id, new(string), new(string), new(string), new(string), new(int64), new(int64), new(sql.NullInt64), new(sql.NullInt64), new(sql.NullInt64), new(int64), new(string))
			if err == nil {
				out[i] = SkippedExisting
				continue
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			confirmedAt := sql.NullInt64{}
			if r.Status == news.Confirmed {
				confirmedAt = sql.NullInt64{Int64: ms(now), Valid: true}
			}
			if err := st["InsertSubscriber"].QueryRowContext(ctx, r.Email, string(r.Status), string(r.Prefs.Frequency), string(r.Prefs.Lang),
				b2i(r.Prefs.Alerts), ms(now), confirmedAt, ms(now), r.Prefs.Timezone).Scan(&id); err != nil {
				return err
			}
			for _, t := range r.Prefs.TopicIDs {
				if _, err := st["InsertSubscriberTopic"].ExecContext(ctx, id, t); err != nil {
					return err
				}
			}
			out[i] = Imported
			if r.Status == news.Pending {
				out[i] = ImportedPending
				if _, err := st["InsertDelivery"].ExecContext(ctx, string(news.MailConfirm), nil, nil, id, "", "", 0, 0, ms(now), ms(now)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import batch: %w", err)
	}
	return out, nil
}

// importUnsubscribed applies an unsubscribed, bounced or complained
// import row within ImportBatch: a bounced or complained row (what an
// export writes for such a reader) puts the address on the suppression
// list for good, as the bounce or complaint did, and gives an existing
// reader that status.
func (s *Store) importUnsubscribed(ctx context.Context, tx *sql.Tx, st map[string]*sql.Stmt, r ImportRow, now time.Time) error {
	if r.Status == news.Unsubscribed {
		if _, err := st["Suppress"].ExecContext(ctx, r.Hash, importReason, ms(now)); err != nil {
			return err
		}
	} else if _, err := st["SuppressHard"].ExecContext(ctx, r.Hash, string(r.Status), ms(now)); err != nil {
		return err
	}
	var id int64
	var status string
	err := st["GetSubscriberByEmail"].QueryRowContext(ctx, r.Email).Scan(&id, new(string), &status, new(string), new(string), new(int64), new(int64), new(sql.NullInt64), new(sql.NullInt64), new(sql.NullInt64), new(int64), new(string))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur := news.Status(status); cur == r.Status || cur == news.Complained || (cur.Stopped() && r.Status == news.Unsubscribed) {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.query("SetSubscriberStatus"), string(r.Status), ms(now), id); err != nil {
		return err
	}
	return s.cancelSubscriberDeliveries(ctx, tx, importReason, id)
}
