package push_test

import (
	"testing"

	"github.com/crieur/crieur/internal/push"
)

// TestCheckSubject: what Apple's push service takes as a VAPID subject
// passes, what it answers 403 BadJwtToken to is refused.
func TestCheckSubject(t *testing.T) {
	for _, ok := range []string{"mailto:alerts@journal.example", "mailto:ops@news.example.com", "https://journal.example", "https://journal.example/contact"} {
		if err := push.CheckSubject(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "alerts@journal.example", "mailto:", "mailto:newsletter@localhost", "mailto:<a@journal.example>",
		"mailto:Alerts <a@journal.example>", "mailto:a@b", "https://localhost", "https://localhost:8443/x", "http://journal.example",
		"https://", "https://user:pw@journal.example", "https://10.0.0.1", "https://[::1]/", "mailto: a@journal.example", "tel:+33123"} {
		if err := push.CheckSubject(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzCheckSubject(f *testing.F) {
	for _, s := range []string{"mailto:alerts@journal.example", "https://journal.example", "mailto:a@localhost", "https://[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if push.CheckSubject(s) == nil && !(len(s) > 7 && (s[:7] == "mailto:" || s[:6] == "https:")) {
			t.Fatalf("%q accepted", s)
		}
	})
}
