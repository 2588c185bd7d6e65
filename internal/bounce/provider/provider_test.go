package provider_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/provider"
	"github.com/crieur/crieur/internal/bounce/provider/providertest"
)

var ctx = context.Background()

const topic = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// brief is what a test checks of a report.
type brief struct {
	Kind      bounce.Kind
	Recipient string
	Status    string
}

func briefs(rs []bounce.Report) []brief {
	var out []brief
	for _, r := range rs {
		out = append(out, brief{r.Kind, r.Recipient, r.Status})
	}
	return out
}

func wantReports(t *testing.T, got []bounce.Report, err error, want ...brief) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(briefs(got), want) {
		t.Fatalf("reports %+v, want %+v", briefs(got), want)
	}
}

// unverified checks that a Receive was refused as unverified:
// unverified(t, "why")(p.Receive(...)).
func unverified(t *testing.T, what string) func([]bounce.Report, error) {
	return func(_ []bounce.Report, err error) {
		t.Helper()
		if !errors.Is(err, provider.ErrUnverified) {
			t.Fatalf("%s: err %v, want ErrUnverified", what, err)
		}
	}
}

func TestSES(t *testing.T) {
	now := time.Now()
	sns := providertest.NewSNS(t, now)
	p := provider.NewSES(provider.SESConfig{TopicARNs: []string{topic}, Get: sns.Get, Now: func() time.Time { return now }})

	body := sns.Notification(t, topic, string(fixture(t, "ses_bounce.json")), now.Add(-time.Minute))
	got, err := p.Receive(ctx, nil, body)
	wantReports(t, got, err, brief{bounce.Hard, "gone@x.test", "5.1.1"})
	if got[0].MessageID != "<abc@journal.example>" || got[0].Source != "ses" {
		t.Fatalf("report %+v", got[0])
	}
	got, err = p.Receive(ctx, nil, sns.Notification(t, topic, string(fixture(t, "ses_complaint.json")), now))
	wantReports(t, got, err, brief{bounce.Complaint, "angry@x.test", ""})
	got, err = p.Receive(ctx, nil, sns.Notification(t, topic, string(fixture(t, "ses_transient.json")), now))
	wantReports(t, got, err, brief{bounce.Soft, "full@x.test", "4.2.2"})
	// SignatureVersion 1 (SHA1withRSA), with a Subject.
	v1 := sns.Sign(t, providertest.Message{Type: "Notification", MessageID: "v1", TopicArn: topic, Subject: "Amazon SES Email Event Notification",
		Message: string(fixture(t, "ses_bounce.json")), Timestamp: now.UTC().Format(time.RFC3339), SignatureVersion: "1"})
	got, err = p.Receive(ctx, nil, v1)
	wantReports(t, got, err, brief{bounce.Hard, "gone@x.test", "5.1.1"})

	// Tampered: a recipient changed after signing.
	unverified(t, "tampered")(p.Receive(ctx, nil, bytes.Replace(body, []byte("gone@x.test"), []byte("else@x.test"), 1)))
	// Old: signed two hours ago.
	unverified(t, "old")(p.Receive(ctx, nil, sns.Notification(t, topic, string(fixture(t, "ses_bounce.json")), now.Add(-2*time.Hour))))
	// Another account's topic, however well signed.
	unverified(t, "other topic")(p.Receive(ctx, nil, sns.Notification(t, "arn:aws:sns:eu-west-1:999999999999:mine", "{}", now)))
	// A certificate off SNS (the attacker's own, which would verify).
	for _, u := range []string{"https://evil.example/cert.pem", "http://sns.eu-west-1.amazonaws.com/cert.pem",
		"https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem", "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
		"https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&x=.pem", "https://sns.eu-west-1.amazonaws.com/other.pem"} {
		m := sns.Sign(t, providertest.Message{Type: "Notification", MessageID: "x", TopicArn: topic, Message: "{}",
			Timestamp: now.UTC().Format(time.RFC3339), SignatureVersion: "2", SigningCertURL: u})
		unverified(t, u)(p.Receive(ctx, nil, m))
	}
	// Signed by another key under the served certificate's URL.
	other := providertest.NewSNS(t, now)
	unverified(t, "other key")(p.Receive(ctx, nil, other.Notification(t, topic, string(fixture(t, "ses_bounce.json")), now)))
	unverified(t, "not JSON")(p.Receive(ctx, nil, []byte("Type=Notification")))

	// A subscription confirmation is confirmed by visiting its URL, once verified.
	sub := "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=tok"
	conf := sns.Sign(t, providertest.Message{Type: "SubscriptionConfirmation", MessageID: "c1", Token: "tok", TopicArn: topic,
		Message: "You have chosen to subscribe", SubscribeURL: sub, Timestamp: now.UTC().Format(time.RFC3339), SignatureVersion: "2"})
	got, err = p.Receive(ctx, nil, conf)
	wantReports(t, got, err)
	if v := sns.Visited(); !slices.Equal(v, []string{sub}) {
		t.Fatalf("visited %q, want the SubscribeURL", v)
	}
	unverified(t, "tampered confirmation")(p.Receive(ctx, nil, bytes.Replace(conf, []byte("Token=tok"), []byte("Token=tik"), 1)))
	evil := sns.Sign(t, providertest.Message{Type: "SubscriptionConfirmation", MessageID: "c2", Token: "tok", TopicArn: topic,
		Message: "x", SubscribeURL: "https://evil.example/confirm", Timestamp: now.UTC().Format(time.RFC3339), SignatureVersion: "2"})
	unverified(t, "confirmation off SNS")(p.Receive(ctx, nil, evil))
	if v := sns.Visited(); len(v) != 1 {
		t.Fatalf("visited %q after refused confirmations", v)
	}
}

