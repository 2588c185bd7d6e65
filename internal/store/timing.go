package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TakeDailySlot counts one alert for browser id on its local day (day, as
// quiet.Day names it) and reports whether its daily cap allowed it. force
// counts it whatever the cap (a breaking alert). A browser whose row is
// gone is allowed: the send finds it gone.
func (s *Store) TakeDailySlot(ctx context.Context, id int64, day int, force bool) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.query("TakeDailySlot"), day, day, id, b2i(force), day)
	if err != nil {
		return false, fmt.Errorf("take daily slot: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take daily slot: %w", err)
	}
	return n > 0, nil
}

// GiveBackDailySlot uncounts an alert TakeDailySlot counted that did not
// go out (a retry, a failure), if the day has not turned since.
func (s *Store) GiveBackDailySlot(ctx context.Context, id int64, day int) error {
	if _, err := s.db.ExecContext(ctx, s.query("GiveBackDailySlot"), id, day); err != nil {
		return fmt.Errorf("give back daily slot: %w", err)
	}
	return nil
}

// TimingGroup is a number of browsers sharing what decides when they take
// an alert: zone, quiet hours, cap and today's count.
type TimingGroup struct {
	PushTiming
	DayKey, DayCount int
	Browsers         int64
}

// PushTimingGroups lists, for an alert on these topics (none: everyone),
// the browsers with quiet hours or a cap, grouped (the composer tells how
// many are in quiet hours now).
func (s *Store) PushTimingGroups(ctx context.Context, topics []string) ([]TimingGroup, error) {
	list := ""
	for i, t := range topics {
		if i > 0 {
			list += ","
		}
		list += t
	}
	rows, err := s.db.QueryContext(ctx, s.query("PushTimingGroups"), len(topics), list)
	if err != nil {
		return nil, fmt.Errorf("push timing: %w", err)
	}
	defer rows.Close()
	var out []TimingGroup
	for rows.Next() {
		var g TimingGroup
		if err := rows.Scan(&g.Timezone, &g.QuietFrom, &g.QuietTo, &g.MaxPerDay, &g.DayKey, &g.DayCount, &g.Browsers); err != nil {
			return nil, fmt.Errorf("push timing: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// ApproveAlert moves an alert awaiting approval on (scheduled, or sending
// now), recording who approved it. ErrNotFound: no such alert;
// ErrConflict: it is not awaiting approval.
func (s *Store) ApproveAlert(ctx context.Context, id int64, by string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, s.query("ApproveAlert"), ms(now), ms(now), ms(now), by, id)
	if err != nil {
		return fmt.Errorf("approve alert: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.AlertBare(ctx, id); err != nil {
			return err
		}
		return ErrConflict
	}
	return nil
}

// AlertChecked records that an automatic alert's article answered: the
// alert goes out from now (its TTL counts from then).
func (s *Store) AlertChecked(ctx context.Context, id int64, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.query("AlertChecked"), ms(now), id); err != nil {
		return fmt.Errorf("alert checked: %w", err)
	}
	return nil
}

// AlertCheckLater records a failed check of an automatic alert's article
// and when to check again.
func (s *Store) AlertCheckLater(ctx context.Context, id int64, next time.Time, reason string) error {
	if _, err := s.db.ExecContext(ctx, s.query("AlertCheckLater"), ms(next), reason, id); err != nil {
		return fmt.Errorf("alert check later: %w", err)
	}
	return nil
}

// FailAlert gives up an alert that has not gone out, with the reason.
func (s *Store) FailAlert(ctx context.Context, id int64, reason string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.query("FailAlert"), reason, ms(now), id); err != nil {
		return fmt.Errorf("fail alert: %w", err)
	}
	return nil
}

// AwaitingAlerts lists the latest alerts awaiting approval.
func (s *Store) AwaitingAlerts(ctx context.Context, limit int) ([]AlertInfo, error) {
	ids, err := s.ids(ctx, "AwaitingAlerts", limit)
	if err != nil {
		return nil, err
	}
	out := make([]AlertInfo, 0, len(ids))
	for _, id := range ids {
		a, err := s.AlertBare(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// WaitingPush counts alert id's push messages due after t: held until
// browsers' quiet hours end, or retried late.
func (s *Store) WaitingPush(ctx context.Context, id int64, t time.Time) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, s.query("WaitingPush"), id, ms(t)).Scan(&n); err != nil {
		return 0, fmt.Errorf("waiting push: %w", err)
	}
	return n, nil
}
