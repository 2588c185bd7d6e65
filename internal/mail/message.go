package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrIncomplete is wrapped by errors about a Message that lacks a required
// field (From, To, Subject, Text or HTML).
var ErrIncomplete = errors.New("incomplete message")

// maxLineLen is the hard limit on a line of a message (RFC 5322 2.1.1),
// without its CRLF.
const maxLineLen = 998

// foldAt is the soft limit (RFC 5322 2.1.1) at which unstructured headers are
// folded.
const foldAt = 78

// Message is one email to one recipient, as crieur sends them: a
// multipart/alternative body (text/plain first, then text/html, both UTF-8
// and quoted-printable) with the headers bulk senders need.
//
// Every value that reaches a header is checked: a control character (CR, LF,
// NUL, …) makes [Message.Bytes] fail with an error wrapping
// [ErrHeaderInjection]; nothing is silently stripped.
type Message struct {
	// From is the author as configured (CRIEUR_MAIL_FROM), "Name <addr@domain>"
	// or a bare address. Its domain also names the Message-ID.
	From string
	// To is the recipient's bare address (see [ValidateAddress]).
	To string
	// Subject is plain text, trimmed; it is RFC 2047 encoded when not ASCII.
	Subject string
	// Text and HTML are the two alternatives of the body; both are required
	// and should carry the same content (SpamAssassin's MPART_ALT_DIFF).
	Text, HTML string
	// ListUnsubscribe is an absolute http(s) URL that unsubscribes the
	// recipient in one click (RFC 8058): it produces `List-Unsubscribe: <URL>`
	// and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. Empty for none.
	ListUnsubscribe string
	// ListID is `Name <list.id.domain>` (or just the id); only the display
	// name is RFC 2047 encoded when not ASCII. Empty for none.
	ListID string
	// FeedbackID is Gmail's Feedback-ID, `campaign:list:brand:sender`,
	// printable ASCII with no per-recipient values. Empty for none.
	FeedbackID string
	// Bulk adds Precedence: bulk, Auto-Submitted: auto-generated and
	// X-Auto-Response-Suppress: All, so that auto-responders stay quiet.
	Bulk bool
	// Date is the Date header; the zero time means now.
	Date time.Time
	// TextHead and HTMLHead, when set, are the quoted-printable encoding
	// of the start of the text and the HTML part, in pieces written in
	// order (QPLines.Encode), shared by many messages and encoded once;
	// Text and HTML then hold only the rest of their part. Each piece ends
	// with a line break (CRLF), so that the rest is encoded afresh as it
	// would be in one piece.
	TextHead, HTMLHead [][]byte
	// MessageID, when set, is used as the Message-ID header and must look
	// like `<left@right>`; when empty a random one is generated on the From
	// domain (see [NewMessageID]).
	MessageID string
}

// NewMessageID returns a fresh `<random@domain>` Message-ID for the given
// From (display name allowed). The domain is the From address's, never the
// machine's host name.
func NewMessageID(from string) (string, error) {
	_, addr, err := parseFrom(from)
	if err != nil {
		return "", err
	}
	_, domain, _ := strings.Cut(addr, "@")
	return newMessageID(domain)
}

func newMessageID(domain string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">", nil
}

// Bytes composes the whole RFC 5322 message with CRLF line endings, ready to
// be DKIM-signed and sent.
func (m Message) Bytes() ([]byte, error) { return m.AppendBytes(nil) }