func TestSendGrid(t *testing.T) {
	now := time.Now()
	sg := providertest.NewSendGrid(t)
	p, err := provider.NewSendGrid(sg.PublicKey, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "sendgrid.json")
	got, err := p.Receive(ctx, sg.Headers(t, body, now), body)
	wantReports(t, got, err,
		brief{bounce.Hard, "gone@x.test", "5.1.1"}, brief{bounce.Soft, "blocked@x.test", "5.7.1"}, brief{bounce.Complaint, "angry@x.test", ""})
	if want := time.Unix(1765101600, 0).UTC(); !got[0].At.Equal(want) {
		t.Fatalf("at %v, want %v", got[0].At, want)
	}
	h := sg.Headers(t, body, now)
	unverified(t, "tampered")(p.Receive(ctx, h, bytes.Replace(body, []byte("gone@"), []byte("else@"), 1)))
	unverified(t, "old")(p.Receive(ctx, sg.Headers(t, body, now.Add(-time.Hour)), body))
	h2 := sg.Headers(t, body, now)
	h2.Set(provider.SendGridTimestampHeader, h.Get(provider.SendGridTimestampHeader)+"0")
	unverified(t, "timestamp changed")(p.Receive(ctx, h2, body))
	unverified(t, "unsigned")(p.Receive(ctx, http.Header{}, body))
	other := providertest.NewSendGrid(t)
	unverified(t, "other key")(p.Receive(ctx, other.Headers(t, body, now), body))
	if _, err := provider.NewSendGrid("not a key", nil); err == nil {
		t.Fatal("a bad verification key was taken")
	}
}

func TestPostmark(t *testing.T) {
	p := provider.NewPostmark("crieur:s3cret-passw0rd")
	h := providertest.Postmark("crieur:s3cret-passw0rd")
	got, err := p.Receive(ctx, h, fixture(t, "postmark_bounce.json"))
	wantReports(t, got, err, brief{bounce.Hard, "gone@x.test", "5.1.1"})
	got, err = p.Receive(ctx, h, fixture(t, "postmark_complaint.json"))
	wantReports(t, got, err, brief{bounce.Complaint, "angry@x.test", ""})
	got, err = p.Receive(ctx, h, fixture(t, "postmark_autoreply.json"))
	wantReports(t, got, err)
	unverified(t, "wrong password")(p.Receive(ctx, providertest.Postmark("crieur:guess"), fixture(t, "postmark_bounce.json")))
	unverified(t, "no auth")(p.Receive(ctx, http.Header{}, fixture(t, "postmark_bounce.json")))
	if _, err := p.Receive(ctx, h, []byte("{")); !errors.Is(err, provider.ErrMalformed) {
		t.Fatalf("malformed body: %v", err)
	}
}

