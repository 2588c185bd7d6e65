package mail_test

import (
	"fmt"
	"net/textproto"
	"testing"

	"github.com/crieur/crieur/internal/mail"
)

// TestClassifyPermanentReplies: only a permanent failure of the address
// suppresses its reader. Before, every 5xx at RCPT, DATA or end-of-data
// was Recipient whatever its enhanced code, so a content blocklist (554
// 5.7.1) refusing one digest unsubscribed every reader of the run.
func TestClassifyPermanentReplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stage string
		code  int
		msg   string
		want  mail.Kind
	}{
		// Permanent failures of the address.
		{"rcpt", 550, "5.1.1 No such user", mail.Recipient},
		{"rcpt", 550, "5.1.10 Null MX", mail.Recipient},
		{"rcpt", 551, "5.1.6 Mailbox moved", mail.Recipient},
		{"rcpt", 550, "5.2.1 Mailbox disabled", mail.Recipient},
		{"end-of-data", 550, "5.1.1 No such user", mail.Recipient},
		{"data", 550, "5.2.1 Account disabled", mail.Recipient},
		{"", 550, "5.1.1 Unknown user", mail.Recipient},
		// Bare codes at RCPT, as common practice reads them.
		{"rcpt", 550, "No such user here", mail.Recipient},
		{"rcpt", 551, "User not local", mail.Recipient},
		{"rcpt", 553, "Mailbox name not allowed", mail.Recipient},
		// A full mailbox is soft.
		{"rcpt", 552, "5.2.2 Mailbox full", mail.Temporary},
		{"end-of-data", 552, "5.2.2 Over quota", mail.Temporary},
		{"rcpt", 552, "Exceeded storage allocation", mail.Temporary},
		// The message, not the address.
		{"end-of-data", 554, "5.7.1 Message rejected: URL blocklisted", mail.Rejected},
		{"end-of-data", 552, "5.3.4 Message too big", mail.Rejected},
		{"end-of-data", 554, "5.2.0 Provider quota exceeded", mail.Rejected},
		{"end-of-data", 554, "5.6.0 Bad content", mail.Rejected},
		{"end-of-data", 554, "Transaction failed", mail.Rejected},
		{"end-of-data", 550, "Rejected", mail.Rejected},
		{"data", 554, "No valid recipients", mail.Rejected},
		{"", 554, "Rejected", mail.Rejected},
		{"rcpt", 554, "5.7.1 Relay access denied", mail.Rejected},
		{"rcpt", 550, "5.7.1 Policy rejection", mail.Rejected},
		{"rcpt", 550, "5.1.8 Bad sender's system address", mail.Rejected},
		{"rcpt", 554, "Transaction failed", mail.Rejected},
		{"rcpt", 501, "Syntax error", mail.Rejected},
		// Our sender or relaying refused: every reader would get the same.
		{"rcpt", 550, "5.1.0 <newsletter@localhost>: Sender address rejected: User unknown in local recipient table", mail.Rejected},
		{"rcpt", 553, "5.1.3 <newsletter@localhost>: Sender address rejected", mail.Rejected},
		{"rcpt", 550, "5.1.7 Bad sender's mailbox address syntax", mail.Rejected},
		{"rcpt", 550, "relay not permitted", mail.Rejected},
		{"rcpt", 553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", mail.Rejected},
		{"rcpt", 550, "sorry, no mailbox here by that name. (#5.1.1)", mail.Recipient},
		{"rcpt", 550, "5.1.2 Bad destination system address", mail.Recipient},
		// The last line of a multi-line reply carries the verdict, and a
		// class that contradicts the basic code suppresses nobody.
		{"end-of-data", 554, "5.1.1 a quoted line\n5.7.1 content rejected", mail.Rejected},
		{"rcpt", 550, "4.1.1 Mailbox temporarily unknown", mail.Rejected},
		// Bare replies that block us or state a policy, not a mailbox.
		{"rcpt", 550, "Rejected: 192.0.2.1 listed at zen.spamhaus.org", mail.Rejected},
		{"rcpt", 550, "Message rejected because of IP reputation", mail.Rejected},
		{"rcpt", 550, "Administrative prohibition", mail.Rejected},
		{"rcpt", 550, "Authentication required", mail.Rejected},
		{"rcpt", 550, "Requested action not taken: mailbox unavailable", mail.Recipient},
		{"rcpt", 550, "5.1.1 <newsletter@localhost>: Sender address rejected: User unknown", mail.Rejected},
		{"rcpt", 550, "5.1.1 <r@example.org>: Recipient address rejected: User unknown in relay recipient table", mail.Recipient},
		// Unchanged: the server refuses us, or try again later.
		{"mail", 554, "5.7.1 Sender blocked", mail.Server},
		{"rcpt", 530, "5.7.0 Authentication required", mail.Server},
		{"end-of-data", 451, "4.3.0 Try later", mail.Temporary},
	} {
		err := fmt.Errorf("wrapped: %w", &textproto.Error{Code: tc.code, Msg: tc.msg})
		var got mail.Kind
		if tc.stage == "" {
			got = mail.Classify(err).Kind
		} else {
			got = mail.ClassifyAt(tc.stage, err).Kind
		}
		if got != tc.want {
			t.Errorf("%s %d %q = %v, want %v", tc.stage, tc.code, tc.msg, got, tc.want)
		}
	}
}
