package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
)

// ErrHeaderInjection is wrapped by every error about a CR, LF, NUL or other
// control character in a value that would reach a header. Such values are
// rejected, never silently cleaned.
var ErrHeaderInjection = errors.New("control character in header value")

// ErrInvalidAddress is wrapped by every error about a malformed email address.
var ErrInvalidAddress = errors.New("invalid email address")

// ErrAddressLiteral is wrapped, beside [ErrInvalidAddress], by the error
// about an address whose domain is an IP address or an address literal
// (x@127.0.0.1, x@[10.0.0.1]): crieur mails names only.
var ErrAddressLiteral = errors.New("the domain is an IP address, not a name")

// ErrInvalidHeader is wrapped by errors about header values that are
// malformed for another reason than control characters (a List-Unsubscribe
// that is not an http(s) URL, a Feedback-ID that is not ASCII, …).
var ErrInvalidHeader = errors.New("invalid header value")

// Kind says what a delivery failure means for the caller.
type Kind int

const (
	// Temporary failures (4xx replies, dropped connections, timeouts, dial
	// failures) should be retried later; the message was not accepted.
	Temporary Kind = iota + 1
	// Recipient failures are permanent failures of the address (RFC 3463
	// 5.1.1, 5.1.2, 5.1.6, 5.1.10, 5.2.1, or a bare 550/551/553 to RCPT
	// whose text does not blame our sender or relaying): mark the delivery
	// failed and suppress the address.
	Recipient
	// Server failures (authentication refused, TLS required but unavailable,
	// a certificate that does not verify, 5xx on the greeting, HELO or MAIL
	// FROM) mean every further message would fail the same way: stop the run
	// instead of burning the list.
	Server
	// Rejected failures refuse this message, not the address (content or
	// URL blocklists 5.7.x, size 5.3.x, quota 5.2.0, any 5xx at DATA
	// without an address code, our sender or relaying refused at RCPT, a
	// 4.x.x code under a 5yz reply): the delivery fails, nobody is suppressed,
	// the run goes on. A digest an editor or a feed filled with a
	// blocklisted URL must not unsubscribe every reader it was refused for.
	Rejected
)

