package e2e_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	crmail "github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// subscriberJSON is GET /api/v1/subscribers/{email}.
type subscriberJSON struct {
	Email       string     `json:"email"`
	Status      string     `json:"status"`
	Topics      []string   `json:"topics"`
	Frequency   string     `json:"frequency"`
	Lang        string     `json:"lang"`
	Alerts      bool       `json:"alerts"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
	Sent        []struct {
		Kind  string `json:"kind"`
		State string `json:"state"`
	} `json:"sent"`
	Bounces []struct {
		At         time.Time `json:"at"`
		Kind       string    `json:"kind"`
		Status     string    `json:"status"`
		Diagnostic string    `json:"diagnostic"`
	} `json:"bounces"`
}

// subscriber returns one reader's data and the HTTP status.
func (f *flow) subscriber(email string) (subscriberJSON, int) {
	f.t.Helper()
	var s subscriberJSON
	st := f.do("GET", "/api/v1/subscribers/"+url.PathEscape(email), nil, &s)
	return s, st
}

// byRcpt groups the sink's messages by envelope recipient.
func byRcpt(msgs []mailtest.Msg) map[string][]mailtest.Msg {
	out := map[string][]mailtest.Msg{}
	for _, m := range msgs {
		for _, to := range m.To {
			out[to] = append(out[to], m)
		}
	}
	return out
}

// dkimKey writes a fresh RSA key as PEM into dir and returns its path and
// the DKIM helper that gives its TXT record.
func dkimKey(t *testing.T, dir, domain, selector string) (string, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dkim.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := crmail.NewDKIM(domain, selector, key)
	if err != nil {
		t.Fatal(err)
	}
	txt, err := d.TXTRecord()
	if err != nil {
		t.Fatal(err)
	}
	return path, txt
}

// TestDigestRun covers a daily run end to end: who gets what, in which
// order, with which headers; a hard bounce, a greylisting retry, the
// SpamAssassin score and DKIM of what the sink received, and a second run
// that finds nothing new.
func TestDigestRun(t *testing.T) {
	e2etest.Parallel(t)
	keyDir := t.TempDir()
	keyFile, txt := dkimKey(t, keyDir, "gazette.example", "s1")

	var mu sync.Mutex
	greylisted := 0
	sink := mailtest.NewServer(t, mailtest.WithRcptHook(func(rcpt string, _ int) *smtp.SMTPError {
		switch rcpt {
		case "rebond@example.org":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		case "gris@example.org":
			mu.Lock()
			defer mu.Unlock()
			if greylisted < 2 {
				greylisted++
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try later"}
			}
		}
		return nil
	}))
	f := flowSetup(t, map[string]string{
		"CRIEUR_SMTP_URL":      sink.URL(),
		"CRIEUR_DKIM_DOMAIN":   "gazette.example",
		"CRIEUR_DKIM_SELECTOR": "s1",
		"CRIEUR_DKIM_KEY_FILE": keyFile,
	}, "monde", "sport", "culture", "tech")
	rep := f.importCSV("readers.csv", []string{
		"alice@example.org,monde;sport,daily,fr,confirmed",
		"bob@example.org,culture,daily,en,confirmed",
		"carol@example.org,sport,daily,fr,confirmed",
		"dan@example.org,monde,weekly,fr,confirmed",   // other frequency
		"erin@example.org,tech,daily,fr,confirmed",    // nothing new
		"rebond@example.org,monde,daily,fr,confirmed", // 550
		"gris@example.org,culture,daily,en,confirmed", // 451 twice
		"paul@example.org,monde,daily,fr,pending",     // not confirmed
	})
	if !strings.Contains(rep, "imported 8 ") {
		t.Fatalf("import: %s", rep)
	}
	f.start()
	now := time.Now()
	ids := map[string]string{}
	post := func(guid, title string, topics []string, age time.Duration) {
		ids[guid] = f.article(guid, title, topics, now.Add(-age))
	}
	post("m1", "Élections au Sénégal", []string{"monde"}, 50*time.Minute)
	post("x1", "Le Mondial s’ouvre à Rabat", []string{"monde", "sport"}, 40*time.Minute)
	post("s1", "Victoire des Lions", []string{"sport"}, 30*time.Minute)
	post("c1", "Festival de Ouagadougou", []string{"culture"}, 20*time.Minute)
	post("m2", "Sommet de l’Union africaine", []string{"monde"}, 10*time.Minute)

	// Idempotent intake: the same guid (a correction: its new title is the
	// one digests show), then the same url without guid.
	var again struct{ ID string }
	body := map[string]any{"guid": "m1", "url": "https://gazette.example/m1-bis", "title": "Élections au Sénégal (màj)",
		"summary": "x", "topics": []string{"monde"}, "published_at": now.Add(-50 * time.Minute).UTC().Format(time.RFC3339)}
	if st := f.do("POST", "/api/v1/articles", body, &again); st != 200 || again.ID != ids["m1"] {
		t.Errorf("same guid again: %d id %q, want 200 id %q", st, again.ID, ids["m1"])
	}
	noGUID := map[string]any{"url": "https://gazette.example/sans-guid", "title": "Sans guid", "summary": "s",
		"topics": []string{"tech"}, "published_at": now.Add(-3 * 24 * time.Hour).UTC().Format(time.RFC3339)}
	var first, second struct{ ID string }
	st1 := f.do("POST", "/api/v1/articles", noGUID, &first)
	st2 := f.do("POST", "/api/v1/articles", noGUID, &second)
	if st1 != 201 || st2 != 200 || first.ID != second.ID {
		t.Errorf("same url without guid: %d %q then %d %q, want 201 then 200, same id", st1, first.ID, st2, second.ID)
	}

	id := f.runDigest("daily")
	r := f.waitRun(id, 30*time.Second)
	if r.State != "done" || r.Recipients != 6 || r.Sent != 4 || r.Failed != 1 || r.SkippedEmpty != 1 {
		t.Errorf("run = %+v, want done, 6 recipients = 4 sent + 1 failed + 1 skipped_empty", r)
	}
	if r.Recipients != r.Sent+r.Failed+r.SkippedEmpty {
		t.Errorf("recipients %d != sent %d + failed %d + skipped_empty %d", r.Recipients, r.Sent, r.Failed, r.SkippedEmpty)
	}
	got := byRcpt(sink.Messages())
	want := map[string][]string{
		"alice@example.org": {"Sommet de l’Union africaine", "Victoire des Lions", "Le Mondial s’ouvre à Rabat", "Élections au Sénégal (màj)"},
		"bob@example.org":   {"Festival de Ouagadougou"},
		"carol@example.org": {"Victoire des Lions", "Le Mondial s’ouvre à Rabat"},
		"gris@example.org":  {"Festival de Ouagadougou"},
	}
	for rcpt, titles := range want {
		ms := got[rcpt]
		if len(ms) != 1 {
			t.Errorf("%s got %d digests, want 1", rcpt, len(ms))
			continue
		}
		checkDigestOrder(t, rcpt, ms[0].Text(), titles)
	}
	for _, rcpt := range []string{"dan@example.org", "erin@example.org", "rebond@example.org", "paul@example.org"} {
		for _, m := range got[rcpt] {
			// paul (pending) gets his confirmation email, nothing else.
			if m.Header("List-Id") != "" {
				t.Errorf("%s got a digest (%q), want none", rcpt, m.Header("Subject"))
			}
		}
	}
	mu.Lock()
	if greylisted != 2 {
		t.Errorf("gris@ was greylisted %d times, want 2 then delivered", greylisted)
	}
	mu.Unlock()
	if s, _ := f.subscriber("rebond@example.org"); s.Status != "bounced" {
		t.Errorf("after a 550 the address is %q, want bounced (suppressed)", s.Status)
	} else if len(s.Sent) != 1 || s.Sent[0].State != "failed" {
		// The unsubscribe the bounce caused does not overwrite the
		// bounced message's own outcome.
		t.Errorf("after a 550 the reader's messages are %+v, want the digest failed", s.Sent)
	}

	alice := got["alice@example.org"]
	bob := got["bob@example.org"]
	if len(alice) == 1 && len(bob) == 1 {
		checkDigestHeaders(t, f, alice[0])
		checkDigestHeaders(t, f, bob[0])
		if l := bob[0].Header("Content-Language"); l != "" && l != "en" {
			t.Errorf("bob's digest Content-Language %q", l)
		}
		checkDKIM(t, alice[0].Raw, txt)
		if score, report := mailtest.SpamScore(t, alice[0].Raw); score >= 1.0 {
			t.Errorf("French digest SpamAssassin score %.1f ≥ 1.0\n%s", score, report)
		} else {
			t.Logf("French digest: SpamAssassin score %.1f, HTML %d bytes", score, len(alice[0].HTML()))
		}
	}

	// A second run right away: nothing new for anyone.
	before := sink.Count()
	r2 := f.waitRun(f.runDigest("daily"), 30*time.Second)
	if r2.State != "done" || r2.Sent != 0 || r2.SkippedEmpty != r2.Recipients || r2.Recipients != 5 {
		t.Errorf("second run = %+v, want done, 5 recipients all skipped_empty", r2)
	}
	if n := sink.Count(); n != before {
		t.Errorf("second run sent %d messages, want 0", n-before)
	}

	// RFC 8058 one-click on the List-Unsubscribe URL of carol's digest: a GET
	// (a link scanner) changes nothing, the POST unsubscribes.
	if ms := got["carol@example.org"]; len(ms) == 1 {
		oneClick(t, f, "carol@example.org", ms[0])
	}
}

// digestTitles parses the numbered article lines ("1. Title") of a
// digest's text part.
func digestTitles(text string) []string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		num, title, ok := strings.Cut(line, ". ")
		if !ok || num == "" || strings.Trim(num, "0123456789") != "" {
			continue
		}
		out = append(out, strings.TrimSpace(title))
	}
	return out
}

// checkDigestOrder checks text lists exactly titles, in that order.
func checkDigestOrder(t *testing.T, rcpt, text string, titles []string) {
	t.Helper()
	if got := digestTitles(text); strings.Join(got, "|") != strings.Join(titles, "|") {
		t.Errorf("%s: digest lists %q, want %q (their topics, newest first)\n%s", rcpt, got, titles, text)
	}
}

// checkDigestHeaders checks the headers a bulk sender must carry.
func checkDigestHeaders(t *testing.T, f *flow, m mailtest.Msg) {
	t.Helper()
	to := strings.Join(m.To, ",")
	lu := m.Header("List-Unsubscribe")
	base := f.p.Env["CRIEUR_BASE_URL"]
	if !strings.HasPrefix(lu, "<"+base+"/unsubscribe/") || !strings.HasSuffix(lu, ">") {
		t.Errorf("%s: List-Unsubscribe %q, want <%s/unsubscribe/TOKEN>", to, lu, base)
	}
	if v := m.Header("List-Unsubscribe-Post"); v != "List-Unsubscribe=One-Click" {
		t.Errorf("%s: List-Unsubscribe-Post %q", to, v)
	}
	if v := m.Header("List-Id"); !strings.Contains(v, "<digest.gazette.example>") {
		t.Errorf("%s: List-Id %q", to, v)
	}
	if v := m.Header("Feedback-ID"); v == "" || strings.Contains(v, to) {
		t.Errorf("%s: Feedback-ID %q", to, v)
	}
	if v := m.Header("Message-ID"); !strings.HasPrefix(v, "<") || !strings.HasSuffix(v, "@gazette.example>") {
		t.Errorf("%s: Message-ID %q, want <…@gazette.example>", to, v)
	}
	if _, err := mail.ParseDate(m.Header("Date")); err != nil {
		t.Errorf("%s: Date %q: %v", to, m.Header("Date"), err)
	}
	ct := m.Header("Content-Type")
	if !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("%s: Content-Type %q, want multipart/alternative", to, ct)
	}
	if m.Text() == "" || m.HTML() == "" {
		t.Errorf("%s: text part %d bytes, HTML part %d bytes; want both", to, len(m.Text()), len(m.HTML()))
	}
	if n := len(m.HTML()); n >= 102*1024 {
		t.Errorf("%s: HTML part %d bytes, Gmail clips over 102 KB", to, n)
	}
	if !strings.Contains(m.Text(), base+"/preferences/") {
		t.Errorf("%s: no preference-center link in the text part", to)
	}
}

// checkDKIM verifies raw's DKIM signature against the TXT record and that
// it covers the list headers.
func checkDKIM(t *testing.T, raw []byte, txt string) {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != "s1._domainkey.gazette.example" {
				t.Errorf("DKIM lookup of %q", domain)
			}
			return []string{txt}, nil
		},
	})
	if err != nil {
		t.Fatalf("dkim verify: %v", err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d DKIM signatures, want 1", len(vs))
	}
	v := vs[0]
	if v.Err != nil {
		t.Errorf("DKIM signature does not verify: %v", v.Err)
	}
	if v.Domain != "gazette.example" {
		t.Errorf("DKIM d=%q", v.Domain)
	}
	signed := map[string]bool{}
	for _, k := range v.HeaderKeys {
		signed[strings.ToLower(k)] = true
	}
	for _, h := range []string{"from", "list-unsubscribe", "list-unsubscribe-post", "list-id", "message-id", "date"} {
		if !signed[h] {
			t.Errorf("DKIM h= %v does not cover %s", v.HeaderKeys, h)
		}
	}
}

// oneClick checks the RFC 8058 behaviour of a digest's List-Unsubscribe URL.
func oneClick(t *testing.T, f *flow, email string, m mailtest.Msg) {
	t.Helper()
	u := strings.Trim(m.Header("List-Unsubscribe"), "<>")
	// A forged token changes nothing.
	forged := u[:len(u)-3] + "AAA"
	if forged == u {
		forged = u[:len(u)-3] + "BBB"
	}
	if resp, err := e2etest.HTTPClient().Post(forged, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("one-click with an altered token: %d, want 4xx", resp.StatusCode)
		}
	}
	resp, err := e2etest.HTTPClient().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %d, want 200 (a page with a button)", u, resp.StatusCode)
	}
	if s, _ := f.subscriber(email); s.Status != "confirmed" {
		t.Fatalf("after a GET of the unsubscribe link (or a forged POST) %s is %q, want still confirmed", email, s.Status)
	}
	resp, err = e2etest.HTTPClient().Post(u, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("one-click POST: %d, want 200", resp.StatusCode)
	}
	if s, _ := f.subscriber(email); s.Status != "unsubscribed" {
		t.Errorf("after the one-click POST %s is %q, want unsubscribed", email, s.Status)
	}
}

// TestDigestAuthRefused: a mail server that refuses our credentials fails
// the run with a reason, and nothing is counted as sent.
func TestDigestAuthRefused(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t, mailtest.WithRefuseAuth())
	if !strings.Contains(sink.URL(), "@") {
		t.Fatalf("sink URL %q has no credentials", sink.URL())
	}
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "monde")
	f.importCSV("readers.csv", []string{
		"a@example.org,monde,daily,fr,confirmed",
		"b@example.org,monde,daily,en,confirmed",
	})
	f.start()
	f.article("auth-1", "Dépêche", []string{"monde"}, time.Now().Add(-time.Minute))
	r := f.waitRun(f.runDigest("daily"), 30*time.Second)
	if r.State != "failed" {
		t.Errorf("run state %q, want failed", r.State)
	}
	if r.Sent != 0 {
		t.Errorf("run counts %d sent, want 0", r.Sent)
	}
	low := strings.ToLower(r.Error)
	if !strings.Contains(low, "auth") && !strings.Contains(r.Error, "535") {
		t.Errorf("run error %q does not say the server refused authentication", r.Error)
	}
	if n := sink.Count(); n != 0 {
		t.Errorf("sink accepted %d messages", n)
	}
	t.Logf("run with refused SMTP AUTH: %+v", r)
	if n := f.countRowsLive("sent"); n != 0 {
		t.Errorf("%d deliveries marked sent", n)
	}
}

// countRowsLive counts deliveries in state while the daemon runs (SQLite
// WAL lets a second reader in).
func (f *flow) countRowsLive(state string) int {
	f.t.Helper()
	return e2etest.Count(f.t, f.env, "SELECT COUNT(*) FROM deliveries WHERE state = '"+state+"'")
}
