package dispatch_test

import (
	"bytes"
	"context"
	"net/mail"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/dispatch"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/templates"
)

func TestDefaultAlertListID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                   "",
		"Le Journal <digest.news.example>":   "Le Journal <alerts.news.example>",
		"<digest.news.example>":              "<alerts.news.example>",
		"digest.news.example":                "alerts.news.example",
		"Le Journal <letters.news.example>":  "Le Journal <alerts.letters.news.example>",
		"Le Journal <digest.news.example":    "Le Journal <digest.news.example", // malformed: left to the mail package
		"L'Écho < digest.echo.example > ":    "L'Écho <alerts.echo.example>",
		"Le Journal <digest.digest.example>": "Le Journal <alerts.digest.example>",
	} {
		if got := dispatch.DefaultAlertListID(in); got != want {
			t.Errorf("DefaultAlertListID(%q) = %q, want %q", in, got, want)
		}
	}
}

// An alert email is not the digest list: it carries its own List-Id,
// while digests (and their previews) keep the digests' one.
func TestAlertEmailHasItsOwnListID(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	now := time.Now()
	comp, err := compose.New(templates.FS, compose.Site{Name: "Le Journal", URL: "https://news.example"})
	if err != nil {
		t.Fatal(err)
	}
	b := &dispatch.MessageBuilder{Store: f.st, Composer: comp, Subscribe: f.svc, From: "Le Journal <news@news.example>",
		ListID: "Le Journal <digest.news.example>", FeedbackBrand: "journal"}

	if err := f.svc.Subscribe(ctx, subscribe.Request{Email: "ana@example.com", Topics: []string{"afrique"}, Alerts: true, Client: "t"}); err != nil {
		t.Fatal(err)
	}
	sub, err := f.st.SubscriberByEmail(ctx, "ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Confirm(ctx, sub.ID, f.svc.Hash(sub.Email), now); err != nil {
		t.Fatal(err)
	}
	alertID, err := f.st.CreateAlert(ctx, news.Alert{Title: "Séisme", Body: "Un séisme a frappé.", URL: "https://news.example/seisme",
		Topics: []string{"afrique"}, TTL: time.Hour, Urgency: "high", Email: true, State: news.AlertSending, CreatedBy: "test", CreatedAt: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	artID, _, err := f.st.SaveArticle(ctx, news.Article{GUID: "g", URL: "https://news.example/a", Title: "Élections", Topics: []string{"afrique"}, PublishedAt: now})
	if err != nil {
		t.Fatal(err)
	}

	listID := func(d store.Delivery) string {
		t.Helper()
		_, raw, err := b.Build(ctx, d)
		if err != nil {
			t.Fatalf("build %s: %v", d.Kind, err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		return m.Header.Get("List-Id")
	}
	if got := listID(store.Delivery{ID: 1, Kind: news.MailAlert, AlertID: alertID, SubscriberID: sub.ID}); got != "Le Journal <alerts.news.example>" {
		t.Errorf("alert List-Id %q, want Le Journal <alerts.news.example>", got)
	}
	if got := listID(store.Delivery{ID: 2, Kind: news.MailPreview, Rcpt: "editor@news.example", Articles: []int64{artID}}); got != "Le Journal <digest.news.example>" {
		t.Errorf("digest preview List-Id %q, want the digests' one", got)
	}
	b.AlertListID = "Le Journal <breaking.news.example>"
	if got := listID(store.Delivery{ID: 3, Kind: news.MailAlert, AlertID: alertID, SubscriberID: sub.ID}); got != b.AlertListID {
		t.Errorf("alert List-Id %q, want the configured %q", got, b.AlertListID)
	}
}
