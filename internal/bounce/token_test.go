package bounce_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/bouncetest"
)

// TestTokenRoundTrip: a token names its delivery and reader, survives
// case folding (some systems upper-case local parts), and fits in a local
// part.
func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	tk := testTokens()
	for _, ref := range []bounce.Ref{{DeliveryID: 1, SubscriberID: 1}, {DeliveryID: 1 << 40, SubscriberID: 0}, {DeliveryID: 987654321, SubscriberID: 123456789}} {
		addr := tk.ReturnPath(ref, bounceDomain)
		local, _, _ := strings.Cut(addr, "@")
		if len(local) > 64 || local != strings.ToLower(local) {
			t.Errorf("VERP local part %q: want lowercase, at most 64 octets", local)
		}
		for _, tok := range []string{strings.TrimPrefix(local, "b-"), strings.ToUpper(strings.TrimPrefix(local, "b-"))} {
			got, err := tk.Parse(tok)
			if err != nil || got != ref {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", tok, got, err, ref)
			}
		}
	}
}

// TestTokenForgeries: an altered token, one signed with another key, and
// made-up ones do not verify.
func TestTokenForgeries(t *testing.T) {
	t.Parallel()
	tk := testTokens()
	tok := tk.Token(testRef)
	other := bounce.NewTokens([]byte("another key entirely, 32 bytes long"))
	flipped := []byte(tok)
	flipped[2] ^= 1
	for _, bad := range []string{string(flipped), other.Token(testRef), "", "aaaa", strings.Repeat("a", 30), tok[:len(tok)-1], tok + "a", "!!!!"} {
		if ref, err := tk.Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", bad, ref)
		}
	}
}

// TestForgedAndUnknownReports: a report whose VERP token or Message-ID
// reference does not verify changes nothing and is counted forged; one
// with no reference at all is parked, never matched by its
// Final-Recipient; one whose reader is gone is counted unknown.
func TestForgedAndUnknownReports(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "reports", "postfix-user-unknown.eml"))
	if err != nil {
		t.Fatal(err)
	}
	forger := bounce.NewTokens([]byte("the forger's own key, 32 bytes long!"))
	forged := fill(forger, raw)
	noRef := bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("@@VERP@@"), []byte("newsletter@news.example.com")), []byte("@@MSGID@@"), []byte("1234@elsewhere.example"))

	rec := &bouncetest.Recorder{}
	in := newIntake(rec)
	ctx := context.Background()
	if res, err := in.Handle(ctx, "smtp", []string{forger.ReturnPath(testRef, bounceDomain)}, forged); err != nil || res != bounce.ResultForged {
		t.Errorf("forged VERP: %q, %v; want forged", res, err)
	}
	// Message-ID alone (a domain that is not the bounce domain).
	in.Domain = "other.example"
	if res, err := in.Handle(ctx, "imap", nil, forged); err != nil || res != bounce.ResultForged {
		t.Errorf("forged Message-ID: %q, %v; want forged", res, err)
	}
	in.Domain = bounceDomain
	if res, err := in.Handle(ctx, "smtp", nil, noRef); err != nil || res != bounce.ResultParked {
		t.Errorf("no reference: %q, %v; want parked", res, err)
	}
	if len(rec.Reports()) != 0 {
		t.Errorf("recorded %+v from forged or unreferenced reports", rec.Reports())
	}
	if len(rec.Parked()) != 1 || rec.Parked()[0] != "no delivery reference" {
		t.Errorf("parked %q, want the unreferenced report", rec.Parked())
	}
	gone := &bouncetest.Recorder{Outcome: bounce.Unmatched}
	in2 := newIntake(gone)
	if res, err := in2.Handle(ctx, "smtp", nil, fill(testTokens(), raw)); err != nil || res != bounce.ResultUnknown {
		t.Errorf("erased reader: %q, %v; want unknown", res, err)
	}
	if got := testutil.ToFloat64(in.Counter.WithLabelValues("smtp", "forged")); got != 1 {
		t.Errorf("smtp forged counter = %v, want 1", got)
	}
	if got := testutil.ToFloat64(in.Counter.WithLabelValues("imap", "forged")); got != 1 {
		t.Errorf("imap forged counter = %v, want 1", got)
	}
	if got := testutil.ToFloat64(in2.Counter.WithLabelValues("smtp", "unknown")); got != 1 {
		t.Errorf("unknown counter = %v, want 1", got)
	}
}

