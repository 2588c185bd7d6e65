package mail_test

import (
	"testing"

	"github.com/crieur/crieur/internal/mail/mailtest"
)

// TestSpamAssassinScore scores the exact signed bytes of a realistic French
// digest with SpamAssassin's local rules.
func TestSpamAssassinScore(t *testing.T) {
	t.Parallel()
	raw, err := newDKIM(t, false).Sign(mustBytes(t, digest("lecteur@example.org")))
	if err != nil {
		t.Fatal(err)
	}
	score, report := mailtest.SpamScore(t, raw)
	t.Logf("SpamAssassin score %.1f\n%s", score, report)
	if score >= 1.0 {
		t.Errorf("score %.1f >= 1.0:\n%s", score, report)
	}
}
