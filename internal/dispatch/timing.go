package dispatch

import (
	"context"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/quiet"
	"github.com/crieur/crieur/internal/store"
)

// The right moment for each browser (issue 17). A normal alert reaching a
// browser in its quiet hours is held: its message becomes a queued row due
// when the quiet hours end (the queue is the only timer, so a held message
// survives kill -9 and is sent by whichever instance is up then), and goes
// out then with what is left of its TTL; when the quiet hours outlast the
// TTL, or the browser's daily cap is reached, it is dropped and counted
// expired. A breaking alert goes through both, and counts toward the cap.

// dailySlot is a browser's place in its daily cap taken for one message,
// given back when the message does not go out.
type dailySlot struct {
	id  int64
	day int
}

// timing decides whether t's message goes now. held, when not nil, is the
// outcome instead of a send (held until quiet hours end, or expired).
// slot, when not nil, must be settled after the send.
func (p *Pusher) timing(ctx context.Context, t store.PushTarget, m *alertMsg, now time.Time) (slot *dailySlot, held *store.Result) {
	if t.Timing.Plain() {
		return nil, nil
	}
	loc := quiet.ZoneOr(t.Timing.Timezone, p.cfg.Location)
	normal := m.priority == news.Normal
	if h := (quiet.Hours{From: t.Timing.QuietFrom, To: t.Timing.QuietTo}); normal && h.Set() {
		if end, in := h.Quiet(now, loc); in {
			if m.msg.TTL == 0 || end.After(m.deadline) {
				p.observe("expired")
				return nil, &store.Result{State: news.DeliveryExpired, Error: "quiet hours outlast the alert's TTL"}
			}
			return nil, &store.Result{State: news.DeliveryPending, NextAttempt: end, Error: "held: quiet hours until " + end.In(loc).Format("15:04 MST")}
		}
	}
	if t.Timing.MaxPerDay == 0 {
		return nil, nil
	}
	day := quiet.Day(now, loc)
	ok, err := p.cfg.Store.TakeDailySlot(ctx, t.SubscriptionID, day, !normal)
	if err != nil {
		// Counting failed (the database is away): the message waits as
		// for a push service's 5xx rather than going over the cap.
		p.cfg.Log.Warn("daily cap unreadable; message retried", "subscription_id", t.SubscriptionID, "err", err)
		if t.Attempts >= p.cfg.MaxAttempts {
			return nil, &store.Result{State: news.DeliveryFailed, Error: "daily cap: " + errText(err)}
		}
		return nil, &store.Result{State: news.DeliveryPending, NextAttempt: now.Add(Backoff(t.Attempts, p.cfg.RetryBase, 10*time.Minute)),
			Error: "daily cap: " + errText(err)}
	}
	if !ok {
		p.observe("expired")
		return nil, &store.Result{State: news.DeliveryExpired, Error: "over the browser's daily cap"}
	}
	return &dailySlot{id: t.SubscriptionID, day: day}, nil
}

// settle gives the slot back when its message did not go out (it will be
// counted again if retried).
func (p *Pusher) settle(ctx context.Context, s *dailySlot, delivered bool) {
	if s == nil || delivered {
		return
	}
	if err := p.cfg.Store.GiveBackDailySlot(context.WithoutCancel(ctx), s.id, s.day); err != nil {
		p.cfg.Log.Error("give back daily slot", "subscription_id", s.id, "err", err)
	}
}
