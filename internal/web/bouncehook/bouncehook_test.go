package bouncehook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/provider"
	"github.com/crieur/crieur/internal/bounce/provider/providertest"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/webtest"
)

const (
	topic      = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
	postmarkUP = "crieur:postmark-password"
	mailgunKey = "key-mailgun-signing-test"
)

var ctx = context.Background()

type fixture struct {
	env  *webtest.Env
	refs *bounce.Tokens   // made the emails' Message-IDs
	ids  map[string]int64 // the readers' ids by address
	sns  *providertest.SNS
	sg   *providertest.SendGrid
	now  time.Time
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Now(), sg: providertest.NewSendGrid(t), refs: bounce.NewTokens([]byte("bouncehook test key")), ids: map[string]int64{}}
	f.sns = providertest.NewSNS(t, f.now)
	clock := func() time.Time { return f.now }
	sg, err := provider.NewSendGrid(f.sg.PublicKey, clock)
	if err != nil {
		t.Fatal(err)
	}
	f.env = webtest.New(t, func(d *web.Deps) {
		d.Bounces = bounce.NewStore(bounce.StoreConfig{Store: d.Store, Hash: d.Subscribe.Hash, Soft: store.SoftPolicy{Count: 3, Window: 15 * 24 * time.Hour}})
		d.BounceProviders = []provider.Provider{
			provider.NewSES(provider.SESConfig{TopicARNs: []string{topic}, Get: f.sns.Get, Now: clock}),
			sg, provider.NewPostmark(postmarkUP), provider.NewMailgun(mailgunKey, f.refs, clock),
		}
	})
	for _, e := range []string{"gone@x.test", "angry@x.test", "full@x.test", "reader@x.test"} {
		id, _, err := f.env.Store.Subscribe(ctx, e, store.Prefs{Frequency: news.Daily, Lang: news.French}, f.now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.env.Store.Confirm(ctx, id, "", f.now); err != nil {
			t.Fatal(err)
		}
		f.ids[e] = id
	}
	return f
}

func (f *fixture) post(t *testing.T, name string, h http.Header, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/webhooks/bounces/"+name, bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.env.Handler.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) status(t *testing.T, email string) news.Status {
	t.Helper()
	sub, err := f.env.Store.SubscriberByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	return sub.Status
}

func (f *fixture) bounces(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.env.Store.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM bounces").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "bounce", "provider", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantOK(t *testing.T, rec *httptest.ResponseRecorder, recorded, parked int) {
	t.Helper()
	var got struct{ Recorded, Parked int }
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.Recorded != recorded || got.Parked != parked {
		t.Fatalf("%d %s, want 200 with %d recorded, %d parked", rec.Code, rec.Body.String(), recorded, parked)
	}
}

// TestWebhooksRefuseUnverifiedCalls: for each provider, a call without its
// signature, with another key's, with a body changed after signing, or
// signed long ago gets 401 and changes nothing.
func TestWebhooksRefuseUnverifiedCalls(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sesBody := f.sns.Notification(t, topic, string(read(t, "ses_bounce.json")), f.now)
	sgBody := read(t, "sendgrid.json")
	mg := providertest.Mailgun(t, mailgunKey, read(t, "mailgun_failed.json"), f.now)
	other := providertest.NewSendGrid(t)
	for _, c := range []struct {
		name, provider string
		h              http.Header
		body           []byte
	}{
		{"ses unsigned", "ses", nil, []byte(`{"Type":"Notification","TopicArn":"` + topic + `","Message":"{}"}`)},
		{"ses tampered", "ses", nil, bytes.Replace(sesBody, []byte("gone@x.test"), []byte("reader@x.test"), 1)},
		{"ses old", "ses", nil, f.sns.Notification(t, topic, string(read(t, "ses_bounce.json")), f.now.Add(-3*time.Hour))},
		{"sendgrid unsigned", "sendgrid", nil, sgBody},
		{"sendgrid other key", "sendgrid", other.Headers(t, sgBody, f.now), sgBody},
		{"sendgrid tampered", "sendgrid", f.sg.Headers(t, sgBody, f.now), bytes.Replace(sgBody, []byte("gone@"), []byte("reader@"), 1)},
		{"sendgrid old", "sendgrid", f.sg.Headers(t, sgBody, f.now.Add(-time.Hour)), sgBody},
		{"postmark no auth", "postmark", nil, read(t, "postmark_bounce.json")},
		{"postmark wrong password", "postmark", providertest.Postmark("crieur:guess"), read(t, "postmark_bounce.json")},
		{"mailgun other key", "mailgun", nil, providertest.Mailgun(t, "another-key", read(t, "mailgun_failed.json"), f.now)},
		{"mailgun old", "mailgun", nil, providertest.Mailgun(t, mailgunKey, read(t, "mailgun_failed.json"), f.now.Add(-time.Hour))},
		{"mailgun unsigned", "mailgun", nil, []byte(`{"event-data":` + string(read(t, "mailgun_failed.json")) + `}`)},
		{"mailgun mangled", "mailgun", nil, mg[:len(mg)/2]},
	} {
		rec := f.post(t, c.provider, c.h, c.body)
		if rec.Code != 401 || !strings.Contains(rec.Body.String(), `"code":"unauthorized"`) {
			t.Errorf("%s: %d %s, want 401 unauthorized", c.name, rec.Code, rec.Body.String())
		}
	}
	if f.status(t, "gone@x.test") != news.Confirmed || f.status(t, "reader@x.test") != news.Confirmed || f.bounces(t) != 0 {
		t.Fatalf("refused calls changed something: gone %s, reader %s, %d bounces", f.status(t, "gone@x.test"), f.status(t, "reader@x.test"), f.bounces(t))
	}
	if _, n, _ := f.env.Store.ParkedReports(ctx, 10); n != 0 {
		t.Fatalf("refused calls parked %d reports", n)
	}
	webtest.MustAPIError(t, f.post(t, "sparkpost", nil, sgBody), 404, "not_found")
	big := append([]byte(`[{"email":"`), bytes.Repeat([]byte("a"), 1<<20)...)
	webtest.MustAPIError(t, f.post(t, "sendgrid", f.sg.Headers(t, big, f.now), big), 413, "body_too_large")
}