// AppendBytes is Bytes composed into dst's storage (dst's content is
// dropped): a worker that sends one message at a time passes back the
// slice it got last time, so that a ~15 KB digest is not a fresh 15 KB of
// garbage, about half of all a digest allocated.
func (m Message) AppendBytes(dst []byte) ([]byte, error) {
	from, fromAddr, err := parseFrom(m.From)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	to, err := ValidateAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("compose: To: %w", err)
	}
	if err := checkControls("Subject", m.Subject); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	subject := strings.TrimSpace(m.Subject)
	if subject == "" {
		return nil, fmt.Errorf("compose: %w: empty Subject", ErrIncomplete)
	}
	if (m.Text == "" && len(m.TextHead) == 0) || (m.HTML == "" && len(m.HTMLHead) == 0) {
		return nil, fmt.Errorf("compose: %w: both Text and HTML are required", ErrIncomplete)
	}
	headLen := 0
	for _, h := range [][][]byte{m.TextHead, m.HTMLHead} {
		for _, piece := range h {
			if !bytes.HasSuffix(piece, []byte("\r\n")) {
				return nil, fmt.Errorf("compose: %w: a piece of a part's head must end with a line break", ErrIncomplete)
			}
			headLen += len(piece)
		}
	}
	unsub, err := formatListUnsubscribe(m.ListUnsubscribe)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	listID, err := formatListID(m.ListID)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	if err := checkControls("Feedback-ID", m.FeedbackID); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	if !isPrintableASCII(m.FeedbackID) {
		return nil, fmt.Errorf("compose: Feedback-ID: %w: must be printable ASCII without spaces", ErrInvalidHeader)
	}
	msgID := m.MessageID
	if msgID == "" {
		_, domain, _ := strings.Cut(fromAddr, "@")
		if msgID, err = newMessageID(domain); err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
	} else if err := checkMessageID(msgID); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}

	buf := bytes.NewBuffer(dst[:0])
	buf.Grow(headLen + len(m.Text) + len(m.HTML) + len(m.HTML)/8 + 2048)
	writeHeader(buf, "From", from)
	writeHeader(buf, "To", to)
	writeHeader(buf, "Subject", encodeUnstructured(subject))
	writeHeader(buf, "Date", date.Format(time.RFC1123Z))
	writeHeader(buf, "Message-ID", msgID)
	writeHeader(buf, "MIME-Version", "1.0")
	if listID != "" {
		writeHeader(buf, "List-Id", listID)
	}
	if unsub != "" {
		writeHeader(buf, "List-Unsubscribe", unsub)
		writeHeader(buf, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	if m.FeedbackID != "" {
		writeHeader(buf, "Feedback-ID", m.FeedbackID)
	}
	if m.Bulk {
		writeHeader(buf, "Precedence", "bulk")
		writeHeader(buf, "Auto-Submitted", "auto-generated")
		writeHeader(buf, "X-Auto-Response-Suppress", "All")
	}
	mw := multipart.NewWriter(buf)
	// Boundaries are 60 hex characters: fold before the parameter so the
	// line stays under 78 characters.
	buf.WriteString("Content-Type: multipart/alternative;\r\n boundary=\"" + mw.Boundary() + "\"\r\n\r\n")
	// Only the headers can hold a long line: the parts' headers are fixed
	// and quoted-printable lines are at most 76 octets.
	headerEnd := buf.Len()
	for _, part := range []struct {
		ctype string
		head  [][]byte
		body  string
	}{
		{"text/plain; charset=UTF-8", m.TextHead, m.Text},
		{"text/html; charset=UTF-8", m.HTMLHead, m.HTML},
	} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", part.ctype)
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, fmt.Errorf("compose: part: %w", err)
		}
		// EncodeQP writes what mime/quotedprintable would, without its
		// byte-at-a-time loop (a sixth of a digest's build in a profile).
		for _, piece := range part.head {
			if _, err := pw.Write(piece); err != nil {
				return nil, fmt.Errorf("compose: part: %w", err)
			}
		}
		if _, err := pw.Write(AppendQP(buf.AvailableBuffer(), part.body)); err != nil {
			return nil, fmt.Errorf("compose: part: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	buf.WriteString("\r\n")
	raw := buf.Bytes()
	if err := checkLineLengths(raw[:headerEnd]); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return raw, nil
}

// parseFrom validates a configured From ("Name <addr>" or a bare address) and
// returns the header value and the bare address. The domain need not be
// dotted (the default is newsletter@localhost).
func parseFrom(s string) (header, addr string, err error) {
	if err := checkControls("From", s); err != nil {
		return "", "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", "", fmt.Errorf("From: %w: empty", ErrIncomplete)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", "", fmt.Errorf("From: %w: %w", ErrInvalidAddress, err)
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(a.Address, " \t\"") || !isPrintableASCII(a.Address) {
		return "", "", fmt.Errorf("From: %w: %q", ErrInvalidAddress, a.Address)
	}
	addr = local + "@" + strings.ToLower(domain)
	if a.Name == "" {
		return addr, addr, nil
	}
	return encodePhrase(a.Name) + " <" + addr + ">", addr, nil
}

// formatListUnsubscribe returns the List-Unsubscribe value for an absolute
// http(s) URL.
func formatListUnsubscribe(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if err := checkControls("List-Unsubscribe", raw); err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("List-Unsubscribe: %w: %w", ErrInvalidHeader, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !isPrintableASCII(raw) || strings.ContainsAny(raw, "<>\",") {
		return "", fmt.Errorf("List-Unsubscribe: %w: want an absolute http(s) URL in ASCII without <>\",", ErrInvalidHeader)
	}
	return "<" + raw + ">", nil
}

// formatListID returns the List-Id value (RFC 2919) for `Name <id>`, `<id>` or
// a bare id, encoding only the display name.
func formatListID(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if err := checkControls("List-Id", s); err != nil {
		return "", err
	}
	name, id := "", strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if !strings.HasSuffix(id, ">") {
			return "", fmt.Errorf("List-Id: %w: missing '>'", ErrInvalidHeader)
		}
		name = strings.TrimSpace(s[:i])
		id = strings.TrimSuffix(strings.TrimSpace(s[i+1:]), ">")
	}
	if !strings.Contains(id, ".") || strings.HasPrefix(id, ".") || strings.HasSuffix(id, ".") || strings.Contains(id, "..") {
		return "", fmt.Errorf("List-Id: %w: id %q must be a dotted name", ErrInvalidHeader, id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] != '.' && !isAtext(id[i]) {
			return "", fmt.Errorf("List-Id: %w: id %q contains %q", ErrInvalidHeader, id, id[i])
		}
	}
	if name == "" {
		return "<" + id + ">", nil
	}
	return encodePhrase(name) + " <" + id + ">", nil
}

// checkMessageID accepts a caller-supplied `<left@right>` id.
func checkMessageID(id string) error {
	if err := checkControls("Message-ID", id); err != nil {
		return err
	}
	inner, ok := strings.CutPrefix(id, "<")
	inner, ok2 := strings.CutSuffix(inner, ">")
	left, right, ok3 := strings.Cut(inner, "@")
	if !ok || !ok2 || !ok3 || left == "" || right == "" || !isPrintableASCII(inner) || strings.ContainsAny(inner, "<> \"") {
		return fmt.Errorf("Message-ID: %w: want <left@right>", ErrInvalidHeader)
	}
	return nil
}

// encodeUnstructured encodes an unstructured header value (Subject) with
// RFC 2047 Q-encoding when it is not plain ASCII or could be mistaken for an
// encoded word.
func encodeUnstructured(s string) string {
	if isPrintableASCII(strings.ReplaceAll(s, " ", "")) && !strings.Contains(s, "=?") {
		return s
	}
	return qEncode(s)
}

// encodePhrase renders a display name as an RFC 5322 phrase: atoms as they
// are, other ASCII as a quoted string, anything else as RFC 2047 encoded
// words.
func encodePhrase(name string) string {
	ascii, atoms := true, true
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= utf8.RuneSelf:
			ascii = false
		case c == ' ' || isAtext(c):
		default:
			atoms = false
		}
	}
	switch {
	case !ascii || strings.Contains(name, "=?"):
		return qEncode(name)
	case atoms:
		return name
	default:
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
		return `"` + r.Replace(name) + `"`
	}
}

// maxWord bounds an encoded word so that "Subject: " plus one word stays
// under 78 characters (RFC 2047 allows 75).
const maxWord = 66

// qEncode returns s as RFC 2047 "Q" encoded words separated by spaces. It
// leaves only letters, digits and "!*+-/" unencoded, the set allowed in a
// phrase (RFC 2047 section 5(3)), so the result fits unstructured fields and
// display names alike. Words never split a UTF-8 sequence.
func qEncode(s string) string {
	const prefix, suffix = "=?UTF-8?q?", "?="
	var out, word strings.Builder
	flush := func() {
		if word.Len() == 0 {
			return
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(prefix + word.String() + suffix)
		word.Reset()
	}
	var enc []byte
	for _, r := range s {
		enc = enc[:0]
		var rb [utf8.UTFMax]byte
		for _, c := range rb[:utf8.EncodeRune(rb[:], r)] {
			switch {
			case c == ' ':
				enc = append(enc, '_')
			case c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!*+-/", c) >= 0):
				enc = append(enc, c)
			default:
				enc = append(enc, '=', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			}
		}
		if len(prefix)+word.Len()+len(enc)+len(suffix) > maxWord {
			flush()
		}
		word.Write(enc)
	}
	flush()
	return out.String()
}

// isAtext reports whether c is RFC 5322 atext.
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// isPrintableASCII reports whether s holds only visible ASCII characters.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

// writeHeader writes one header field, folding at spaces so that lines stay
// under 78 characters where the value allows it.
func writeHeader(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteString(": ")
	col := len(name) + 2
	rest := value
	for first := true; rest != ""; first = false {
		var chunk string
		if i := strings.IndexByte(rest[1:], ' '); i < 0 {
			chunk, rest = rest, ""
		} else {
			chunk, rest = rest[:i+1], rest[i+1:]
		}
		// Fold only before a space that is followed by something else, so
		// no line is whitespace-only and unfolding restores the value.
		if !first && col+len(chunk) > foldAt && chunk[0] == ' ' && strings.TrimLeft(chunk, " ") != "" {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteString(chunk)
		col += len(chunk)
	}
	b.WriteString("\r\n")
}

// checkLineLengths enforces the 998-octet line limit.
func checkLineLengths(raw []byte) error {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		if i < 0 {
			i = len(raw)
		}
		if n := len(bytes.TrimSuffix(raw[:i], []byte("\r"))); n > maxLineLen {
			return fmt.Errorf("%w: a line of %d octets exceeds %d (a header value too long to fold?)", ErrInvalidHeader, n, maxLineLen)
		}
		raw = raw[min(i+1, len(raw)):]
	}
	return nil
}