// String returns the lower-case name of the kind, for logs and metrics.
func (k Kind) String() string {
	switch k {
	case Temporary:
		return "temporary"
	case Recipient:
		return "recipient"
	case Server:
		return "server"
	case Rejected:
		return "rejected"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// SendError is the error every Sender returns. Match it with errors.As or
// [Classify]; never parse its text.
type SendError struct {
	// Kind tells the caller what to do about the failure.
	Kind Kind
	// Code is the SMTP reply code (e.g. 550), 0 when the failure was not an
	// SMTP reply (network error, timeout, TLS failure).
	Code int
	// Enhanced is the RFC 3463 enhanced status code of the reply (e.g.
	// "5.1.1") when the server sent one.
	Enhanced string
	// Stage names the step that failed: "connect", "mail", "rcpt", "data",
	// "write", "end-of-data" or "" when unknown.
	Stage string
	// Err is the underlying error.
	Err error
}

// Error describes the failure; it never contains credentials.
func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("send (")
	b.WriteString(e.Kind.String())
	if e.Stage != "" {
		b.WriteString(", ")
		b.WriteString(e.Stage)
	}
	b.WriteString(")")
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *SendError) Unwrap() error { return e.Err }

// Classify returns err as a *SendError: the one it wraps if any, else a new
// one classified from the error's type (an SMTP reply by its code, network
// errors and timeouts as Temporary, invalid addresses and header values as
// Recipient). It returns nil for a nil error. Unknown errors are Temporary:
// retrying is safer than dropping a subscriber or stopping a run.
func Classify(err error) *SendError {
	if err == nil {
		return nil
	}
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return classify("", err)
}

// classify builds a SendError for err raised at stage.
func classify(stage string, err error) *SendError {
	se := &SendError{Stage: stage, Err: err}
	var te *textproto.Error
	switch {
	case errors.As(err, &te):
		se.Code = te.Code
		se.Enhanced = enhancedCode(te.Msg)
		se.Kind = kindForReply(stage, te.Code, se.Enhanced, te.Msg)
	case errors.Is(err, ErrInvalidAddress), errors.Is(err, ErrHeaderInjection), errors.Is(err, ErrInvalidHeader):
		se.Kind = Recipient
	case isTransient(err):
		se.Kind = Temporary
	case stage == "connect":
		// The connection was made but the handshake failed for a reason that
		// is not an SMTP reply nor a network error: STARTTLS not offered,
		// certificate not trusted, no usable AUTH mechanism. Retrying will
		// not help.
		se.Kind = Server
	default:
		se.Kind = Temporary
	}
	return se
}

// kindForReply maps an SMTP reply code, its RFC 3463 enhanced code (may be
// "") and its text seen at stage to a Kind.
func kindForReply(stage string, code int, enhanced, text string) Kind {
	switch {
	case code >= 400 && code < 500:
		return Temporary
	case code == 530 || code == 534 || code == 535 || code == 538:
		// Authentication required, too weak, refused, or encryption
		// required for the mechanism.
		return Server
	case code >= 500 && code < 600:
		switch stage {
		case "rcpt", "data", "end-of-data", "":
			return permanentKind(stage, code, enhanced, text)
		default: // connect (greeting, HELO, AUTH), mail
			return Server
		}
	default:
		return Temporary
	}
}

// permanentKind classifies a 5xx reply about one message: only a reply
// that names the recipient's address as the problem suppresses it (see
// Recipient). Relays that refuse our sender or refuse to relay answer at
// RCPT too, for every reader alike: reading those as "no such mailbox"
// would unsubscribe a whole run, so anything doubtful is Rejected.
func permanentKind(stage string, code int, enhanced, text string) Kind {
	if enhanced != "" {
		if !strings.HasPrefix(enhanced, "5.") {
			// A 550 4.1.1 contradicts itself: nothing to suppress on.
			return Rejected
		}
		switch strings.TrimPrefix(enhanced, "5.") {
		case "1.1", "1.2", "1.6", "1.10", "2.1":
			// Bad mailbox, bad destination domain, mailbox moved, null
			// MX, mailbox disabled. 5.1.0, 5.1.3, 5.1.7 and 5.1.8 are
			// about an address that may be ours (the sender), and so is
			// a 5.1.1 whose text names the sender, not the recipient.
			if t := strings.ToLower(text); strings.Contains(t, "sender") && !strings.Contains(t, "recipient") {
				return Rejected
			}
			return Recipient
		case "2.2":
			// Mailbox full: soft, it may empty (the contract's 5.2.2).
			return Temporary
		default:
			return Rejected
		}
	}
	if stage != "rcpt" {
		return Rejected
	}
	switch code {
	case 550, 551, 553:
		// Without an enhanced code a bare 550 is as often a block of our
		// address or a policy ("listed at zen.spamhaus.org",
		// "Administrative prohibition") as a missing mailbox: only a text
		// that names the mailbox suppresses the reader.
		if blamesUs(text) || !namesMailbox(text) {
			return Rejected
		}
		return Recipient
	case 552:
		// Exceeded storage allocation: a full mailbox, as 5.2.2.
		return Temporary
	default:
		return Rejected
	}
}

// blamesUs reports whether the text of a bare reply points at our sender,
// at relaying or at a qmail status other than 5.1.1 rather than at the
// recipient's mailbox.
func blamesUs(text string) bool {
	t := strings.ToLower(text)
	if strings.Contains(t, "sender") || strings.Contains(t, "relay") || strings.Contains(t, "rcpthosts") {
		return true
	}
	for rest := t; ; {
		_, after, ok := strings.Cut(rest, "(#5.")
		if !ok {
			return false
		}
		if !strings.HasPrefix(after, "1.1)") {
			return true
		}
		rest = after
	}
}

// mailboxPhrases are what servers say, in a bare reply, of a recipient's
// mailbox that does not exist or takes no mail.
var mailboxPhrases = []string{"no such", "user unknown", "unknown user", "unknown recipient", "recipient unknown",
	"unknown mailbox", "not exist", "n't exist", "not found", "no mailbox", "mailbox unavailable", "mailbox name",
	"mailbox is disabled", "mailbox disabled", "account disabled", "not local", "invalid recipient", "invalid mailbox",
	"recipient address rejected", "unrouteable", "(#5.1.1)"}

// namesMailbox reports whether the text of a bare reply says the recipient's
// mailbox is unknown or closed.
func namesMailbox(text string) bool {
	t := strings.ToLower(text)
	for _, p := range mailboxPhrases {
		if strings.Contains(t, p) {
			return true
		}
	}
	return false
}

// isTransient reports whether err is a network-level failure worth retrying.
func isTransient(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &recErr) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// enhancedCode returns the RFC 3463 status code that starts the last line
// of msg, or "": in a multi-line reply the last line carries the verdict
// (net/textproto joins the lines with "\n", codes stripped).
func enhancedCode(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[i+1:])
	}
	tok, _, _ := strings.Cut(msg, " ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return ""
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return ""
		}
	}
	return tok
}
