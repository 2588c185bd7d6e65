package mail_test

import (
	"bytes"
	"errors"
	"mime"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"

	crieurmail "github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

func TestMessageBytesHeaders(t *testing.T) {
	t.Parallel()
	m := digest("Lecteur@Example.ORG")
	raw := mustBytes(t, m)
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Fatal("message has a bare LF")
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	h := parsed.Header
	want := map[string]string{
		"From":                     "Le Journal <newsletter@news.example.com>",
		"To":                       "Lecteur@example.org",
		"Date":                     "Thu, 05 Jun 2025 07:00:00 +0200",
		"MIME-Version":             "1.0",
		"List-Id":                  "Le Journal <digest.news.example.com>",
		"List-Unsubscribe":         "<" + m.ListUnsubscribe + ">",
		"List-Unsubscribe-Post":    "List-Unsubscribe=One-Click",
		"Feedback-ID":              "daily-20250605:digest:lejournal:crieur",
		"Precedence":               "bulk",
		"Auto-Submitted":           "auto-generated",
		"X-Auto-Response-Suppress": "All",
	}
	for k, v := range want {
		if got := h[textproto.CanonicalMIMEHeaderKey(k)]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want exactly [%q]", k, got, v)
		}
	}
	id := h.Get("Message-ID")
	if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@news.example.com>") || len(id) < 30 {
		t.Errorf("Message-ID = %q, want <random@news.example.com>", id)
	}
	if other := mustBytes(t, m); bytes.Contains(other, []byte(id)) {
		t.Error("two messages share a Message-ID")
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" || params["boundary"] == "" {
		t.Fatalf("Content-Type = %q (%v)", h.Get("Content-Type"), err)
	}
	// text/plain first, then text/html, both UTF-8 quoted-printable.
	body := string(raw)
	ti, hi := strings.Index(body, "Content-Type: text/plain; charset=UTF-8"), strings.Index(body, "Content-Type: text/html; charset=UTF-8")
	if ti < 0 || hi < 0 || ti > hi {
		t.Errorf("parts out of order or missing: text at %d, html at %d", ti, hi)
	}
	if strings.Count(body, "Content-Transfer-Encoding: quoted-printable") != 2 {
		t.Error("want two quoted-printable parts")
	}
	msg := mailtest.Msg{Raw: raw}
	if msg.Text() != m.Text {
		t.Errorf("text part does not round-trip:\n%q\n%q", msg.Text(), m.Text)
	}
	if msg.HTML() != m.HTML {
		t.Errorf("html part does not round-trip")
	}
	for i, line := range strings.Split(body, "\r\n") {
		if len(line) > 78 && !strings.HasPrefix(line, "List-Unsubscribe: ") {
			t.Errorf("line %d longer than 78: %q", i, line)
		}
	}
}

func TestSubjectRFC2047(t *testing.T) {
	t.Parallel()
	for _, subject := range []string{
		"Économie : le point du matin",
		"Plain ASCII subject",
		"Looks like =?UTF-8?q?an_encoded_word?= but is not",
		strings.TrimSpace(strings.Repeat("Très long sujet avec des accents, ", 12)),
		strings.TrimSpace(strings.Repeat("A long ASCII subject that must be folded ", 10)),
	} {
		m := digest("a@example.org")
		m.Subject = subject
		raw := mustBytes(t, m)
		head := string(raw[:bytes.Index(raw, []byte("\r\n\r\n"))])
		for _, line := range strings.Split(head, "\r\n") {
			if len(line) > 78 && !strings.HasPrefix(line, "List-Unsubscribe: ") {
				t.Errorf("%q: header line of %d characters: %q", subject, len(line), line)
			}
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		enc := parsed.Header.Get("Subject")
		if !isASCII(enc) {
			t.Errorf("raw Subject is not ASCII: %q", enc)
		}
		got, err := new(mime.WordDecoder).DecodeHeader(enc)
		if err != nil || got != subject {
			t.Errorf("Subject decodes to %q (%v), want %q", got, err, subject)
		}
		if subject == "Économie : le point du matin" && !strings.HasPrefix(enc, "=?UTF-8?q?") {
			t.Errorf("Subject not RFC 2047 Q-encoded: %q", enc)
		}
	}
}

func TestListIDEncodesOnlyName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Le Journal <digest.news.example.com>":      "Le Journal <digest.news.example.com>",
		"L'Écho du matin <digest.news.example.com>": "=?UTF-8?q?L=27=C3=89cho_du_matin?= <digest.news.example.com>",
		"Écho Matin <digest.news.example.com>":      "=?UTF-8?q?=C3=89cho_Matin?= <digest.news.example.com>",
		"Le Journal, édition <digest.example.com>":  "=?UTF-8?q?Le_Journal=2C_=C3=A9dition?= <digest.example.com>",
		"Le Journal (matin) <digest.example.com>":   `"Le Journal (matin)" <digest.example.com>`,
		"<digest.news.example.com>":                 "<digest.news.example.com>",
		"digest.news.example.com":                   "<digest.news.example.com>",
	} {
		m := digest("a@example.org")
		m.ListID = in
		parsed, err := mail.ReadMessage(bytes.NewReader(mustBytes(t, m)))
		if err != nil {
			t.Fatal(err)
		}
		if got := parsed.Header.Get("List-Id"); got != want {
			t.Errorf("List-Id for %q = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"Name <no-dot>", "Name <a..b>", "Name <a b.c>", "Name <a.b"} {
		m := digest("a@example.org")
		m.ListID = bad
		if _, err := m.Bytes(); !errors.Is(err, crieurmail.ErrInvalidHeader) {
			t.Errorf("ListID %q: err = %v, want ErrInvalidHeader", bad, err)
		}
	}
}

func TestFromDisplayName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Newsletter <newsletter@localhost>":        "Newsletter <newsletter@localhost>",
		"newsletter@News.Example.com":              "newsletter@news.example.com",
		"Le Journal <newsletter@news.example.com>": "Le Journal <newsletter@news.example.com>",
		"Élodie du Journal <e@news.example.com>":   "=?UTF-8?q?=C3=89lodie_du_Journal?= <e@news.example.com>",
		`"Journal, Le" <n@news.example.com>`:       `"Journal, Le" <n@news.example.com>`,
	} {
		m := digest("a@example.org")
		m.From = in
		parsed, err := mail.ReadMessage(bytes.NewReader(mustBytes(t, m)))
		if err != nil {
			t.Fatal(err)
		}
		if got := parsed.Header.Get("From"); got != want {
			t.Errorf("From for %q = %q, want %q", in, got, want)
		}
		if _, err := parsed.Header.AddressList("From"); err != nil {
			t.Errorf("From %q does not parse back: %v", in, err)
		}
	}
}

