package reader_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/testenv/chromiumtest"
)

// TestConfirmInBrowser opens a confirmation link in headless Chromium, as a
// reader clicking it in their email: the page's script (allowed by the
// page's CSP nonce) posts the form by itself and the reader is confirmed,
// with no click.
func TestConfirmInBrowser(t *testing.T) {
	chromium := chromiumtest.Path(t)
	dir := t.TempDir()
	sink := mailtest.NewServer(t)
	env := e2etest.NewEnv(dir)
	env["CRIEUR_SITE_NAME"] = "Le Journal"
	env["CRIEUR_SMTP_URL"] = sink.URL()
	e2etest.CLI(t, env, "", "topic", "add", "afrique", "Afrique")
	p := e2etest.Start(t, env, dir)

	const email = "lectrice@example.org"
	body := map[string]any{"email": email, "topics": []string{"afrique"}, "frequency": "daily", "lang": "fr"}
	if code := p.Do(t, "POST", "/api/v1/subscriptions", "", body, nil); code != 202 {
		t.Fatalf("subscribe: %d", code)
	}
	var link string
	e2etest.WaitFor(t, 15*time.Second, "the confirmation email", func() bool {
		for _, m := range sink.Messages() {
			link = regexp.MustCompile(`https?://\S+/confirm/[A-Za-z0-9_-]+`).FindString(m.Text())
		}
		return link != ""
	})
	status := func() string {
		return e2etest.Column(t, env, "SELECT status FROM subscribers WHERE email = '"+email+"'")[0]
	}
	if s := status(); s != "pending" {
		t.Fatalf("before the browser: %s", s)
	}

	ctx, cancel := chromiumtest.Open(t, chromium, 60*time.Second)
	defer cancel()

	// Only navigating: the confirmed page's heading shows once the
	// script has posted the form.
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatalf("open the confirmation link: %v\n%s", err, tail(p.Logs(), 3000))
	}
	var heading string
	e2etest.WaitFor(t, 20*time.Second, "the confirmed page", func() bool {
		h, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
		heading = strings.TrimSpace(h)
		return err == nil && heading == "Inscription confirmée"
	})
	if s := status(); s != "confirmed" {
		t.Errorf("after opening the link in a browser: %s, want confirmed (heading %q)", s, heading)
	}
}
