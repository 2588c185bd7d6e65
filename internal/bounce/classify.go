package bounce

import (
	"net/mail"
	"regexp"
	"strings"

	crmail "github.com/crieur/crieur/internal/mail"
)

// Verdict is what a parsed report asks of the reader it is about.
type Verdict struct {
	// Kind is Hard, Soft or Complaint; empty when the report asks for
	// nothing (then Why says why).
	Kind Kind
	// Why, when Kind is empty: "auto_reply", "delayed" (the mailer still
	// tries; a failure, if it comes, is a report of its own), "not_address"
	// (a refusal of the message, our sender or our server - content,
	// policy, a blocklist - that says nothing of the reader's address),
	// "not_abuse" (feedback other than a complaint), "no_failure"
	// (delivered, relayed) or "not_report".
	Why       string
	Recipient Recipient
}

// Verdict decides what the report asks. A DSN about several recipients
// (crieur sends one per email, so only a forwarding system writes one)
// gives its worst: hard before soft.
func (p *Parsed) Verdict() Verdict {
	switch p.Type {
	case TypeAutoReply:
		return Verdict{Why: "auto_reply"}
	case TypeFeedback:
		var r Recipient
		if len(p.Recipients) > 0 {
			r = p.Recipients[0]
		}
		// Only "abuse" is a reader's complaint; "not-spam", "fraud",
		// "auth-failure" and "virus" are about other things.
		if p.FeedbackType != "abuse" {
			return Verdict{Why: "not_abuse", Recipient: r}
		}
		return Verdict{Kind: Complaint, Recipient: r}
	case TypeDSN:
		best := Verdict{Why: "no_failure"}
		for _, r := range p.Recipients {
			k, why := Classify(r.Action, r.Status, r.Diagnostic)
			switch {
			case k == Hard:
				return Verdict{Kind: Hard, Recipient: withStatus(r)}
			case k == Soft && best.Kind == "":
				best = Verdict{Kind: Soft, Recipient: withStatus(r)}
			case k == "" && best.Kind == "" && rank(why) > rank(best.Why):
				best = Verdict{Why: why, Recipient: r}
			}
		}
		return best
	}
	return Verdict{Why: "not_report"}
}

// rank orders the reasons a DSN asks nothing by what says most.
func rank(why string) int {
	return map[string]int{"no_failure": 0, "delayed": 1, "not_address": 2}[why]
}

// withStatus puts the status Classify read into r.
func withStatus(r Recipient) Recipient {
	r.Status = normalStatus(r.Status, r.Diagnostic)
	return r
}

// Classify reads one recipient's Action, Status and Diagnostic-Code.
//
//   - failed with 4.x.x (the mailer gave up on a temporary failure) or
//     5.2.2 (mailbox full): Soft.
//   - failed with 5.1.1, 5.1.2, 5.1.6, 5.1.10 (bad or moved mailbox, bad
//     domain, null MX) or 5.2.1 (mailbox disabled): Hard, unless the text
//     names our sender; 5.0.0 or no code: Hard only when the text names a
//     missing mailbox, else Soft. This is the SMTP path's rule (see
//     mail.Classify), so both ways agree.
//   - failed with any other 5.x.x (content 5.6, policy and blocklists 5.7,
//     message size 5.3.4, our sender 5.1.7/5.1.8): nothing, "not_address".
//   - delayed: nothing, "delayed": a delay warning is not a failure, the
//     email may still arrive, and if the mailer gives up it says so in a
//     report of its own that is counted then, once.
//   - delivered, relayed, expanded: nothing.
func Classify(action, status, diagnostic string) (Kind, string) {
	switch strings.ToLower(strings.TrimSpace(action)) {
	case "delayed":
		return "", "delayed"
	case "delivered", "relayed", "expanded":
		return "", "no_failure"
	}
	code := normalStatus(status, diagnostic)
	if code == "" && strings.TrimSpace(action) == "" {
		// Neither an action nor a code: the block says nothing.
		return "", "no_failure"
	}
	if code == "" {
		if crmail.NamesMissingMailbox(diagnostic) {
			return Hard, ""
		}
		return Soft, ""
	}
	switch code[0] {
	case '4':
		return Soft, ""
	case '5':
	default:
		return "", "no_failure"
	}
	switch code[2:] {
	case "1.1", "1.2", "1.6", "1.10", "2.1":
		if t := strings.ToLower(diagnostic); strings.Contains(t, "sender") && !strings.Contains(t, "recipient") {
			return "", "not_address"
		}
		return Hard, ""
	case "2.2":
		return Soft, ""
	case "0.0", "1.0", "2.0":
		if crmail.NamesMissingMailbox(diagnostic) {
			return Hard, ""
		}
		return Soft, ""
	}
	return "", "not_address"
}

