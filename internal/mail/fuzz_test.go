package mail_test

import (
	"bytes"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	crieurmail "github.com/crieur/crieur/internal/mail"
)

func FuzzValidateAddress(f *testing.F) {
	for _, s := range []string{"reader@example.org", " A@B.C ", "a@b", "a\r\n@b.c", "\"x\"@y.z", "<a@b.c>", "a@b..c", "é@x.fr", "a@b.c\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := crieurmail.ValidateAddress(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "\r\n\x00") || len(got) > 254 {
			t.Fatalf("accepted %q as %q", s, got)
		}
		again, err := crieurmail.ValidateAddress(got)
		if err != nil || again != got {
			t.Fatalf("re-validating %q: %q, %v", got, again, err)
		}
		if a, err := mail.ParseAddress(got); err != nil || a.Address != got {
			t.Fatalf("net/mail disagrees on %q: %v", got, err)
		}
	})
}

func FuzzMessageBytes(f *testing.F) {
	f.Add("Le Journal <n@news.example.com>", "r@example.org", "Économie : le point", "https://news.example.com/u/t", "Le Journal <d.news.example.com>", "c:l:b:s")
	f.Add("n@localhost", "r@example.org", "a\r\nBcc: x@y.z", "", "", "")
	f.Add("\"Q, R\" <n@x.y>", "r@example.org", "=?UTF-8?q?x?=", "http://x.y/<", "É <a.b>", "a b")
	f.Fuzz(func(t *testing.T, from, to, subject, unsub, listID, feedback string) {
		m := crieurmail.Message{
			From: from, To: to, Subject: subject, ListUnsubscribe: unsub, ListID: listID, FeedbackID: feedback,
			Text: "texte", HTML: "<p>texte</p>", Bulk: true, Date: time.Unix(1_750_000_000, 0),
		}
		raw, err := m.Bytes()
		if err != nil {
			return
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("net/mail cannot parse: %v\n%q", err, raw)
		}
		want := []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Precedence", "Auto-Submitted", "X-Auto-Response-Suppress"}
		if unsub != "" {
			want = append(want, "List-Unsubscribe", "List-Unsubscribe-Post")
		}
		if listID != "" {
			want = append(want, "List-Id")
		}
		if feedback != "" {
			want = append(want, "Feedback-ID")
		}
		if len(msg.Header) != len(want) {
			t.Fatalf("headers %v, want exactly %v", msg.Header, want)
		}
		for _, k := range want {
			if n := len(msg.Header[textproto.CanonicalMIMEHeaderKey(k)]); n != 1 {
				t.Fatalf("%d %s headers in %q", n, k, raw)
			}
		}
		if _, err := msg.Header.AddressList("From"); err != nil {
			t.Fatalf("From %q does not parse back: %v", msg.Header.Get("From"), err)
		}
		if _, err := msg.Header.AddressList("To"); err != nil {
			t.Fatalf("To %q does not parse back: %v", msg.Header.Get("To"), err)
		}
	})
}
