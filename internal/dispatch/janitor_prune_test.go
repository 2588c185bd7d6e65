package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

// TestJanitorPrunesDeadPush: the janitor's hourly clean, on a clock 40
// days after a browser's push service started refusing every alert,
// removes that browser with the 30-day setting and keeps one whose last
// alert was delivered; with the setting at 0 it removes nothing.
func TestJanitorPrunesDeadPush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	day := 24 * time.Hour
	t0 := time.Now().Add(-60 * day).Truncate(time.Millisecond)
	ids := map[string]int64{}
	for _, name := range []string{"dead", "alive"} {
		id, _, err := st.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.test/" + name, P256dh: "p", Auth: "a", Lang: news.French}, nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	// Alerts on days 10 and 20: dead failed both, alive failed then got one.
	for i, d := range []int{10, 20} {
		at := t0.Add(time.Duration(d) * day)
		a, err := st.CreateAlert(ctx, news.Alert{Title: "t", Body: "b", URL: "https://x.test", TTL: time.Hour, Urgency: "high", TopicHeader: "t", State: news.AlertSending, SendAt: at, CreatedAt: at}, nil)
		if err != nil {
			t.Fatal(err)
		}
		alive := news.DeliveryFailed
		if i == 1 {
			alive = news.DeliverySent
		}
		for name, state := range map[string]news.DeliveryState{"dead": news.DeliveryFailed, "alive": alive} {
			q := fmt.Sprintf("INSERT INTO push_deliveries (alert_id, subscription_id, state, next_attempt_at, created_at) VALUES (%d, %d, '%s', %d, %d)",
				a, ids[name], state, at.UnixMilli(), at.UnixMilli())
			if _, err := st.DB().ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock := t0.Add(50 * day) // dead has failed every alert for 40 days
	janitor := func(failing time.Duration) *dispatch.Janitor {
		return dispatch.NewJanitor(dispatch.JanitorConfig{Store: st, Log: slog.New(slog.DiscardHandler), Lease: time.Minute,
			PushFailingFor: failing, PushStaleAfter: 90 * day, Now: func() time.Time { return clock }})
	}
	janitor(0).Clean(ctx)
	if total, _, _ := st.PushCounts(ctx); total != 2 {
		t.Fatalf("with pruning off, %d browsers left, want 2", total)
	}
	janitor(30 * day).Clean(ctx)
	if total, _, _ := st.PushCounts(ctx); total != 1 {
		t.Fatalf("%d browsers left, want 1", total)
	}
	pruned, err := st.PushPrunes(ctx, t0)
	if err != nil || pruned[store.PruneFailing] != 1 || pruned[store.PruneStale] != 0 {
		t.Fatalf("pruned %v %v, want 1 failing", pruned, err)
	}
}
