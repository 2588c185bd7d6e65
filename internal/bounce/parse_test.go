package bounce_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/bouncetest"
)

const bounceDomain = "bounces.example.net"

var testRef = bounce.Ref{DeliveryID: 4242, SubscriberID: 77}

func testTokens() *bounce.Tokens {
	return bounce.NewTokens([]byte("test key for bounce tokens, 32 bytes+"))
}

// fixture reads testdata/reports/NAME with its placeholders replaced by
// references to testRef signed with testTokens: the VERP address and the
// Message-ID crieur would have sent.
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "reports", name))
	if err != nil {
		tb.Fatal(err)
	}
	return fill(testTokens(), raw)
}

func fill(tk *bounce.Tokens, raw []byte) []byte {
	msgid := strings.Trim(tk.MessageID(testRef, "news.example.com"), "<>")
	raw = bytes.ReplaceAll(raw, []byte("@@VERP@@"), []byte(tk.ReturnPath(testRef, bounceDomain)))
	return bytes.ReplaceAll(raw, []byte("@@MSGID@@"), []byte(msgid))
}

func newIntake(rec bounce.Recorder) *bounce.Intake {
	return &bounce.Intake{Tokens: testTokens(), Domain: bounceDomain, Recorder: rec,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Counter: bounce.NewCounter()}
}

// TestReportFixtures reads each report as public bug reports show them
// (Postfix's from a real Postfix run, Gmail, Outlook, Exim, an ARF
// complaint, out-of-office replies, an ISO-8859-1 report) and checks what
// it is, what it asks and that it finds the email it is about.
func TestReportFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file       string
		typ        bounce.Type
		kind       bounce.Kind
		why        string
		status     string
		rcpt       string
		diagnostic string // a substring
		result     bounce.Result
	}{
		{"postfix-user-unknown.eml", bounce.TypeDSN, bounce.Hard, "", "5.1.1", "gone@example.org", "User unknown here", bounce.ResultApplied},
		{"postfix-gave-up.eml", bounce.TypeDSN, bounce.Soft, "", "4.4.1", "gone@example.org", "Connection timed out", bounce.ResultApplied},
		{"postfix-delayed.eml", bounce.TypeDSN, "", "delayed", "", "", "", bounce.ResultIgnored},
		{"postfix-blocklisted.eml", bounce.TypeDSN, "", "not_address", "", "", "", bounce.ResultIgnored},
		{"gmail-no-such-user.eml", bounce.TypeDSN, bounce.Hard, "", "5.1.1", "nosuchuser@gmail.com", "does not exist", bounce.ResultApplied},
		{"outlook-recipient-not-found.eml", bounce.TypeDSN, bounce.Hard, "", "5.1.10", "ghost@contoso.com", "RecipientNotFound", bounce.ResultApplied},
		{"exim-mailbox-full.eml", bounce.TypeDSN, bounce.Soft, "", "5.2.2", "marie@fai.example.fr", "Mailbox full", bounce.ResultApplied},
		{"exim-legacy-plain.eml", bounce.TypeDSN, bounce.Hard, "", "5.1.1", "pierre@oldhost.example", "User unknown", bounce.ResultApplied},
		{"dsn-iso-8859-1.eml", bounce.TypeDSN, bounce.Hard, "", "5.1.1", "lucie@fai.example.fr", "adresse électronique inconnue", bounce.ResultApplied},
		{"arf-abuse.eml", bounce.TypeFeedback, bounce.Complaint, "", "", "redacted@mailprovider.example", "", bounce.ResultApplied},
		{"arf-not-spam.eml", bounce.TypeFeedback, "", "not_abuse", "", "", "", bounce.ResultIgnored},
		{"ooo-english.eml", bounce.TypeAutoReply, "", "auto_reply", "", "", "", bounce.ResultIgnored},
		{"ooo-latin1.eml", bounce.TypeAutoReply, "", "auto_reply", "", "", "", bounce.ResultIgnored},
		{"not-a-report.eml", bounce.TypeOther, "", "not_report", "", "", "", bounce.ResultNotReport},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			raw := fixture(t, c.file)
			p, err := bounce.Parse(raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.Type != c.typ {
				t.Fatalf("type = %q, want %q", p.Type, c.typ)
			}
			v := p.Verdict()
			if v.Kind != c.kind || (c.kind == "" && v.Why != c.why) {
				t.Fatalf("verdict = %+v, want kind %q why %q", v, c.kind, c.why)
			}
			if c.kind != "" {
				if v.Recipient.Status != c.status || v.Recipient.Address != c.rcpt || !strings.Contains(v.Recipient.Diagnostic, c.diagnostic) {
					t.Errorf("recipient = %+v, want status %q address %q diagnostic ~%q", v.Recipient, c.status, c.rcpt, c.diagnostic)
				}
			}
			rec := &bouncetest.Recorder{}
			res, err := newIntake(rec).Handle(context.Background(), "smtp", nil, raw)
			if err != nil || res != c.result {
				t.Fatalf("Handle = %q, %v; want %q", res, err, c.result)
			}
			if c.result == bounce.ResultApplied {
				if len(rec.Reports()) != 1 {
					t.Fatalf("recorded %d reports, want 1", len(rec.Reports()))
				}
				r := rec.Reports()[0]
				if r.DeliveryID != testRef.DeliveryID || r.SubscriberID != testRef.SubscriberID || r.Kind != c.kind || r.Source != "smtp" {
					t.Errorf("report = %+v, want delivery %d subscriber %d kind %q", r, testRef.DeliveryID, testRef.SubscriberID, c.kind)
				}
			} else if len(rec.Reports()) != 0 {
				t.Errorf("recorded %+v for a report that asks nothing", rec.Reports())
			}
		})
	}
}

