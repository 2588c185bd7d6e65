package dispatch_test

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/news"
)

// Every digest message the builder makes from cached skeletons and
// pre-encoded heads (readers read with their claim or one by one) carries,
// part for part, exactly the quoted-printable bytes mime/quotedprintable
// writes for the digest the composer renders for that reader, and the
// reader's own headers.
func TestBuildDigestMatchesComposer(t *testing.T) {
	t.Parallel()
	f := newDigestFixture(t, 300)
	ctx := context.Background()
	f.prefetch(t, 0, 150) // half read with their claim, half by Build
	topics, err := f.st.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.deliveries {
		rcpt, raw, err := f.builder.Build(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := f.st.SubscriberByID(ctx, d.SubscriberID)
		if err != nil {
			t.Fatal(err)
		}
		links := f.builder.Subscribe.LinksFor(sub)
		var arts []news.Article
		for _, id := range d.Articles {
			a, err := f.st.Article(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			arts = append(arts, a)
		}
		want, err := f.builder.Composer.Digest(compose.DigestData{Lang: sub.Lang, Frequency: sub.Frequency, Articles: arts,
			Topics: news.NamedTopics(topics, sub.Topics), PreferencesURL: links.Preferences, UnsubscribeURL: links.Unsubscribe,
			Date: f.builder.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if rcpt != sub.Email {
			t.Fatalf("delivery %d: rcpt %q, want %q", d.ID, rcpt, sub.Email)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil || subject != want.Subject {
			t.Fatalf("delivery %d: Subject %q (%v), want %q", d.ID, subject, err, want.Subject)
		}
		if got := m.Header.Get("List-Unsubscribe"); got != "<"+links.Unsubscribe+">" {
			t.Fatalf("delivery %d: List-Unsubscribe %q, want <%s>", d.ID, got, links.Unsubscribe)
		}
		if got := m.Header.Get("To"); got != sub.Email {
			t.Fatalf("delivery %d: To %q", d.ID, got)
		}
		_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		mr := multipart.NewReader(m.Body, params["boundary"])
		for _, wantPart := range []struct{ ctype, body string }{{"text/plain; charset=UTF-8", want.Text}, {"text/html; charset=UTF-8", want.HTML}} {
			p, err := mr.NextRawPart()
			if err != nil {
				t.Fatal(err)
			}
			if p.Header.Get("Content-Type") != wantPart.ctype || p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
				t.Fatalf("delivery %d: part header %v", d.ID, p.Header)
			}
			got, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			var enc bytes.Buffer
			qp := quotedprintable.NewWriter(&enc)
			qp.Write([]byte(wantPart.body))
			qp.Close()
			if !bytes.Equal(got, enc.Bytes()) {
				t.Fatalf("delivery %d: %s part is not the composer's digest quoted-printable-encoded\n got %q\nwant %q", d.ID, wantPart.ctype, got, enc.Bytes())
			}
			dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(got)))
			if err != nil || strings.ReplaceAll(string(dec), "\r\n", "\n") != wantPart.body || !strings.Contains(string(dec), links.Preferences) {
				t.Fatalf("delivery %d: decoded %s part differs (%v)", d.ID, wantPart.ctype, err)
			}
		}
		if _, err := mr.NextRawPart(); err != io.EOF {
			t.Fatalf("delivery %d: a third part or a bad end: %v", d.ID, err)
		}
	}
}
