package e2e_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// TestSunsetEmail: with CRIEUR_SUNSET_AFTER (3 s here, days in use) and
// readers tracked, a reader who has not clicked gets one "still want
// this?" email with List-Unsubscribe; its button opens the preference
// center, which asks; a GET (a scanner) answers nothing, the button's POST
// keeps them.
func TestSunsetEmail(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL(), "CRIEUR_TRACK_READERS": "true", "CRIEUR_SUNSET_AFTER": "3s"}, "monde")
	f.importCSV("readers.csv", []string{"calme@example.org,monde,daily,fr,confirmed"})
	f.start()
	var msg mailtest.Msg
	e2etest.WaitFor(t, 20*time.Second, "the sunset email", func() bool {
		for _, m := range byRcpt(sink.Messages())["calme@example.org"] {
			if strings.Contains(m.Header("Subject"), "toujours") {
				msg = m
				return true
			}
		}
		return false
	})
	if msg.Header("List-Unsubscribe") == "" || !strings.Contains(msg.Text(), "30 jours") {
		t.Errorf("sunset email without List-Unsubscribe or its 30 days:\n%s", msg.Text())
	}
	link := prefsURL.FindString(msg.HTML())
	if link == "" {
		t.Fatalf("no preference link in:\n%s", msg.HTML())
	}
	get := func() string {
		t.Helper()
		resp, err := e2etest.HTTPClient().Get(link)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	page := get()
	if !strings.Contains(page, "/keep") {
		t.Fatalf("the preference center does not ask:\n%s", e2etest.Tail(page, 2000))
	}
	open := "SELECT COUNT(*) FROM sunset_asks WHERE answered_at IS NULL"
	if n := e2etest.Count(t, f.env, open); n != 1 {
		t.Fatalf("%d open asks after a GET, want the one still open", n)
	}
	n := 0
	for _, m := range byRcpt(sink.Messages())["calme@example.org"] {
		if strings.Contains(m.Header("Subject"), "toujours") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d sunset emails, want 1", n)
	}
	u, _ := url.Parse(link)
	resp, err := e2etest.HTTPClient().Post(f.p.URL+u.Path+"/keep", "application/x-www-form-urlencoded", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("keep: %d", resp.StatusCode)
	}
	// Checked at once: a reader quiet for another period (3 s here) is
	// asked again.
	if n := e2etest.Count(t, f.env, open); n != 0 {
		t.Errorf("%d open asks after keeping, want none", n)
	}
	if strings.Contains(get(), "/keep") {
		t.Error("the preference center still asks after the answer")
	}
}