func TestMailgun(t *testing.T) {
	now := time.Now()
	refs := bounce.NewTokens([]byte("mailgun test key"))
	p := provider.NewMailgun("key-test-signing", refs, func() time.Time { return now })
	got, err := provider.ParseMailgunEvent(fixture(t, "mailgun_failed.json"))
	wantReports(t, got, err, brief{bounce.Hard, "gone@x.test", "5.1.1"})
	if got[0].MessageID != "abc@journal.example" {
		t.Fatalf("message id %q", got[0].MessageID)
	}
	got, err = provider.ParseMailgunEvent(fixture(t, "mailgun_temporary.json"))
	wantReports(t, got, err, brief{bounce.Soft, "full@x.test", "4.2.2"})
	got, err = provider.ParseMailgunEvent(fixture(t, "mailgun_complained.json"))
	wantReports(t, got, err, brief{bounce.Complaint, "angry@x.test", ""})

	// Received, an event names the delivery of the Message-ID crieur
	// signed, and never its recipient address: another sender's
	// Message-ID, or a forged one, names nobody.
	ref := bounce.Ref{DeliveryID: 42, SubscriberID: 7}
	ours := bytes.Replace(fixture(t, "mailgun_failed.json"), []byte("abc@journal.example"), []byte(strings.Trim(refs.MessageID(ref, "journal.example"), "<>")), 1)
	body := providertest.Mailgun(t, "key-test-signing", ours, now)
	got, err = p.Receive(ctx, nil, body)
	wantReports(t, got, err, brief{bounce.Hard, "", "5.1.1"})
	if got[0].DeliveryID != 42 || got[0].SubscriberID != 7 {
		t.Fatalf("report names delivery %d, reader %d, want 42, 7", got[0].DeliveryID, got[0].SubscriberID)
	}
	unverified(t, "replayed token")(p.Receive(ctx, nil, body))
	forged := bytes.Replace(ours, []byte(`"message-id":"`), []byte(`"message-id":"b`), 1)
	for _, ev := range [][]byte{fixture(t, "mailgun_failed.json"), forged} {
		got, err = p.Receive(ctx, nil, providertest.Mailgun(t, "key-test-signing", ev, now))
		wantReports(t, got, err, brief{bounce.Hard, "", "5.1.1"})
		if got[0].DeliveryID != 0 || got[0].SubscriberID != 0 || got[0].MessageID != "" {
			t.Fatalf("an event without crieur's Message-ID names %+v", got[0])
		}
	}

	// Mailgun signs timestamp+token, not the body: a body changed under a
	// signature already used is a replay, refused by its token.
	fresh := providertest.Mailgun(t, "key-test-signing", fixture(t, "mailgun_failed.json"), now)
	if _, err := p.Receive(ctx, nil, fresh); err != nil {
		t.Fatal(err)
	}
	unverified(t, "tampered")(p.Receive(ctx, nil, bytes.Replace(fresh, []byte("gone@x.test"), []byte("else@x.test"), 1)))
	ts := providertest.Mailgun(t, "key-test-signing", fixture(t, "mailgun_failed.json"), now)
	unverified(t, "timestamp changed")(p.Receive(ctx, nil, bytes.Replace(ts, []byte(`"timestamp":"1`), []byte(`"timestamp":"2`), 1)))
	unverified(t, "old")(p.Receive(ctx, nil, providertest.Mailgun(t, "key-test-signing", fixture(t, "mailgun_failed.json"), now.Add(-time.Hour))))
	unverified(t, "other key")(p.Receive(ctx, nil, providertest.Mailgun(t, "another-key", fixture(t, "mailgun_failed.json"), now)))
	unverified(t, "unsigned")(p.Receive(ctx, nil, []byte(`{"event-data":`+string(fixture(t, "mailgun_failed.json"))+`}`)))
}

func TestSNSURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem":   true,
		"https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem": true,
		"https://sns.us-east-1.amazonaws.com:443/x.pem":                           true,
		"http://sns.us-east-1.amazonaws.com/x.pem":                                false,
		"https://sns.us-east-1.amazonaws.com.evil.test/x.pem":                     false,
		"https://evil.test/sns.us-east-1.amazonaws.com/x.pem":                     false,
		"https://user@sns.us-east-1.amazonaws.com/x.pem":                          false,
		"https://s3.amazonaws.com/x.pem":                                          false,
	} {
		if got := provider.SNSURL(u); got != want {
			t.Errorf("SNSURL(%q) = %v, want %v", u, got, want)
		}
	}
}
