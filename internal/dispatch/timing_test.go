package dispatch_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/store/storetest"
)

// sentMsg is what a recording push service received.
type sentMsg struct {
	endpoint string
	alert    string
	ttl      time.Duration
}

// recordingSender takes every message and keeps what it got.
type recordingSender struct {
	mu   sync.Mutex
	sent []sentMsg
}

func (r *recordingSender) Send(_ context.Context, sub push.Subscription, m push.Message) push.Result {
	var p dispatch.Payload
	json.Unmarshal(m.Payload, &p)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sentMsg{endpoint: sub.Endpoint, alert: p.AlertID, ttl: m.TTL})
	return push.Result{Outcome: push.Delivered, Status: 201}
}

func (r *recordingSender) got() []sentMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentMsg(nil), r.sent...)
}

// fakeClock is the time the pipeline sees; the test moves it.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// TestQuietHoursAndCaps drives the push pipeline with a clock the test
// controls: at 22:45 in Kathmandu (UTC+05:45) a browser with quiet hours
// 22:00-07:00 gets a breaking alert at once and a normal one when its
// quiet hours end (07:00 there, 8 h 15 min later) with the TTL left; a
// normal alert whose TTL ends first is counted expired; a browser capped
// at one alert a day gets its first normal alert, not the second, and a
// breaking one whatever the cap; the cap starts again on its next local
// day; a browser with neither gets everything at once. The held message
// is a queued row: a new pipeline (another process) sends it.
func TestQuietHoursAndCaps(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	clock := &fakeClock{}
	clock.Set(time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)) // 22:45 in Kathmandu, 18:00 in Paris
	browsers := map[string]news.PushSubscription{
		"night":  {Timezone: "Asia/Kathmandu", QuietFrom: 22 * 60, QuietTo: 7 * 60},
		"capped": {Timezone: "Europe/Paris", MaxPerDay: 1},
		"plain":  {},
	}
	for name, ps := range browsers {
		ps.Endpoint, ps.P256dh, ps.Auth, ps.Lang = "https://push.example/"+name, "p", "a", news.French
		if _, _, err := st.SavePushSubscription(ctx, ps, nil, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sender := &recordingSender{}
	paris, _ := time.LoadLocation("Europe/Paris")
	newPusher := func() *dispatch.Pusher {
		p := dispatch.NewPusher(dispatch.PushConfig{Store: st, Sender: sender, Log: slog.New(slog.DiscardHandler), Owner: "test",
			RetryBase: 50 * time.Millisecond, Lease: 3 * time.Second, Now: clock.Now, Location: paris})
		p.Start(ctx)
		return p
	}
	p := newPusher()
	send := func(prio news.Priority, ttl time.Duration) string {
		t.Helper()
		now := clock.Now()
		id, err := st.CreateAlert(ctx, news.Alert{Title: "T", Body: "B", URL: "https://news.example/a", TTL: ttl, Urgency: "high",
			TopicHeader: "t", State: news.AlertSending, SendAt: now, CreatedAt: now, Priority: prio}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for done := false; !done; {
			if _, done, err = st.EnqueueAlertWindow(ctx, id, 100, now); err != nil {
				t.Fatal(err)
			}
		}
		p.Wake()
		return itoa(id)
	}
	// settled waits until the alert has nothing claimed or due now, and
	// returns its counts.
	settled := func(id string, delivered, expired int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			a, err := st.Alert(ctx, atoi(id))
			if err != nil {
				t.Fatal(err)
			}
			if a.Delivered == delivered && a.Expired == expired {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("alert %s: delivered %d expired %d, want %d and %d", id, a.Delivered, a.Expired, delivered, expired)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	to := func(id string) map[string]time.Duration {
		out := map[string]time.Duration{}
		for _, m := range sender.got() {
			if m.alert == id {
				out[m.endpoint[len("https://push.example/"):]] = m.ttl
			}
		}
		return out
	}

	breaking := send(news.Breaking, time.Hour)
	settled(breaking, 3, 0)
	normal := send(news.Normal, 12*time.Hour)
	settled(normal, 1, 1) // plain now; capped over its cap (the breaking one counted); night held
	if got := to(normal); len(got) != 1 || got["plain"] != 12*time.Hour {
		t.Fatalf("normal alert at 22:45 in Kathmandu went to %v, want only the plain browser", got)
	}
	short := send(news.Normal, time.Hour)
	settled(short, 1, 2) // night: quiet hours outlast 1 h; capped: over its cap
	// A breaking alert goes to the capped browser although it is over its
	// cap (the first breaking one went while it was under).
	late := send(news.Breaking, time.Hour)
	settled(late, 3, 0)

	// A restart: the held message is in the queue, not in this process.
	stopWithin(p, 5*time.Second)
	clock.Add(8*time.Hour + 14*time.Minute) // 06:59 in Kathmandu
	p = newPusher()
	t.Cleanup(func() { stopWithin(p, 5*time.Second) })
	p.Wake()
	time.Sleep(700 * time.Millisecond) // more than a claimer poll: nothing may go yet
	if got := to(normal); len(got) != 1 {
		t.Fatalf("the held alert went out before the quiet hours ended: %v", got)
	}
	clock.Add(time.Minute) // 07:00 in Kathmandu
	p.Wake()
	settled(normal, 2, 1)
	// TTL left: 12 h less the 8 h 15 min it was held.
	if got := to(normal)["night"]; got != 3*time.Hour+45*time.Minute {
		t.Fatalf("held alert sent with TTL %v, want 3h45m left", got)
	}

	// 01:15 in Paris on the capped browser's next day: one normal alert again.
	next := send(news.Normal, time.Hour)
	settled(next, 3, 0)
	if got := to(next); len(got) != 3 {
		t.Fatalf("next day's alert went to %v, want all three", got)
	}
	a, err := st.Alert(ctx, atoi(normal))
	if err != nil {
		t.Fatal(err)
	}
	if a.Targeted != 3 || a.Targeted != a.Delivered+a.Expired+a.Failed {
		t.Fatalf("counts do not add up to the three browsers: %+v", a)
	}
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