// TestSubjectCharsets: the ISO-8859-1 subject of an out-of-office is
// decoded before it is read (it carries no Auto-Submitted header, so the
// subject is all there is).
func TestSubjectCharsets(t *testing.T) {
	t.Parallel()
	p, err := bounce.Parse(fixture(t, "ooo-latin1.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Subject, "Réponse automatique") {
		t.Errorf("subject = %q, want it decoded from ISO-8859-1", p.Subject)
	}
}

// TestClassify pins the status rules: 4.x.x and 5.2.2 soft, address
// failures hard, refusals of the message or of us nothing, a delay nothing.
func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		action, status, diag string
		kind                 bounce.Kind
		why                  string
	}{
		{"failed", "5.1.1", "550 5.1.1 user unknown", bounce.Hard, ""},
		{"failed", "5.1.10", "", bounce.Hard, ""},
		{"failed", "5.2.1", "mailbox disabled", bounce.Hard, ""},
		{"failed", "5.2.2", "mailbox full", bounce.Soft, ""},
		{"failed", "4.2.2", "over quota", bounce.Soft, ""},
		{"failed", "4.7.1", "greylisted", bounce.Soft, ""},
		{"failed", "5.0.0", "550 5.1.1 No such user", bounce.Hard, ""},
		{"failed", "5.0.0", "554 5.7.1 rejected by policy", "", "not_address"},
		{"failed", "5.0.0", "550 Mailbox unavailable", bounce.Hard, ""},
		{"failed", "5.0.0", "550 listed at zen.spamhaus.org", bounce.Soft, ""},
		{"failed", "5.1.0", "550 5.1.0 no such user", bounce.Hard, ""},
		{"failed", "5.2.0", "550 5.2.0 mailbox unavailable", bounce.Hard, ""},
		{"failed", "5.2.0", "550 5.2.0 try again later", bounce.Soft, ""},
		{"failed", "5.7.1", "spam", "", "not_address"},
		{"failed", "5.6.0", "content rejected", "", "not_address"},
		{"failed", "5.1.1", "550 5.1.1 sender address rejected", "", "not_address"},
		{"failed", "5.1.8", "bad sender domain", "", "not_address"},
		{"delayed", "4.4.1", "timeout", "", "delayed"},
		{"delivered", "2.0.0", "", "", "no_failure"},
		{"failed", "", "550 user unknown", bounce.Hard, ""},
		{"failed", "", "", bounce.Soft, ""},
		{"", "", "", "", "no_failure"},
		{"", "", "Remote-MTA only", "", "no_failure"},
	}
	for _, c := range cases {
		k, why := bounce.Classify(c.action, c.status, c.diag)
		if k != c.kind || why != c.why {
			t.Errorf("Classify(%q, %q, %q) = %q, %q; want %q, %q", c.action, c.status, c.diag, k, why, c.kind, c.why)
		}
	}
}
