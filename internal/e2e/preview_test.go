package e2e_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// desk is a browser logged in to a daemon's admin desk.
type desk struct {
	t *testing.T
	p *e2etest.Proc
	c *http.Client
}

var deskCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login makes an admin-UI user with the CLI and logs them in as a
// browser does: the login form, its CSRF token and cookies.
func login(t *testing.T, p *e2etest.Proc, email, role string) *desk {
	t.Helper()
	e2etest.CLI(t, p.Env, "correct horse battery\n", "user", "add", "--email", email, "--role", role)
	jar, _ := cookiejar.New(nil)
	d := &desk{t: t, p: p, c: &http.Client{Jar: jar, Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}}
	_, page := d.get("/admin/login")
	resp, body := d.post(page, "/admin/login", url.Values{"email": {email}, "password": {"correct horse battery"}})
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/admin" {
		t.Fatalf("login %s: %d at %s\n%.500s", email, resp.StatusCode, resp.Request.URL, body)
	}
	return d
}

func (d *desk) get(path string) (*http.Response, string) {
	d.t.Helper()
	resp, err := d.c.Get(d.p.URL + path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// post submits form with the CSRF token found on page.
func (d *desk) post(page, path string, form url.Values) (*http.Response, string) {
	d.t.Helper()
	m := deskCSRF.FindStringSubmatch(page)
	if m == nil {
		d.t.Fatalf("no CSRF token on the page:\n%.800s", page)
	}
	form.Set("csrf", m[1])
	resp, err := d.c.PostForm(d.p.URL+path, form)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// readerLinks finds links that act on a reader: their signed preference
// and unsubscribe links.
var readerLinks = regexp.MustCompile(`/(preferences|unsubscribe|confirm)/[A-Za-z0-9_.~-]+`)

// A digest preview, on screen or mailed, carries no link that acts on a
// reader and no List-Unsubscribe; previewing a given reader is for admins
// and audited; and the editor's mailbox refusing the preview leaves the
// reader it showed subscribed.
func TestDigestPreviewIsInertAndNeverTouchesTheReader(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t, mailtest.WithRcptHook(func(rcpt string, _ int) *smtp.SMTPError {
		if strings.HasPrefix(rcpt, "parti") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}))
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "afrique")
	const reader = "lectrice@example.org"
	f.importCSV("readers.csv", []string{reader + ",afrique,daily,en,confirmed"})
	p := f.start()
	art := map[string]any{"url": "https://journal.example/dakar", "title": "Élections au Sénégal", "summary": "", "topics": []string{"afrique"},
		"published_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}
	if st := f.do("POST", "/api/v1/articles", art, nil); st != 201 {
		t.Fatalf("POST article: %d", st)
	}
	byReader := "/admin/digests/preview?email=" + url.QueryEscape(reader)

	// An editor previews sample readers only.
	ed := login(t, p, "redaction@journal.example", "editor")
	if resp, body := ed.get("/admin/digests"); resp.StatusCode != 200 || strings.Contains(body, `name="email"`) {
		t.Errorf("the editor's digests page offers a preview by address: %d", resp.StatusCode)
	}
	for _, path := range []string{byReader, "/admin/digests/preview/html?email=" + url.QueryEscape(reader)} {
		if resp, body := ed.get(path); resp.StatusCode != 403 || strings.Contains(body, "Élections") {
			t.Errorf("editor GET %s: %d, want 403 and no digest", path, resp.StatusCode)
		}
	}
	_, page := ed.get("/admin/digests/preview?topics=afrique&lang=en&frequency=daily")
	if !strings.Contains(page, "Élections au Sénégal") {
		t.Fatalf("the editor's sample preview:\n%.2000s", page)
	}
	if resp, _ := ed.post(page, "/admin/digests/preview/send", url.Values{"email": {reader}}); resp.StatusCode != 403 {
		t.Errorf("editor sends a reader's preview: %d, want 403", resp.StatusCode)
	}

	// An admin previews the reader: inert links on screen.
	adm := login(t, p, "parti@journal.example", "admin")
	resp, page := adm.get(byReader)
	if resp.StatusCode != 200 || !strings.Contains(page, "Élections au Sénégal") {
		t.Fatalf("admin preview of a reader: %d\n%.2000s", resp.StatusCode, page)
	}
	m := regexp.MustCompile(`<iframe[^>]* src="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no preview frame:\n%.2000s", page)
	}
	_, frame := adm.get(strings.TrimPrefix(html.UnescapeString(m[1]), p.URL))
	for what, s := range map[string]string{"page": page, "frame": frame} {
		if l := readerLinks.FindString(s); l != "" {
			t.Errorf("the preview %s carries a reader's link %s", what, l)
		}
	}
	if !strings.Contains(frame, "/digest-preview") {
		t.Errorf("the preview frame has no inert link to the preview notice:\n%.3000s", frame)
	}
	if resp, body := adm.get("/digest-preview"); resp.StatusCode != 200 || !strings.Contains(body, "aperçu du digest") {
		t.Errorf("the preview notice: %d\n%.500s", resp.StatusCode, body)
	}

	// Sent to an admin whose mailbox refuses it (550 5.1.1): the reader
	// stays subscribed.
	if resp, _ := adm.post(page, "/admin/digests/preview/send", url.Values{"email": {reader}}); resp.StatusCode != 200 {
		t.Fatalf("send preview: %d", resp.StatusCode)
	}
	e2etest.WaitFor(t, 15*time.Second, "the refused preview", func() bool {
		return e2etest.Count(t, f.env, "SELECT COUNT(*) FROM deliveries WHERE kind = 'preview' AND state = 'failed'") == 1
	})
	if s, st := f.subscriber(reader); st != 200 || s.Status != "confirmed" {
		t.Errorf("after the editor's mailbox refused the preview, the reader is %d %q, want confirmed", st, s.Status)
	}

	// Sent to an admin who gets it: no List-Unsubscribe, no reader link.
	adm2 := login(t, p, "chef@journal.example", "admin")
	_, page = adm2.get(byReader)
	if resp, _ := adm2.post(page, "/admin/digests/preview/send", url.Values{"email": {reader}}); resp.StatusCode != 200 {
		t.Fatalf("send preview: %d", resp.StatusCode)
	}
	var got mailtest.Msg
	e2etest.WaitFor(t, 15*time.Second, "the preview in the admin's mailbox", func() bool {
		ms := byRcpt(sink.Messages())["chef@journal.example"]
		if len(ms) > 0 {
			got = ms[0]
		}
		return len(ms) > 0
	})
	if h := got.Header("List-Unsubscribe"); h != "" {
		t.Errorf("the mailed preview has List-Unsubscribe: %s", h)
	}
	if h := got.Header("List-Unsubscribe-Post"); h != "" {
		t.Errorf("the mailed preview has List-Unsubscribe-Post: %s", h)
	}
	for what, s := range map[string]string{"text": got.Text(), "html": got.HTML()} {
		if !strings.Contains(s, "Élections au Sénégal") {
			t.Errorf("the mailed preview's %s part lacks the reader's article", what)
		}
		if l := readerLinks.FindString(s); l != "" {
			t.Errorf("the mailed preview's %s part carries a reader's link %s", what, l)
		}
	}
	if len(byRcpt(sink.Messages())[reader]) != 0 {
		t.Error("the reader got mail from a preview")
	}
	if s, _ := f.subscriber(reader); s.Status != "confirmed" {
		t.Errorf("reader %q after the previews, want confirmed", s.Status)
	}

	// Each look at the reader is audited, by id.
	ids := e2etest.Column(t, f.env, "SELECT CAST(id AS TEXT) FROM subscribers WHERE email = '"+reader+"'")
	rows := e2etest.Column(t, f.env, "SELECT actor || ' ' || action || ' ' || target FROM audit_log WHERE action LIKE 'subscriber.preview%'")
	want := map[string]bool{"user:parti@journal.example subscriber.preview " + ids[0]: false,
		"user:parti@journal.example subscriber.preview_send " + ids[0]: false, "user:chef@journal.example subscriber.preview_send " + ids[0]: false}
	for _, r := range rows {
		if _, ok := want[r]; ok {
			want[r] = true
		}
		if strings.Contains(r, "redaction@") {
			t.Errorf("an editor's refused preview was recorded as a look at the reader: %s", r)
		}
	}
	for r, seen := range want {
		if !seen {
			t.Errorf("audit log lacks %q; it holds:\n%s", r, strings.Join(rows, "\n"))
		}
	}
	// Plain or URL-encoded ("email=lectrice%40example.org").
	for _, r := range e2etest.Column(t, f.env, "SELECT target || ' ' || detail FROM audit_log") {
		if strings.Contains(r, "lectrice") {
			t.Errorf("the audit log holds the reader's address: %s", r)
		}
	}
}