var enhanced = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)

// normalStatus is the enhanced code a recipient block means: its Status,
// or, when that says no more than X.0.0 (Exim writes 5.0.0 for most
// failures), the more precise code of the same class in the diagnostic.
func normalStatus(status, diagnostic string) string {
	s := ""
	if m := enhanced.FindStringSubmatch(status); m != nil && m[0] == strings.TrimSpace(status) {
		s = m[0]
	}
	if s != "" && !strings.HasSuffix(s, ".0.0") {
		return s
	}
	for _, m := range enhanced.FindAllStringSubmatch(diagnostic, 4) {
		if s == "" || m[1] == s[:1] {
			if m[2] != "0" || m[3] != "0" {
				return m[0]
			}
		}
	}
	if s == "" {
		// A diagnostic that gives only a basic reply code: 5xx or 4xx.
		if m := basicCode.FindStringSubmatch(diagnostic); m != nil {
			return m[1][:1] + ".0.0"
		}
	}
	return s
}

var basicCode = regexp.MustCompile(`(?:^|\s)([45][0-9][0-9])[\s-]`)

// autoReplySubjects are what out-of-office replies put in their subject,
// lowercase, in the languages crieur's readers write.
var autoReplySubjects = []string{"out of office", "out of the office", "automatic reply", "auto-reply", "autoreply",
	"auto reply", "réponse automatique", "reponse automatique", "absence du bureau", "abwesenheitsnotiz",
	"automatische antwort", "risposta automatica", "respuesta automática", "respuesta automatica",
	"fuera de la oficina", "autosvar", "automatisch antwoord", "resposta automática"}

// isAutoReply recognises RFC 3834 auto-responses, and the responders that
// do not follow it by their headers or subject.
func isAutoReply(h mail.Header, subject string) bool {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autogenerated"} {
		if h.Get(k) != "" {
			return true
		}
	}
	if p := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); p == "auto_reply" {
		return true
	}
	s := strings.ToLower(subject)
	if strings.HasPrefix(s, "auto:") || strings.HasPrefix(s, "automatic reply:") {
		return true
	}
	for _, p := range autoReplySubjects {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// bounceSubjects are what the subjects of plain-text bounces (no
// multipart/report: qmail, old Exim, some appliances) say, lowercase.
var bounceSubjects = []string{"undeliver", "undelivered", "delivery status notification", "mail delivery failed",
	"failure notice", "returned mail", "delivery failure", "delivery has failed", "could not be delivered",
	"non remis", "non distribuable", "unzustellbar", "nicht zustellbar", "mail system error"}

// plainBounce reads a bounce that is not a multipart/report: from a
// mailer daemon or with a bounce subject, and naming a status code. Its
// recipient is X-Failed-Recipients (Exim) when given.
func plainBounce(h mail.Header, subject, text string) (Recipient, bool) {
	from := strings.ToLower(h.Get("From"))
	daemon := strings.Contains(from, "mailer-daemon") || strings.Contains(from, "postmaster")
	s := strings.ToLower(subject)
	bouncy := false
	for _, b := range bounceSubjects {
		bouncy = bouncy || strings.Contains(s, b)
	}
	if !daemon && !bouncy {
		return Recipient{}, false
	}
	// The first line naming a code is the diagnostic.
	for line := range strings.Lines(text) {
		if enhanced.MatchString(line) || basicCode.MatchString(" "+line) {
			if code := normalStatus("", line); code != "" && code[0] != '2' {
				return Recipient{Address: firstField(h.Get("X-Failed-Recipients")), Action: "failed", Status: code,
					Diagnostic: clipDiagnostic(line)}, true
			}
		}
	}
	return Recipient{}, false
}
