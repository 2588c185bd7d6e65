package compose_test

import (
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/news"
)

// The welcome email holds the admin's paragraphs and the topics', escaped
// (the desk's text is plain text, never HTML), the reader's links, and a
// subject by default; without text there is no email.
func TestWelcome(t *testing.T) {
	t.Parallel()
	c := setup(t)
	d := compose.WelcomeData{Lang: news.French, Body: "Bonjour <script>alert(1)</script>.\r\n\r\nDeuxième paragraphe.",
		TopicParagraphs: []string{"Le sport, <b>chaque</b> matin."},
		PreferencesURL:  "https://crieur.example/preferences/T", UnsubscribeURL: "https://crieur.example/unsubscribe/T"}
	e, err := c.Welcome(d)
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject == "" || !strings.Contains(e.Subject, "Bienvenue") {
		t.Errorf("default subject %q", e.Subject)
	}
	if strings.Contains(e.HTML, "<script>") || strings.Contains(e.HTML, "<b>chaque") || !strings.Contains(e.HTML, "&lt;script&gt;") {
		t.Errorf("the admin's text is not escaped:\n%s", e.HTML)
	}
	for _, s := range []string{"Deuxième paragraphe.", "Le sport, <b>chaque</b> matin.", "https://crieur.example/unsubscribe/T", "https://crieur.example/preferences/T"} {
		if !strings.Contains(e.Text, s) {
			t.Errorf("text part lacks %q:\n%s", s, e.Text)
		}
	}
	d.Subject = "Bienvenue\r\nBcc: x@y"
	if e, err := c.Welcome(d); err != nil || strings.ContainsAny(e.Subject, "\r\n") {
		t.Errorf("subject %q %v", e.Subject, err)
	}
	if _, err := c.Welcome(compose.WelcomeData{Lang: news.English, Body: " \n\n ", PreferencesURL: d.PreferencesURL, UnsubscribeURL: d.UnsubscribeURL}); err == nil {
		t.Error("a welcome without text was composed")
	}
}
