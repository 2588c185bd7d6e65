package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// PushEvent is what a service worker reports of an alert.
type PushEvent string

// The push events.
const (
	PushShown   PushEvent = "shown"
	PushClicked PushEvent = "clicked"
)

// RecordPushEvent counts what the browser subscribed with endpoint reports
// of alert id, once per browser and alert: a second "shown" counts nothing,
// a "clicked" counts once and also counts the alert shown if that report
// was lost. An unknown alert or endpoint, or an alert never sent to that
// browser (a stranger's own subscription reporting every alert id), counts
// nothing. It reports
// whether anything was counted.
func (s *Store) RecordPushEvent(ctx context.Context, alertID int64, endpoint string, ev PushEvent, now time.Time) (bool, error) {
	counted := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var subID, aID int64
		if err := tx.QueryRowContext(ctx, s.query("PushByEndpoint"), endpoint).Scan(&subID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, s.query("PushSentTo"), alertID, subID, subID, subID).Scan(&aID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.query("InsertPushShown"), alertID, subID, ms(now))
		if err != nil {
			return err
		}
		shown, _ := res.RowsAffected()
		var clicked int64
		if ev == PushClicked {
			res, err := tx.ExecContext(ctx, s.query("MarkPushClicked"), ms(now), alertID, subID)
			if err != nil {
				return err
			}
			clicked, _ = res.RowsAffected()
		}
		if shown == 0 && clicked == 0 {
			return nil
		}
		counted = true
		if _, err := tx.ExecContext(ctx, s.query("AddAlertShown"), shown, clicked, alertID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.query("AddAlertMinute"), alertID, now.Unix()/60, shown, clicked)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record push event: %w", err)
	}
	return counted, nil
}

// AlertEngagement returns how many browsers showed alert id and how many
// readers opened it.
func (s *Store) AlertEngagement(ctx context.Context, id int64) (shown, clicked int64, err error) {
	err = s.db.QueryRowContext(ctx, s.query("AlertEngagement"), id).Scan(&shown, &clicked)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, ErrNotFound
	}
	if err != nil {
		return 0, 0, fmt.Errorf("alert engagement: %w", err)
	}
	return shown, clicked, nil
}

// CurvePoint is an alert's running totals at the end of one minute.
type CurvePoint struct {
	Minute                    int // since the alert went out
	Delivered, Shown, Clicked int64
}

// AlertCurve returns an alert's delivered, shown and opened running totals
// for each of the minutes minutes from start (when it went out).
func (s *Store) AlertCurve(ctx context.Context, id int64, start time.Time, minutes int) ([]CurvePoint, error) {
	first := start.Unix() / 60
	rows, err := s.db.QueryContext(ctx, s.query("AlertMinutes"), id, int64(0), first+int64(minutes))
	if err != nil {
		return nil, fmt.Errorf("alert curve: %w", err)
	}
	defer rows.Close()
	out := make([]CurvePoint, minutes)
	var del, shown, clicked int64
	next := 0
	fill := func(upto int) {
		for ; next < upto && next < minutes; next++ {
			out[next] = CurvePoint{Minute: next, Delivered: del, Shown: shown, Clicked: clicked}
		}
	}
	for rows.Next() {
		var m, d, sh, cl int64
		if err := rows.Scan(&m, &d, &sh, &cl); err != nil {
			return nil, fmt.Errorf("alert curve: %w", err)
		}
		// Minutes before the start (a clock apart) count at the start.
		fill(int(m - first))
		del, shown, clicked = max(del, d), shown+sh, clicked+cl
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alert curve: %w", err)
	}
	fill(minutes)
	return out, nil
}

// ReaderDay is one day of the readers' dashboard.
type ReaderDay struct {
	Day                                          time.Time // UTC midnight
	Confirmed, Unsubscribed, Bounced, Complained int64
}

// ReadersPerDay returns, for each UTC day from since to now, the readers
// who confirmed and the addresses put on the suppression list by reason.
// Bounces and complaints are read from the suppression list's reasons: a
// count of bounce reports per day (soft ones included) belongs to the
// bounce recorder and can replace them here.
func (s *Store) ReadersPerDay(ctx context.Context, since, now time.Time) ([]ReaderDay, error) {
	days := map[int64]*ReaderDay{}
	from := dayStart(since) / 86400000
	for d := from; d <= dayStart(now)/86400000; d++ {
		days[d] = &ReaderDay{Day: time.UnixMilli(d * 86400000).UTC()}
	}
	rows, err := s.db.QueryContext(ctx, s.query("ConfirmationsPerDay"), dayStart(since))
	if err != nil {
		return nil, fmt.Errorf("readers per day: %w", err)
	}
	for rows.Next() {
		var d, n int64
		if err := rows.Scan(&d, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("readers per day: %w", err)
		}
		if rd := days[d]; rd != nil {
			rd.Confirmed += n
		}
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, s.query("SuppressionsPerDay"), dayStart(since))
	if err != nil {
		return nil, fmt.Errorf("readers per day: %w", err)
	}
	for rows.Next() {
		var d, n int64
		var reason string
		if err := rows.Scan(&d, &reason, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("readers per day: %w", err)
		}
		rd := days[d]
		if rd == nil {
			continue
		}
		switch {
		case strings.HasPrefix(reason, "bounce"):
			rd.Bounced += n
		case strings.HasPrefix(reason, "complain"):
			rd.Complained += n
		case reason == "erased":
			// An erase is not a choice to leave the list as such; the
			// reader who left first was counted then.
		default:
			rd.Unsubscribed += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readers per day: %w", err)
	}
	out := make([]ReaderDay, 0, len(days))
	for _, rd := range days {
		out = append(out, *rd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day.Before(out[j].Day) })
	return out, nil
}

// DayTotal is a running total at the end of one UTC day.
type DayTotal struct {
	Day   time.Time
	Total int64
}

// PushBrowsersPerDay returns how many browsers were subscribed at the end
// of each UTC day from since to now (those that left since are not
// known: the curve is of today's browsers, by the day they came).
func (s *Store) PushBrowsersPerDay(ctx context.Context, since, now time.Time) ([]DayTotal, error) {
	var total int64
	if err := s.db.QueryRowContext(ctx, s.query("PushBrowsersBefore"), dayStart(since)).Scan(&total); err != nil {
		return nil, fmt.Errorf("push browsers per day: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.query("PushBrowsersPerDay"), dayStart(since))
	if err != nil {
		return nil, fmt.Errorf("push browsers per day: %w", err)
	}
	defer rows.Close()
	added := map[int64]int64{}
	for rows.Next() {
		var d, n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("push browsers per day: %w", err)
		}
		added[d] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("push browsers per day: %w", err)
	}
	var out []DayTotal
	for d := dayStart(since) / 86400000; d <= dayStart(now)/86400000; d++ {
		total += added[d]
		out = append(out, DayTotal{Day: time.UnixMilli(d * 86400000).UTC(), Total: total})
	}
	return out, nil
}
