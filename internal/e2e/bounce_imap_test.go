package e2e_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/crieur/crieur/internal/bounce/dovecottest"
	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// TestIMAPBouncesByMessageID: without CRIEUR_BOUNCE_DOMAIN (the envelope
// sender stays the From address), a real `crieur serve` polls a real
// Dovecot mailbox (CRIEUR_BOUNCE_MAILBOX) where an Outlook NDR quoting
// only the original Message-ID of gone@'s digest lands, beside an
// out-of-office from alice and a reader's own message: gone@ ends
// bounced, alice stays confirmed, the two reports are moved to
// crieur-processed and the reader's message stays in INBOX, unread.
func TestIMAPBouncesByMessageID(t *testing.T) {
	e2etest.Parallel(t)
	box := dovecottest.Start(t)
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL(), "CRIEUR_BOUNCE_MAILBOX": box.URL(box.Pass)}, "monde")
	f.importCSV("readers.csv", []string{"alice@example.org,monde,daily,fr,confirmed", "gone@contoso.example,monde,daily,fr,confirmed"})
	f.start()
	f.article("imap1", "Un article", []string{"monde"}, time.Now().Add(-time.Hour))
	if r := f.waitRun(f.runDigest("daily"), 60*time.Second); r.State != "done" || r.Sent != 2 {
		t.Fatalf("run = %+v, want 2 sent", r)
	}
	msgs := byRcpt(sink.Messages())
	if len(msgs["gone@contoso.example"]) != 1 || len(msgs["alice@example.org"]) != 1 {
		t.Fatalf("sink got %v", msgs)
	}
	for _, m := range sink.Messages() {
		if m.From != "newsletter@gazette.example" {
			t.Errorf("envelope sender %q without a bounce domain, want the From address", m.From)
		}
	}
	goneID := strings.Trim(msgs["gone@contoso.example"][0].Header("Message-ID"), "<> ")
	aliceID := strings.Trim(msgs["alice@example.org"][0].Header("Message-ID"), "<> ")
	fixture := func(name, msgid string) []byte {
		raw, err := os.ReadFile(filepath.Join("..", "bounce", "testdata", "reports", name))
		if err != nil {
			t.Fatal(err)
		}
		raw = bytes.ReplaceAll(raw, []byte("@@VERP@@"), []byte("newsletter@gazette.example"))
		return bytes.ReplaceAll(raw, []byte("@@MSGID@@"), []byte(msgid))
	}

	c, err := client.Dial(box.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout()
	if err := c.Login(box.User, box.Pass); err != nil {
		t.Fatal(err)
	}
	person := "From: Paul <paul@example.org>\r\nTo: newsletter@gazette.example\r\nSubject: Une question\r\n\r\nBonjour ?\r\n"
	for _, raw := range [][]byte{fixture("outlook-recipient-not-found.eml", goneID), []byte(person), fixture("ooo-english.eml", aliceID)} {
		if err := c.Append("INBOX", nil, time.Now(), bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
	}
	e2etest.WaitFor(t, 30*time.Second, "the NDR to make gone@ bounced", func() bool {
		s, _ := f.subscriber("gone@contoso.example")
		return s.Status == "bounced"
	})
	e2etest.WaitFor(t, 30*time.Second, "both reports moved", func() bool {
		st, err := c.Status("crieur-processed", []imap.StatusItem{imap.StatusMessages})
		return err == nil && st.Messages == 2
	})
	if s, _ := f.subscriber("alice@example.org"); s.Status != "confirmed" {
		t.Errorf("alice after her out-of-office: %q, want confirmed", s.Status)
	}
	mb, err := c.Select("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	if mb.Messages != 1 {
		t.Fatalf("INBOX holds %d messages, want the reader's one", mb.Messages)
	}
	set := new(imap.SeqSet)
	set.AddNum(1)
	ch := make(chan *imap.Message, 1)
	if err := c.Fetch(set, []imap.FetchItem{imap.FetchEnvelope, imap.FetchFlags}, ch); err != nil {
		t.Fatal(err)
	}
	m := <-ch
	if m.Envelope.Subject != "Une question" || slices.Contains(m.Flags, imap.SeenFlag) {
		t.Errorf("left in INBOX: %q %v, want the reader's message, unread", m.Envelope.Subject, m.Flags)
	}
	if n := bounceMetric(t, f.p, "imap", "applied"); n != 1 {
		t.Errorf("imap applied = %v, want 1", n)
	}
	// The poller stops with the daemon.
	if err, took := f.p.Term(10 * time.Second); err != nil || took > 10*time.Second {
		t.Errorf("SIGTERM: %v after %s, want exit 0 within 10 s", err, took)
	}
}
