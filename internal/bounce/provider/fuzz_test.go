package provider_test

import (
	"testing"
	"unicode/utf8"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/provider"
)

// checkReports holds for whatever a parser makes of any input: every
// report has a known kind and names a source.
func checkReports(t *testing.T, rs []bounce.Report, source string) {
	t.Helper()
	for _, r := range rs {
		if r.Kind != bounce.Hard && r.Kind != bounce.Soft && r.Kind != bounce.Complaint {
			t.Fatalf("report of kind %q", r.Kind)
		}
		if r.Source != source {
			t.Fatalf("report from %q, want %q", r.Source, source)
		}
		if r.Status != "" && !utf8.ValidString(r.Status) {
			t.Fatalf("status %q", r.Status)
		}
	}
}

func FuzzParseSESNotification(f *testing.F) {
	for _, n := range []string{"ses_bounce.json", "ses_complaint.json", "ses_transient.json"} {
		f.Add(fixture(f, n))
	}
	f.Add([]byte(`{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, _ := provider.ParseSESNotification(b)
		checkReports(t, rs, "ses")
	})
}

func FuzzParseSendGrid(f *testing.F) {
	f.Add(fixture(f, "sendgrid.json"))
	f.Add([]byte(`[{"event":"bounce","timestamp":1e300}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, _ := provider.ParseSendGrid(b)
		checkReports(t, rs, "sendgrid")
	})
}

func FuzzParsePostmark(f *testing.F) {
	for _, n := range []string{"postmark_bounce.json", "postmark_complaint.json", "postmark_autoreply.json"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, _ := provider.ParsePostmark(b)
		checkReports(t, rs, "postmark")
		if len(rs) > 1 {
			t.Fatalf("%d reports from one event", len(rs))
		}
	})
}

func FuzzParseMailgunEvent(f *testing.F) {
	for _, n := range []string{"mailgun_failed.json", "mailgun_temporary.json", "mailgun_complained.json"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, _ := provider.ParseMailgunEvent(b)
		checkReports(t, rs, "mailgun")
	})
}
