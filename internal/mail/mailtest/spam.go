package mailtest

import (
	"bufio"
	"bytes"
	"context"
	"net/mail"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/testenv"
)

// SpamScore runs SpamAssassin on exactly raw with local rules only
// (`spamassassin -t -L --cf='dns_available no'`) and returns the score and
// the report (the X-Spam-Status value followed by the rule table). It skips
// the test when spamassassin is missing, and fails it under CI=true.
//
// Score the bytes you send: a copy that went through a local relay gains
// Received headers that change the result (ALL_TRUSTED).
func SpamScore(tb testing.TB, raw []byte) (float64, string) {
	tb.Helper()
	bin := testenv.LookPath(tb, "spamassassin")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-t", "-L", "--cf=dns_available no")
	cmd.Stdin = bytes.NewReader(raw)
	// A private HOME keeps the user's ~/.spamassassin (auto-whitelist,
	// Bayes) out of the score.
	cmd.Env = append(cmd.Environ(), "HOME="+tb.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("mailtest: spamassassin: %v\n%s", err, stderr.String())
	}
	msg, err := mail.ReadMessage(bytes.NewReader(out))
	if err != nil {
		tb.Fatalf("mailtest: parse spamassassin output: %v", err)
	}
	status := msg.Header.Get("X-Spam-Status")
	score, ok := parseScore(status)
	if !ok {
		tb.Fatalf("mailtest: no score in X-Spam-Status %q", status)
	}
	return score, status + "\n" + report(out)
}

// parseScore reads "score=N" from an X-Spam-Status value.
func parseScore(status string) (float64, bool) {
	for f := range strings.FieldsSeq(status) {
		if v, ok := strings.CutPrefix(f, "score="); ok {
			s, err := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
			return s, err == nil
		}
	}
	return 0, false
}

// report extracts the "Content analysis details" table that -t appends.
func report(out []byte) string {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "Content analysis details:") {
			in = true
		}
		if in {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
