package e2e_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// welcomes returns the welcome emails the sink got for rcpt.
func welcomes(sink *mailtest.Server, rcpt string) []mailtest.Msg {
	var out []mailtest.Msg
	for _, m := range byRcpt(sink.Messages())[rcpt] {
		if strings.HasPrefix(m.Header("Feedback-ID"), "welcome:") {
			out = append(out, m)
		}
	}
	return out
}

// enableWelcome turns the welcome email on in the desk, with a French
// text, an English one and a paragraph for the readers of topic slug.
func enableWelcome(t *testing.T, p *e2etest.Proc, slug string) {
	t.Helper()
	adm := login(t, p, "chef@gazette.example", "admin")
	resp, page := adm.get("/admin/welcome")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /admin/welcome: %d", resp.StatusCode)
	}
	// The topic's field, found by its label as an admin finds it.
	m := regexp.MustCompile(`<label for="topic-(\d+)-fr">[^<]*` + strings.ToUpper(slug[:1]) + slug[1:]).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no paragraph field for %s:\n%.3000s", slug, page)
	}
	form := url.Values{"enabled": {"on"},
		"subject_fr": {"Bienvenue à La Gazette"}, "body_fr": {"Merci de nous lire.\n\nChaque matin, l’essentiel."},
		"subject_en": {"Welcome to La Gazette"}, "body_en": {"Thank you for reading us."},
		"topic_" + m[1] + "_fr": {"Le monde, chaque jour, vu d’ici."}}
	if resp, _ := adm.post(page, "/admin/welcome", form); resp.StatusCode != 200 || !strings.Contains(resp.Request.URL.RawQuery, "welcome_saved") {
		t.Fatalf("save welcome: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	_, preview := adm.get("/admin/welcome/preview/html?lang=fr")
	if !strings.Contains(preview, "Merci de nous lire.") || !strings.Contains(preview, "Le monde, chaque jour") {
		t.Fatalf("preview:\n%.3000s", preview)
	}
}

// confirmTwice subscribes email and posts its confirmation link three
// times, two of them at once, to each of procs.
func confirmTwice(t *testing.T, sink *mailtest.Server, procs []*e2etest.Proc, email, lang string, topics []string) {
	t.Helper()
	body := map[string]any{"email": email, "topics": topics, "frequency": "daily", "lang": lang}
	if st := procs[0].Do(t, "POST", "/api/v1/subscriptions", "", body, nil); st != 202 {
		t.Fatalf("subscribe %s: %d", email, st)
	}
	var link string
	e2etest.WaitFor(t, 20*time.Second, "confirmation email to "+email, func() bool {
		for _, m := range byRcpt(sink.Messages())[email] {
			if l := confirmURL.FindString(m.Text()); l != "" {
				link = l
				return true
			}
		}
		return false
	})
	path := link[strings.Index(link, "/confirm/"):]
	post := func(p *e2etest.Proc) {
		resp, err := e2etest.HTTPClient().Post(p.URL+path, "", nil)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("POST confirm: %d", resp.StatusCode)
		}
	}
	var wg sync.WaitGroup
	for range 2 {
		for _, p := range procs {
			wg.Go(func() { post(p) })
		}
	}
	wg.Wait()
	post(procs[len(procs)-1])
}

// TestWelcomeEmail: off by default; once an admin writes it in the desk,
// a reader who confirms gets one welcome email, through the queue, in
// their language, with their topic's paragraph and the usual headers,
// however many times the confirmation is posted.
func TestWelcomeEmail(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "monde", "sport")
	f.start()
	f.subscribeConfirmed(sink, "avant@example.org", []string{"monde"}, "fr", false)

	enableWelcome(t, f.p, "monde")
	confirmTwice(t, sink, []*e2etest.Proc{f.p}, "lectrice@example.org", "fr", []string{"monde"})
	confirmTwice(t, sink, []*e2etest.Proc{f.p}, "reader@example.org", "en", []string{"sport"})
	e2etest.WaitFor(t, 20*time.Second, "the welcome emails", func() bool {
		return len(welcomes(sink, "lectrice@example.org")) > 0 && len(welcomes(sink, "reader@example.org")) > 0
	})
	// Whatever else was queued for them (the digest is not run) has gone
	// by now: the confirmations went out before the welcomes.
	time.Sleep(time.Second)
	fr, en := welcomes(sink, "lectrice@example.org"), welcomes(sink, "reader@example.org")
	if len(fr) != 1 || len(en) != 1 {
		t.Fatalf("%d and %d welcome emails, want one each", len(fr), len(en))
	}
	if n := len(welcomes(sink, "avant@example.org")); n != 0 {
		t.Errorf("a reader confirmed while the welcome email was off got %d", n)
	}
	m := fr[0]
	if s := m.Header("Subject"); s != "Bienvenue à La Gazette" {
		t.Errorf("Subject %q", s)
	}
	txt := m.Text()
	for _, s := range []string{"Merci de nous lire.", "Chaque matin, l’essentiel.", "Le monde, chaque jour, vu d’ici.", "/unsubscribe/"} {
		if !strings.Contains(txt, s) {
			t.Errorf("the French welcome lacks %q:\n%s", s, txt)
		}
	}
	if !strings.Contains(m.HTML(), "Merci de nous lire.") {
		t.Errorf("the HTML part lacks the text")
	}
	for _, h := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID", "Date", "List-Id"} {
		if m.Header(h) == "" {
			t.Errorf("the welcome email has no %s", h)
		}
	}
	if got := en[0]; got.Header("Subject") != "Welcome to La Gazette" || strings.Contains(got.Text(), "Le monde, chaque jour") {
		t.Errorf("English welcome: %q\n%s", got.Header("Subject"), got.Text())
	}
}

// TestWelcomeOnceAcrossInstances: two instances on one PostgreSQL
// database each take the same confirmation twice at once; the reader
// gets one welcome email.
func TestWelcomeOnceAcrossInstances(t *testing.T) {
	e2etest.Parallel(t)
	c := newCluster(t, 2)
	enableWelcome(t, c.procs[0], "monde")
	confirmTwice(t, c.smtp, c.procs, "double@example.org", "fr", []string{"monde"})
	e2etest.WaitFor(t, 20*time.Second, "the welcome email", func() bool { return len(welcomes(c.smtp, "double@example.org")) > 0 })
	time.Sleep(time.Second) // a second one, were it queued, would be out now
	if n := len(welcomes(c.smtp, "double@example.org")); n != 1 {
		t.Fatalf("%d welcome emails, want 1", n)
	}
	var queued int
	if err := c.db.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE kind = 'welcome'`).Scan(&queued); err != nil || queued != 1 {
		t.Fatalf("%d welcome deliveries queued (%v), want 1", queued, err)
	}
}