// TestHugeAndMalformedReports are parked, not parsed past their limits.
func TestHugeAndMalformedReports(t *testing.T) {
	t.Parallel()
	rec := &bouncetest.Recorder{}
	in := newIntake(rec)
	huge := append([]byte("Subject: x\r\n\r\n"), bytes.Repeat([]byte("a"), bounce.MaxReportSize)...)
	for name, raw := range map[string][]byte{"huge": huge, "no header": []byte("\x00\x01 not mail"), "empty": nil} {
		if res, err := in.Handle(context.Background(), "smtp", nil, raw); err != nil || res != bounce.ResultParked {
			t.Errorf("%s: %q, %v; want parked", name, res, err)
		}
	}
}

// FuzzParse: any input parses or is refused without panicking, within
// its limits, and whatever it says is read consistently.
func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "reports"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(fixture(f, e.Name()))
	}
	f.Add([]byte("Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 5\r\n--x--"))
	in := newIntake(&bouncetest.Recorder{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := bounce.Parse(raw)
		if err != nil {
			return
		}
		v := p.Verdict()
		if v.Kind == "" && v.Why == "" {
			t.Fatalf("verdict without kind or reason: %+v", v)
		}
		if len(v.Recipient.Diagnostic) > 300 {
			t.Fatalf("diagnostic of %d bytes", len(v.Recipient.Diagnostic))
		}
		if _, err := in.Handle(context.Background(), "smtp", nil, raw); err != nil {
			t.Fatal(err)
		}
	})
}

// TestThreadedReport: a DSN that attaches nothing of the original but
// threads under it (References) finds its email by that Message-ID.
func TestThreadedReport(t *testing.T) {
	t.Parallel()
	msgid := testTokens().MessageID(testRef, "news.example.com")
	raw := "From: MAILER-DAEMON@mx.example\r\nTo: newsletter@news.example.com\r\nReferences: <x@y> " + msgid + "\r\n" +
		"Subject: Undeliverable\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n" +
		"Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
	rec := &bouncetest.Recorder{}
	if res, err := newIntake(rec).Handle(context.Background(), "imap", nil, []byte(raw)); err != nil || res != bounce.ResultApplied {
		t.Fatalf("Handle = %q, %v; want applied", res, err)
	}
	if rec.Reports()[0].DeliveryID != testRef.DeliveryID {
		t.Errorf("report %+v, want delivery %d", rec.Reports()[0], testRef.DeliveryID)
	}
}

// TestVERPAddressAnyCase: a mail system that upper-cases the whole
// envelope recipient (B-TOKEN@BOUNCES.EXAMPLE) still names the delivery:
// the report below carries no other reference, so only the address can.
func TestVERPAddressAnyCase(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "reports", "postfix-user-unknown.eml"))
	if err != nil {
		t.Fatal(err)
	}
	noRef := bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("@@VERP@@"), []byte("newsletter@news.example.com")), []byte("@@MSGID@@"), []byte("1234@elsewhere.example"))
	rec := &bouncetest.Recorder{}
	in := newIntake(rec)
	rcpt := strings.ToUpper(testTokens().ReturnPath(testRef, bounceDomain))
	if res, err := in.Handle(context.Background(), "smtp", []string{rcpt}, noRef); err != nil || res != bounce.ResultApplied {
		t.Fatalf("report to %s: %q, %v; want applied", rcpt, res, err)
	}
	if got := rec.Reports(); len(got) != 1 || got[0].DeliveryID != testRef.DeliveryID || got[0].SubscriberID != testRef.SubscriberID {
		t.Errorf("recorded %+v, want one report about %+v", got, testRef)
	}
}