// TestWebhooksRecord: verified calls make readers bounced or complained,
// soft bounces add up to bounced, the same event twice counts once, a
// report about nobody is parked, an SNS subscription is confirmed.
func TestWebhooksRecord(t *testing.T) {
	t.Parallel()
	f := setup(t)
	wantOK(t, f.post(t, "ses", nil, f.sns.Notification(t, topic, string(read(t, "ses_bounce.json")), f.now)), 1, 0)
	if st := f.status(t, "gone@x.test"); st != news.Bounced {
		t.Fatalf("after an SES permanent bounce: %s", st)
	}
	body := read(t, "sendgrid.json") // gone (hard, again), blocked (unknown), angry (complaint)
	wantOK(t, f.post(t, "sendgrid", f.sg.Headers(t, body, f.now), body), 2, 1)
	if st := f.status(t, "angry@x.test"); st != news.Complained {
		t.Fatalf("after a SendGrid spam report: %s", st)
	}
	// The same batch again (SendGrid retrying): nothing more recorded.
	wantOK(t, f.post(t, "sendgrid", f.sg.Headers(t, body, f.now), body), 0, 1)

	// Mailgun: an event names its reader only by the Message-ID crieur
	// signed (its signature does not cover the event): one naming
	// full@ by address alone is parked and changes nothing.
	wantOK(t, f.post(t, "mailgun", nil, providertest.Mailgun(t, mailgunKey, read(t, "mailgun_temporary.json"), f.now)), 0, 1)
	// Three temporary failures of three emails within 15 days.
	for i := range 3 {
		at := f.now.Add(time.Duration(i-3) * 24 * time.Hour).Unix()
		ev := bytes.Replace(read(t, "mailgun_temporary.json"), []byte("1765101600.5"), []byte(strconv.FormatInt(at, 10)), 1)
		msgid := strings.Trim(f.refs.MessageID(bounce.Ref{DeliveryID: int64(100 + i), SubscriberID: f.ids["full@x.test"]}, "journal.example"), "<>")
		ev = bytes.Replace(ev, []byte("abd@journal.example"), []byte(msgid), 1)
		wantOK(t, f.post(t, "mailgun", nil, providertest.Mailgun(t, mailgunKey, ev, f.now)), 1, 0)
		want := news.Confirmed
		if i == 2 {
			want = news.Bounced
		}
		if st := f.status(t, "full@x.test"); st != want {
			t.Fatalf("after %d soft bounces: %s, want %s", i+1, st, want)
		}
	}
	// Postmark: an auto-reply is ignored, a hard bounce for nobody parked.
	wantOK(t, f.post(t, "postmark", providertest.Postmark(postmarkUP), read(t, "postmark_autoreply.json")), 0, 0)
	if st := f.status(t, "reader@x.test"); st != news.Confirmed {
		t.Fatalf("reader after an auto-reply: %s", st)
	}
	// Malformed but authenticated: parked, 200 so Postmark does not retry.
	wantOK(t, f.post(t, "postmark", providertest.Postmark(postmarkUP), []byte("{not json")), 0, 1)
	ps, n, err := f.env.Store.ParkedReports(ctx, 10)
	if err != nil || n != 4 || ps[0].Reason != bounce.ParkUnparsable || ps[0].Source != "postmark" {
		t.Fatalf("parked %+v (%d) %v", ps, n, err)
	}
	// SNS asks to confirm the subscription: crieur visits the URL.
	sub := "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"
	conf := f.sns.Sign(t, providertest.Message{Type: "SubscriptionConfirmation", MessageID: "c", Token: "t", TopicArn: topic,
		Message: "confirm", SubscribeURL: sub, Timestamp: f.now.UTC().Format(time.RFC3339), SignatureVersion: "2"})
	wantOK(t, f.post(t, "ses", nil, conf), 0, 0)
	if v := f.sns.Visited(); len(v) != 1 || v[0] != sub {
		t.Fatalf("visited %q", v)
	}
}

// TestWebhookNotConfigured: a provider whose secret is not set cannot
// verify anything: 401.
func TestWebhookNotConfigured(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, func(d *web.Deps) {
		d.Bounces = bounce.NewStore(bounce.StoreConfig{Store: d.Store, Hash: d.Subscribe.Hash})
	})
	for _, p := range []string{"ses", "sendgrid", "postmark", "mailgun"} {
		webtest.MustAPIError(t, webtest.Post(env.Handler, "/api/v1/webhooks/bounces/"+p, "application/json", "[]"), 401, "unauthorized")
	}
}
