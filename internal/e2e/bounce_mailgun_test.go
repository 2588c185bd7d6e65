package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/bounce/provider/providertest"
	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// TestMailgunSignatureNamesNoReader: Mailgun signs a webhook's timestamp
// and token, not its body, with one key per account, so every endpoint
// of the account (an analytics service taking "opened" events) holds
// signatures crieur would accept. One such signature, fresh and never
// seen by crieur, sent with a "failed" event naming a reader, changes
// nothing: a Mailgun event acts only through the Message-ID crieur
// signed into the email. Mailgun's real report of a reader's digest,
// which quotes that Message-ID, still makes them bounced. Before, the
// forged event bounced whoever it named.
func TestMailgunSignatureNamesNoReader(t *testing.T) {
	e2etest.Parallel(t)
	const mgKey = "key-e2e-mailgun-account"
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL(), "CRIEUR_BOUNCE_MAILGUN_KEY": mgKey}, "monde")
	f.importCSV("readers.csv", []string{"victim@example.org,monde,daily,fr,confirmed", "gone@example.org,monde,daily,fr,confirmed"})
	p := f.start()
	f.article("mg1", "Un article", []string{"monde"}, time.Now().Add(-time.Hour))
	if r := f.waitRun(f.runDigest("daily"), 60*time.Second); r.State != "done" || r.Sent != 2 {
		t.Fatalf("run = %+v, want 2 sent", r)
	}
	msgs := byRcpt(sink.Messages())
	if len(msgs["gone@example.org"]) != 1 {
		t.Fatalf("sink got %v", msgs)
	}
	goneID := strings.Trim(msgs["gone@example.org"][0].Header("Message-ID"), "<> ")
	now := time.Now()
	failed := func(rcpt, msgid string) []byte {
		return []byte(fmt.Sprintf(`{"event":"failed","severity":"permanent","recipient":%q,"timestamp":%d,`+
			`"delivery-status":{"code":550,"message":"5.1.1 no such user"},"message":{"headers":{"message-id":%q}}}`, rcpt, now.Unix(), msgid))
	}
	// The account's signature over a timestamp and token, as another
	// endpoint received it, with an event of the attacker's: no
	// Message-ID, one made up, one of crieur's shape with a forged tag.
	for _, id := range []string{"", "20261207.1234@mg.example.org", "aaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbb@gazette.example"} {
		if st := postHook(t, p, "mailgun", nil, providertest.Mailgun(t, mgKey, failed("victim@example.org", id), now)); st != 200 && st != 401 {
			t.Fatalf("forged mailgun call (message-id %q): %d", id, st)
		}
	}
	if s, _ := f.subscriber("victim@example.org"); s.Status != "confirmed" || len(s.Bounces) != 0 {
		t.Errorf("a Mailgun signature with an event naming victim@ made them %q %+v", s.Status, s.Bounces)
	}
	if st := postHook(t, p, "mailgun", nil, providertest.Mailgun(t, mgKey, failed("gone@example.org", goneID), now)); st != 200 {
		t.Fatalf("mailgun's report of gone@'s digest: %d", st)
	}
	if s, _ := f.subscriber("gone@example.org"); s.Status != "bounced" {
		t.Errorf("after Mailgun's report quoting their digest's Message-ID gone@ is %q, want bounced", s.Status)
	}
}
