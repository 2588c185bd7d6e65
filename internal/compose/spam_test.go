package compose_test

import (
	"testing"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/news"
)

// TestSpamScore composes whole messages as crieur sends them (with
// internal/mail) and scores them with SpamAssassin, local rules only. It
// skips when spamassassin is not installed, and fails under CI without it.
func TestSpamScore(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spamassassin is slow")
	}
	c := setup(t)
	const (
		prefs = "https://news.example.com/preferences/tok"
		unsub = "https://news.example.com/unsubscribe/tok"
	)
	tests := []struct {
		name   string
		bulk   bool
		render func() (compose.Email, error)
	}{
		{"digest_fr", true, func() (compose.Email, error) { return c.Digest(frenchDigest(25)) }},
		{"digest_en", true, func() (compose.Email, error) {
			d := frenchDigest(3)
			d.Lang, d.Frequency = news.English, news.Weekly
			return c.Digest(d)
		}},
		{"confirm_fr", false, func() (compose.Email, error) {
			return c.Confirm(compose.ConfirmData{Lang: news.French, ConfirmURL: "https://news.example.com/confirm/tok", Topics: topics(), Frequency: news.Daily, PreferencesURL: prefs})
		}},
		{"alert_fr", true, func() (compose.Email, error) {
			return c.Alert(compose.AlertData{Lang: news.French, Title: "Séisme au large du Japon : l’alerte au tsunami est levée",
				Body: "L’agence météorologique japonaise a levé l’alerte au tsunami. Aucune victime n’est signalée à ce stade.",
				URL:  "https://news.example.com/monde/seisme-japon", PreferencesURL: prefs, UnsubscribeURL: unsub})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := tt.render()
			if err != nil {
				t.Fatal(err)
			}
			m := mail.Message{
				From:    "Le Crieur <newsletter@news.example.com>",
				To:      "lectrice@example.org",
				Subject: e.Subject,
				Text:    e.Text,
				HTML:    e.HTML,
				Date:    date,
			}
			if tt.bulk {
				m.ListUnsubscribe = unsub
				m.ListID = "Le Crieur <" + site.ListID + ">"
				m.FeedbackID = tt.name + ":digest:crieur:crieur"
				m.Bulk = true
			}
			raw, err := m.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			score, report := mailtest.SpamScore(t, raw)
			t.Logf("SpamAssassin: %.1f\n%s", score, report)
			if score >= 1.0 {
				t.Errorf("spam score %.1f, want < 1.0:\n%s", score, report)
			}
		})
	}
}