func TestHeaderInjectionRejected(t *testing.T) {
	t.Parallel()
	evil := []string{"\r\nBcc: victim@example.org", "\nX: y", "\r", "\x00", "\x1b[31m", "\u0085", "\u2028", "\x7f"}
	fields := map[string]func(*crieurmail.Message, string){
		"Subject":         func(m *crieurmail.Message, v string) { m.Subject += v },
		"To":              func(m *crieurmail.Message, v string) { m.To += v },
		"From":            func(m *crieurmail.Message, v string) { m.From = "Le Journal" + v + " <n@news.example.com>" },
		"ListID":          func(m *crieurmail.Message, v string) { m.ListID = "Le Journal" + v + " <d.example.com>" },
		"FeedbackID":      func(m *crieurmail.Message, v string) { m.FeedbackID += v },
		"ListUnsubscribe": func(m *crieurmail.Message, v string) { m.ListUnsubscribe += v },
		"MessageID":       func(m *crieurmail.Message, v string) { m.MessageID = "<a" + v + "@b>" },
	}
	for name, set := range fields {
		for _, v := range evil {
			m := digest("a@example.org")
			set(&m, v)
			_, err := m.Bytes()
			if !errors.Is(err, crieurmail.ErrHeaderInjection) {
				t.Errorf("%s with %q: err = %v, want ErrHeaderInjection", name, v, err)
			}
		}
	}
	// Bodies may hold anything: quoted-printable carries it safely.
	m := digest("a@example.org")
	m.Text += "\r\nBcc: x@example.org\x00"
	if _, err := m.Bytes(); err != nil {
		t.Errorf("control characters in the body: %v", err)
	}
}

func TestMessageRequiredFields(t *testing.T) {
	t.Parallel()
	for name, mod := range map[string]func(*crieurmail.Message){
		"no text":    func(m *crieurmail.Message) { m.Text = "" },
		"no html":    func(m *crieurmail.Message) { m.HTML = "" },
		"no subject": func(m *crieurmail.Message) { m.Subject = " " },
		"no from":    func(m *crieurmail.Message) { m.From = "" },
	} {
		m := digest("a@example.org")
		mod(&m)
		if _, err := m.Bytes(); !errors.Is(err, crieurmail.ErrIncomplete) {
			t.Errorf("%s: err = %v, want ErrIncomplete", name, err)
		}
	}
	for _, u := range []string{"mailto:u@example.org", "/relative", "https://x.example/a b", "https://x.example/<a>", "ftp://x.example/"} {
		m := digest("a@example.org")
		m.ListUnsubscribe = u
		if _, err := m.Bytes(); !errors.Is(err, crieurmail.ErrInvalidHeader) {
			t.Errorf("ListUnsubscribe %q: err = %v, want ErrInvalidHeader", u, err)
		}
	}
	m := digest("a@example.org")
	m.ListUnsubscribe, m.ListID, m.FeedbackID, m.Bulk = "", "", "", false
	raw := mustBytes(t, m)
	for _, h := range []string{"List-Unsubscribe", "List-Id", "Feedback-ID", "Precedence"} {
		if bytes.Contains(raw, []byte("\r\n"+h+":")) {
			t.Errorf("%s present although not asked for", h)
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
