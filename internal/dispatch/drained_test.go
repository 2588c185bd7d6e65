package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/templates"
)

// The Mailer says it is drained once every email it claimed has its
// outcome recorded and nothing more is due, and only then: what the
// daemon closes finished runs and alerts on, instead of waiting for the
// enqueuers' one-second tick. It says so once per batch of work, not on
// every idle poll.
func TestMailerDrainedAfterLastOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "c.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTopic(ctx, "afrique", "Afrique"); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	tokens, _ := subscribe.NewTokens([]byte(strings.Repeat("k", 32)), nil)
	svc := subscribe.New(subscribe.Config{Store: st, Tokens: tokens, HashKey: []byte("h"), BaseURL: "https://news.example", Log: log})
	comp, err := compose.New(templates.FS, compose.Site{Name: "Le Journal", URL: "https://news.example"})
	if err != nil {
		t.Fatal(err)
	}
	sink := mailtest.NewServer(t)
	tr, err := mail.NewSMTP(sink.URL(), mail.SMTPOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var ids []int64
	for i := range n {
		email := fmt.Sprintf("r%d@example.com", i)
		if err := svc.Subscribe(ctx, subscribe.Request{Email: email, Topics: []string{"afrique"}, Client: email}); err != nil {
			t.Fatal(err)
		}
		sub, err := st.SubscriberByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sub.ID)
	}
	drained := make(chan struct{}, 16)
	b := &dispatch.MessageBuilder{Store: st, Composer: comp, Subscribe: svc, From: "Le Journal <news@news.example>",
		ListID: "Le Journal <digest.news.example>", FeedbackBrand: "journal"}
	m := dispatch.NewMailer(dispatch.MailConfig{Store: st, Transport: tr, Builder: b, Log: log,
		EnvelopeFrom: "bounces@news.example", Owner: "test", Connections: 2, Lease: 3 * time.Second,
		Drained: func() { drained <- struct{}{} }})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopWithin(m, 5*time.Second) })

	select {
	case <-drained:
	case <-time.After(15 * time.Second):
		t.Fatal("the Mailer never said it was drained")
	}
	for _, id := range ids {
		h, err := st.History(ctx, id, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1 || h[0].State != news.DeliverySent {
			t.Fatalf("drained before reader %d's email was recorded sent: %+v", id, h)
		}
	}
	if got := len(sink.Messages()); got != n {
		t.Fatalf("sink has %d messages, want %d", got, n)
	}
	// Idle polls say nothing more.
	m.Wake()
	select {
	case <-drained:
		t.Fatal("drained said again with nothing new sent")
	case <-time.After(300 * time.Millisecond):
	}
}
