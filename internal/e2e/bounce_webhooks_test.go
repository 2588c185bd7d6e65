package e2e_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/bounce/provider/providertest"
	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// postHook posts body to a provider webhook of p with headers h and
// returns the status.
func postHook(t *testing.T, p *e2etest.Proc, name string, h http.Header, body []byte) int {
	t.Helper()
	req, err := http.NewRequest("POST", p.URL+"/api/v1/webhooks/bounces/"+name, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e2etest.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestProviderWebhooksMakeReadersBounced: a real `crieur serve` with the
// SendGrid, Postmark and Mailgun webhooks configured. Calls signed with
// the test keys make readers bounced (a hard bounce; two soft ones within
// CRIEUR_SOFT_BOUNCES=2/15d) or complained; the API shows each status
// with its bounces, the CSV export says the same, the bounced address
// cannot subscribe again until an admin unsuppresses it, and the metric
// counts what was applied.
// Unsigned, wrongly signed, tampered and old calls get 401 and change
// nothing.
func TestProviderWebhooksMakeReadersBounced(t *testing.T) {
	e2etest.Parallel(t)
	sg := providertest.NewSendGrid(t)
	const pmAuth, mgKey = "crieur:postmark-e2e-password", "key-e2e-mailgun-signing"
	sink := mailtest.NewServer(t)
	f := flowSetup(t, map[string]string{"CRIEUR_BOUNCE_SENDGRID_KEY": sg.PublicKey, "CRIEUR_BOUNCE_POSTMARK_AUTH": pmAuth,
		"CRIEUR_BOUNCE_MAILGUN_KEY": mgKey, "CRIEUR_SOFT_BOUNCES": "2/15d", "CRIEUR_SMTP_URL": sink.URL()}, "monde")
	var rows []string
	for _, r := range []string{"gone", "angry", "full", "pm", "reader"} {
		rows = append(rows, r+"@example.org,monde,daily,fr,confirmed")
	}
	if rep := f.importCSV("readers.csv", rows); !strings.Contains(rep, "imported 5 ") {
		t.Fatalf("import: %s", rep)
	}
	p := f.start()
	now := time.Now()
	// Two digests: Mailgun's events name a reader by the Message-ID of
	// an email crieur sent them (its signature does not cover the event).
	for i, guid := range []string{"mg-a", "mg-b"} {
		f.article(guid, "Article "+guid, []string{"monde"}, now.Add(-time.Hour))
		if r := f.waitRun(f.runDigest("daily"), 60*time.Second); r.State != "done" || r.Sent != 5 {
			t.Fatalf("digest %d: %+v, want 5 sent", i+1, r)
		}
	}
	var fullIDs []string
	for _, m := range byRcpt(sink.Messages())["full@example.org"] {
		fullIDs = append(fullIDs, strings.Trim(m.Header("Message-ID"), "<> "))
	}
	if len(fullIDs) != 2 {
		t.Fatalf("full@ got %d digests, want 2", len(fullIDs))
	}

	sgBody := []byte(fmt.Sprintf(`[{"email":"gone@example.org","timestamp":%d,"event":"bounce","type":"bounce","status":"5.1.1","reason":"550 5.1.1 The email account that you tried to reach does not exist.","sg_event_id":"e1"},
{"email":"angry@example.org","timestamp":%d,"event":"spamreport","sg_event_id":"e2"},
{"email":"reader@example.org","timestamp":%d,"event":"delivered","sg_event_id":"e3"}]`, now.Unix(), now.Unix(), now.Unix()))
	other := providertest.NewSendGrid(t)
	for what, c := range map[string]struct {
		h    http.Header
		body []byte
	}{
		"unsigned":  {nil, sgBody},
		"other key": {other.Headers(t, sgBody, now), sgBody},
		"tampered":  {sg.Headers(t, sgBody, now), bytes.Replace(sgBody, []byte("gone@"), []byte("reader@"), 1)},
		"old":       {sg.Headers(t, sgBody, now.Add(-time.Hour)), sgBody},
	} {
		if st := postHook(t, p, "sendgrid", c.h, c.body); st != 401 {
			t.Errorf("sendgrid %s call: %d, want 401", what, st)
		}
	}
	if st := postHook(t, p, "postmark", providertest.Postmark("crieur:guessed"), []byte(`{"RecordType":"Bounce","Type":"HardBounce","Email":"reader@example.org"}`)); st != 401 {
		t.Errorf("postmark with a wrong password: %d, want 401", st)
	}
	for _, e := range []string{"gone", "angry", "reader"} {
		if s, _ := f.subscriber(e + "@example.org"); s.Status != "confirmed" || len(s.Bounces) != 0 {
			t.Fatalf("%s after refused calls: %q %+v", e, s.Status, s.Bounces)
		}
	}

	if st := postHook(t, p, "sendgrid", sg.Headers(t, sgBody, now), sgBody); st != 200 {
		t.Fatalf("signed sendgrid call: %d\n%s", st, p.Logs())
	}
	pm := []byte(`{"RecordType":"Bounce","Type":"HardBounce","TypeCode":1,"Email":"pm@example.org","BouncedAt":"` + now.UTC().Format(time.RFC3339) +
		`","Details":"smtp;550 5.1.1 user unknown"}`)
	if st := postHook(t, p, "postmark", providertest.Postmark(pmAuth), pm); st != 200 {
		t.Fatalf("postmark call: %d", st)
	}
	for i := range 2 {
		ev := fmt.Sprintf(`{"event":"failed","severity":"temporary","recipient":"full@example.org","timestamp":%d,"delivery-status":{"code":452,"message":"4.2.2 mailbox full"},"message":{"headers":{"message-id":%q}}}`,
			now.Add(time.Duration(i-2)*24*time.Hour).Unix(), fullIDs[i])
		if st := postHook(t, p, "mailgun", nil, providertest.Mailgun(t, mgKey, []byte(ev), now)); st != 200 {
			t.Fatalf("mailgun call %d: %d", i, st)
		}
		if s, _ := f.subscriber("full@example.org"); (i == 0) != (s.Status == "confirmed") {
			t.Fatalf("after %d soft bounces: %q", i+1, s.Status)
		}
	}

	for email, want := range map[string]struct{ status, kind, code string }{
		"gone@example.org": {"bounced", "hard", "5.1.1"}, "angry@example.org": {"complained", "complaint", ""},
		"pm@example.org": {"bounced", "hard", "5.1.1"}, "full@example.org": {"bounced", "soft", "4.2.2"},
	} {
		s, st := f.subscriber(email)
		if st != 200 || s.Status != want.status || len(s.Bounces) == 0 || s.Bounces[0].Kind != want.kind || s.Bounces[0].Status != want.code || s.Bounces[0].At.IsZero() {
			t.Errorf("%s: %d %q %+v, want %s with a %s bounce %s", email, st, s.Status, s.Bounces, want.status, want.kind, want.code)
		}
	}
	if s, _ := f.subscriber("reader@example.org"); s.Status != "confirmed" {
		t.Errorf("the delivered reader is %q", s.Status)
	}
	export := e2etest.CLI(t, f.env, "", "subscribers", "export")
	for _, want := range []string{"gone@example.org,monde,daily,fr,bounced", "angry@example.org,monde,daily,fr,complained", "reader@example.org,monde,daily,fr,confirmed"} {
		if !strings.Contains(export, want) {
			t.Errorf("export lacks %q:\n%s", want, export)
		}
	}
	// The bounced address cannot come back by subscribing.
	if st := f.do("POST", "/api/v1/subscriptions", map[string]any{"email": "gone@example.org", "topics": []string{"monde"}, "frequency": "daily", "lang": "fr"}, nil); st != 202 {
		t.Fatalf("subscribe: %d", st)
	}
	if s, _ := f.subscriber("gone@example.org"); s.Status != "bounced" {
		t.Errorf("after a new subscription request the bounced address is %q", s.Status)
	}
	// Once an admin lifts the suppression, the reader may ask again.
	e2etest.CLI(t, f.env, "", "subscribers", "unsuppress", "gone@example.org")
	if st := f.do("POST", "/api/v1/subscriptions", map[string]any{"email": "gone@example.org", "topics": []string{"monde"}, "frequency": "daily", "lang": "fr"}, nil); st != 202 {
		t.Fatalf("subscribe: %d", st)
	}
	if s, _ := f.subscriber("gone@example.org"); s.Status != "pending" || len(s.Bounces) != 1 {
		t.Errorf("after unsuppress and a new request: %q %+v, want pending with its bounce kept", s.Status, s.Bounces)
	}
	resp, err := e2etest.HTTPClient().Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`crieur_bounce_reports_total{kind="hard",outcome="applied",source="sendgrid"} 1`,
		`crieur_bounce_reports_total{kind="complaint",outcome="applied",source="sendgrid"} 1`,
		`crieur_bounce_reports_total{kind="soft",outcome="applied",source="mailgun"} 2`,
		`crieur_subscribers{status="bounced"} 2`, `crieur_subscribers{status="complained"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
