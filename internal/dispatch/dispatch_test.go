package dispatch_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/templates"
)

type fixture struct {
	st     *store.Store
	svc    *subscribe.Service
	sink   *mailtest.Server
	mailer *dispatch.Mailer
}

func setup(t *testing.T, opts ...mailtest.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.SQLite(t)
	for _, tp := range [][2]string{{"politique", "Politique"}, {"afrique", "Afrique"}} {
		if _, err := st.CreateTopic(ctx, tp[0], tp[1]); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	tokens, _ := subscribe.NewTokens([]byte(strings.Repeat("k", 32)), nil)
	svc := subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: []byte("h"), BaseURL: "https://news.example", Log: log})
	comp, err := compose.New(templates.FS, compose.Site{Name: "Le Journal", URL: "https://news.example"})
	if err != nil {
		t.Fatal(err)
	}
	sink := mailtest.NewServer(t, opts...)
	tr, err := mail.NewSMTP(sink.URL(), mail.SMTPOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := &dispatch.MessageBuilder{Store: st, Composer: comp, Subscribe: svc, From: "Le Journal <news@news.example>",
		ListID: "Le Journal <digest.news.example>", FeedbackBrand: "journal"}
	rec := bounce.NewStore(bounce.StoreConfig{Store: st, Hash: svc.Hash, Soft: store.SoftPolicy{Count: 3, Window: 15 * 24 * time.Hour}})
	m := dispatch.NewMailer(dispatch.MailConfig{Store: st, Transport: tr, Builder: b, Bouncer: rec, Log: log,
		EnvelopeFrom: "bounces@news.example", Owner: "test", Connections: 2, RetryBase: 50 * time.Millisecond, Lease: 3 * time.Second})
	m.Start(ctx)
	t.Cleanup(func() { stopWithin(m, 5*time.Second) })
	return &fixture{st: st, svc: svc, sink: sink, mailer: m}
}

func TestPreviewAsSampleReaderKeepsItsLanguage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	id, _, err := f.st.SaveArticle(ctx, news.Article{GUID: "g", URL: "https://news.example/a", Title: "Election day", Topics: []string{"afrique"}, PublishedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.EnqueuePreview(ctx, "editor@news.example", []int64{id}, 0, "lang=en&frequency=weekly&topics=afrique", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.mailer.Wake()
	msgs := f.sink.Wait(1, 10*time.Second)
	if len(msgs) != 1 || msgs[0].To[0] != "editor@news.example" {
		t.Fatalf("got %+v", msgs)
	}
	if txt := msgs[0].Text(); !strings.Contains(txt, "Election day") || !strings.Contains(strings.ToLower(txt), "week") {
		t.Fatalf("not an English weekly digest:\n%s", txt)
	}
}

func TestRetryThenBounce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tries := map[string]int{}
	f := setup(t, mailtest.WithRcptHook(func(rcpt string, n int) *smtp.SMTPError {
		mu.Lock()
		defer mu.Unlock()
		tries[rcpt]++
		switch {
		case strings.HasPrefix(rcpt, "busy") && tries[rcpt] <= 2:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "try later"}
		case strings.HasPrefix(rcpt, "gone"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}))
	ctx := context.Background()
	for _, e := range []string{"busy@example.com", "gone@example.com"} {
		if err := f.svc.Subscribe(ctx, subscribe.Request{Email: e, Topics: []string{"afrique"}, Client: e}); err != nil {
			t.Fatal(err)
		}
	}
	f.mailer.Wake()
	msgs := f.sink.Wait(1, 10*time.Second)
	if len(msgs) != 1 || msgs[0].To[0] != "busy@example.com" {
		t.Fatalf("got %+v", msgs)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sub, err := f.st.SubscriberByEmail(ctx, "gone@example.com")
		if err == nil && sub.Status == news.Bounced {
			if ok, _ := f.st.HardSuppressed(ctx, f.svc.Hash("gone@example.com")); !ok {
				t.Fatal("bounced address not suppressed")
			}
			// The refusal is in the reader's bounce history, with the
			// server's code and words.
			bs, err := f.st.Bounces(ctx, sub.ID, 10)
			if err != nil || len(bs) != 1 || bs[0].Kind != store.BounceHard || bs[0].Status != "5.1.1" || bs[0].Source != "rcpt" ||
				!strings.Contains(bs[0].Diagnostic, "no such user") {
				t.Fatalf("bounce history %+v %v", bs, err)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("a 550 did not unsubscribe the address")
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	t.Parallel()
	prev := time.Duration(0)
	for a := 1; a <= 20; a++ {
		d := dispatch.Backoff(a, time.Second, time.Minute)
		if d < 800*time.Millisecond || d > 72*time.Second {
			t.Fatalf("attempt %d: %s out of bounds", a, d)
		}
		if a <= 5 && d < prev/2 {
			t.Fatalf("attempt %d: %s shrank from %s", a, d, prev)
		}
		prev = d
	}
}

// countingSender is a push service that takes every message.
type countingSender struct {
	mu   sync.Mutex
	sent []push.Subscription
}

func (c *countingSender) Send(_ context.Context, sub push.Subscription, _ push.Message) push.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, sub)
	return push.Result{Outcome: push.Delivered, Status: 201}
}

func (c *countingSender) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

// TestPushAlertUnreadableIsRetried: when the alert cannot be read (the
// database restarting), its messages wait and go out once it can, instead
// of failing for good (seen: 337 of 2,000 browsers lost to a PostgreSQL
// restart).
func TestPushAlertUnreadableIsRetried(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, _, err := f.st.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.example/1", P256dh: "p", Auth: "a", Lang: news.French}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	id, err := f.st.CreateAlert(ctx, news.Alert{Title: "T", Body: "B", URL: "https://news.example/a", TTL: time.Hour, Urgency: "high",
		TopicHeader: "t", State: news.AlertSending, CreatedAt: time.Now()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		if _, done, err = f.st.EnqueueAlertWindow(ctx, id, 100, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// A row the store cannot read: an error that is not "not found".
	exec := func(q string) {
		t.Helper()
		if _, err := f.st.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	exec("UPDATE alerts SET ttl_seconds = 'unreadable'")
	sender := &countingSender{}
	p := dispatch.NewPusher(dispatch.PushConfig{Store: f.st, Sender: sender, Log: slog.New(slog.DiscardHandler), Owner: "test",
		RetryBase: 50 * time.Millisecond, Lease: 3 * time.Second})
	p.Start(ctx)
	t.Cleanup(func() { stopWithin(p, 5*time.Second) })
	time.Sleep(300 * time.Millisecond)
	exec("UPDATE alerts SET ttl_seconds = 3600")
	p.Wake()
	deadline := time.Now().Add(10 * time.Second)
	for sender.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if sender.count() != 1 {
		t.Fatalf("sent %d, want the message once the alert could be read", sender.count())
	}
	a, err := f.st.Alert(ctx, id)
	for err == nil && a.Delivered != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		a, err = f.st.Alert(ctx, id)
	}
	if err != nil || a.Delivered != 1 || a.Failed != 0 {
		t.Fatalf("alert %+v %v, want 1 delivered, none failed", a, err)
	}
}

// stopWithin stops a pipeline, giving messages in flight up to grace.
func stopWithin(s interface{ Stop(context.Context) }, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	s.Stop(ctx)
}
