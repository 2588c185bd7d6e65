package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// rawResp is an HTTP answer read whole.
type rawResp struct {
	status int
	header http.Header
	body   []byte
}

// errCode is the contract's error code in an answer ("" when none).
func (r rawResp) errCode() string {
	var e struct {
		Error struct{ Code, Message, Field string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// rawDo makes one request with a raw body and content type.
func rawDo(t *testing.T, method, u, ctype string, body []byte) rawResp {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := e2etest.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// subscribeJSON posts a subscription request as JSON.
func subscribeJSON(t *testing.T, p *e2etest.Proc, body any) rawResp {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return rawDo(t, "POST", p.URL+"/api/v1/subscriptions", "application/json", b)
}

// partCharsets returns the charset of each text part of raw.
func partCharsets(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	// Scan the part headers: enough for a flat multipart/alternative.
	for part := range strings.SplitSeq(string(raw), "--"+params["boundary"]) {
		head, _, _ := strings.Cut(part, "\r\n\r\n")
		for line := range strings.SplitSeq(head, "\r\n") {
			if v, ok := strings.CutPrefix(strings.ToLower(line), "content-type:"); ok {
				mt, ps, err := mime.ParseMediaType(strings.TrimSpace(v))
				if err == nil {
					out[mt] = ps["charset"]
				}
			}
		}
	}
	return out
}

// TestReaderFlow walks a reader's life through the public routes of a real
// daemon: double opt-in in French and English, the answers that must not
// leak, rate limits, bad input, erasure, CSV import, the operator routes,
// what the log must not hold, and a clean SIGTERM.
func TestReaderFlow(t *testing.T) {
	e2etest.Parallel(t)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL()}, "afrique", "economie")
	p := f.start()

	// Double opt-in, in each language.
	confirm := map[string]mailtest.Msg{}
	for _, c := range []struct{ email, lang, subject string }{
		{"amina@example.org", "fr", "Confirmez votre inscription"},
		{"john@example.org", "en", "Confirm your subscription"},
	} {
		r := subscribeJSON(t, p, map[string]any{"email": c.email, "topics": []string{"afrique"}, "frequency": "daily", "lang": c.lang})
		if r.status != 202 || !strings.Contains(string(r.body), `"pending"`) {
			t.Fatalf("subscribe %s: %d %s", c.email, r.status, r.body)
		}
		var m mailtest.Msg
		e2etest.WaitFor(t, 10*time.Second, "confirmation to "+c.email, func() bool {
			ms := byRcpt(sink.Messages())[c.email]
			if len(ms) > 0 {
				m = ms[0]
			}
			return len(ms) > 0
		})
		confirm[c.email] = m
		if s := m.Header("Subject"); !strings.Contains(s, c.subject) {
			t.Errorf("%s: Subject %q, want it to contain %q (%s)", c.email, s, c.subject, c.lang)
		}
		if _, err := mail.ParseDate(m.Header("Date")); err != nil {
			t.Errorf("%s: Date %q: %v", c.email, m.Header("Date"), err)
		}
		if id := m.Header("Message-ID"); !strings.HasPrefix(id, "<") || !strings.Contains(id, "@") {
			t.Errorf("%s: Message-ID %q", c.email, id)
		}
		if ct := m.Header("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
			t.Errorf("%s: Content-Type %q", c.email, ct)
		}
		cs := partCharsets(t, m.Raw)
		if !strings.EqualFold(cs["text/plain"], "utf-8") || !strings.EqualFold(cs["text/html"], "utf-8") {
			t.Errorf("%s: part charsets %v, want text/plain and text/html in UTF-8", c.email, cs)
		}
		link := confirmURL.FindString(m.Text())
		if link == "" {
			t.Fatalf("%s: no confirm link in the text part:\n%s", c.email, m.Text())
		}
		if !strings.Contains(m.HTML(), link) {
			t.Errorf("%s: the HTML part lacks the text part's confirm link", c.email)
		}
		// A forged token changes nothing.
		if r := rawDo(t, "POST", link[:len(link)-4]+"AAAA", "", nil); r.status < 400 || r.status >= 500 {
			t.Errorf("POST an altered confirm link: %d, want 4xx", r.status)
		}
		if s, _ := f.subscriber(c.email); s.Status != "pending" {
			t.Errorf("%s is %q before confirming, want pending", c.email, s.Status)
		}
		// The link's page confirms through a POST (its script sends it).
		if r := rawDo(t, "POST", link, "", nil); r.status != 200 {
			t.Errorf("POST confirm link: %d", r.status)
		}
		if s, st := f.subscriber(c.email); st != 200 || s.Status != "confirmed" || s.ConfirmedAt == nil || s.Lang != c.lang {
			t.Errorf("after confirming, GET subscriber: %d %+v", st, s)
		}
	}

	// The same answer for an unknown, a pending and a confirmed address.
	sub := func(email string) rawResp {
		return subscribeJSON(t, p, map[string]any{"email": email, "topics": []string{"economie"}, "frequency": "weekly", "lang": "fr"})
	}
	unknown := sub("nouveau@example.org")
	pending := sub("nouveau@example.org")
	confirmed := sub("amina@example.org")
	for name, r := range map[string]rawResp{"pending": pending, "confirmed": confirmed} {
		if r.status != unknown.status || !bytes.Equal(r.body, unknown.body) {
			t.Errorf("%s address: %d %s; unknown address: %d %s — must be the same", name, r.status, r.body, unknown.status, unknown.body)
		}
	}
	if unknown.status != 202 {
		t.Errorf("subscribe: %d, want 202", unknown.status)
	}

	// Hammering one address: 429 with Retry-After, at most 3 emails.
	var limited rawResp
	for range 4 {
		if r := sub("cible@example.org"); r.status == 429 {
			limited = r
			break
		}
	}
	if limited.status != 429 || limited.header.Get("Retry-After") == "" {
		t.Errorf("repeated requests for one address: last %d Retry-After %q, want 429 with Retry-After", limited.status, limited.header.Get("Retry-After"))
	}

	// Bad input.
	base := p.URL + "/api/v1/subscriptions"
	if r := subscribeJSON(t, p, map[string]any{"email": "x@example.org", "topics": []string{"inconnu"}, "frequency": "daily", "lang": "fr"}); r.status != 400 || r.errCode() != "unknown_topic" {
		t.Errorf("unknown topic: %d %s, want 400 unknown_topic", r.status, r.body)
	}
	if r := rawDo(t, "POST", base, "application/json", []byte(`{"email": 42, "topics": ["afrique"]}`)); r.status != 400 || !strings.Contains(string(r.body), "email") {
		t.Errorf("malformed JSON: %d %s, want 400 naming email", r.status, r.body)
	}
	big := append([]byte(`{"email": "big@example.org", "topics": ["afrique"], "x": "`), bytes.Repeat([]byte("a"), 1<<20+10)...)
	big = append(big, `"}`...)
	if r := rawDo(t, "POST", base, "application/json", big); r.status != 413 {
		t.Errorf("body over 1 MiB: %d, want 413", r.status)
	}
	if r := rawDo(t, "POST", base, "text/plain", []byte(`{"email":"t@example.org"}`)); r.status != 415 {
		t.Errorf("text/plain body: %d, want 415", r.status)
	}
	if r := subscribeJSON(t, p, map[string]any{"email": "a@b.c\r\nBcc: x@y.z", "topics": []string{"afrique"}, "frequency": "daily", "lang": "fr"}); r.status != 400 {
		t.Errorf("header injection in email: %d %s, want 400", r.status, r.body)
	}

	// Erasure, then a re-import of the address is refused as suppressed;
	// bad CSV rows are reported by line.
	if st := f.do("DELETE", "/api/v1/subscribers/"+url.PathEscape("john@example.org"), nil, nil); st != 204 {
		t.Errorf("DELETE subscriber: %d, want 204", st)
	}
	if _, st := f.subscriber("john@example.org"); st != 404 {
		t.Errorf("GET erased subscriber: %d, want 404", st)
	}
	rep := f.importCSV("import.csv", []string{
		"john@example.org,afrique,daily,en,confirmed", // line 2: erased → suppressed
		"pas-une-adresse,afrique,daily,fr,confirmed",  // line 3
		"ok1@example.org,afrique,daily,fr,confirmed",  // line 4
		"ok2@example.org,inconnu,daily,fr,confirmed",  // line 5
		"ok3@example.org,afrique;economie,weekly,en,confirmed",
		"ok4@example.org,afrique,hourly,fr,confirmed", // line 7
	})
	for _, want := range []string{"imported 2 ", "suppressed 1", "rejected 3", "line 3:", "line 5:", "line 7:"} {
		if !strings.Contains(rep, want) {
			t.Errorf("import report lacks %q:\n%s", want, rep)
		}
	}
	if s, st := f.subscriber("ok3@example.org"); st != 200 || s.Status != "confirmed" || len(s.Topics) != 2 {
		t.Errorf("imported ok3: %d %+v", st, s)
	}
	if _, st := f.subscriber("john@example.org"); st != 404 {
		t.Errorf("the erased address came back through the import: %d", st)
	}

	// Operator routes.
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := rawDo(t, "GET", p.URL+path, "", nil); r.status != 200 {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}
	metrics := rawDo(t, "GET", p.URL+"/metrics", "", nil)
	for _, name := range []string{"crieur_emails_sent_total", "crieur_subscribers"} {
		if !strings.Contains(string(metrics.body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// Exactly one confirmation each for the first readers; at most three
	// for the hammered address; nothing to the injected Bcc.
	time.Sleep(300 * time.Millisecond) // let a wrongly queued extra email show up
	got := byRcpt(sink.Messages())
	for _, email := range []string{"amina@example.org", "john@example.org", "nouveau@example.org"} {
		n := len(got[email])
		if email == "nouveau@example.org" {
			// unknown then pending: a second confirmation is allowed, not more.
			if n < 1 || n > 2 {
				t.Errorf("%s got %d confirmations", email, n)
			}
			continue
		}
		if n != 1 {
			t.Errorf("%s got %d emails, want exactly 1 confirmation", email, n)
		}
	}
	if n := len(got["cible@example.org"]); n < 1 || n > 3 {
		t.Errorf("hammered address got %d confirmations, want 1 to 3", n)
	}
	for _, bad := range []string{"x@y.z", "a@b.c", "big@example.org", "t@example.org"} {
		if len(got[bad]) != 0 {
			t.Errorf("%s got %d emails", bad, len(got[bad]))
		}
	}
	for _, m := range sink.Messages() {
		if bytes.Contains(bytes.ToLower(m.Raw), []byte("bcc: x@y.z")) {
			t.Errorf("a message carries the injected Bcc header")
		}
	}

	// SIGTERM when idle: exit 0 within 10 s.
	err, took := p.Term(10 * time.Second)
	if err != nil || took > 10*time.Second {
		t.Errorf("SIGTERM when idle: %v after %v, want exit 0 within 10 s", err, took)
	}

	// The log holds no API token and no link token.
	logs := p.Logs()
	secrets := []string{f.token}
	for _, m := range confirm {
		link := confirmURL.FindString(m.Text())
		secrets = append(secrets, link[strings.LastIndex(link, "/")+1:])
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the daemon's log contains a secret token %q…", s[:8])
		}
	}
	if !strings.Contains(logs, "crieur serving") {
		t.Errorf("the log looks empty:\n%s", e2etest.Tail(logs, 2000))
	}
}
