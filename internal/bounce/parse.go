package bounce

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
)

// MaxReportSize is the largest report read, 1 MiB: a DSN with the
// original message attached is rarely over 200 KiB (crieur's emails are
// far smaller), and every way in refuses or truncates beyond it.
const MaxReportSize = 1 << 20

const (
	maxParts    = 64       // MIME parts walked in one report
	maxDepth    = 6        // multipart nesting followed
	maxText     = 64 << 10 // human-readable text kept for the fallbacks
	maxDiagnose = 300      // characters of a diagnostic kept
)

// ErrTooLarge and ErrMalformed are why Parse gave up.
var (
	ErrTooLarge  = errors.New("report larger than 1 MiB")
	ErrMalformed = errors.New("report is not a readable message")
)

// Type is what kind of mail Parse found.
type Type string

const (
	// TypeDSN is a delivery status notification: RFC 3464, or a plain
	// text bounce from a mailer daemon that names a status code.
	TypeDSN Type = "dsn"
	// TypeFeedback is an RFC 5965 (ARF) feedback report.
	TypeFeedback Type = "feedback"
	// TypeAutoReply is an RFC 3834 auto-response (out of office …).
	TypeAutoReply Type = "auto-reply"
	// TypeOther is anything else: mail for a person, spam.
	TypeOther Type = "other"
)

// Recipient is one per-recipient block of a report.
type Recipient struct {
	Address    string // Final-Recipient (DSN) or Original-Rcpt-To (ARF), as written
	Action     string // lowercase: failed, delayed, delivered, relayed, expanded
	Status     string // enhanced status code as written, e.g. "5.1.1"
	Diagnostic string // the remote server's words, at most 300 characters
}

// Parsed is what a report says, and what it quotes of the email it is
// about, so that the email can be found.
type Parsed struct {
	Type         Type
	Subject      string // decoded
	FeedbackType string // ARF Feedback-Type, lowercase
	Recipients   []Recipient
	// Addressed are where the report itself was sent (To, Delivered-To,
	// X-Original-To …): the VERP address for a DSN that came by IMAP.
	Addressed []string
	// ReturnPaths are the original email's envelope sender as the report
	// quotes it (Return-Path of the attached message, X-Postfix-Sender,
	// ARF Original-Mail-From).
	ReturnPaths []string
	// MessageIDs are the original email's Message-ID as quoted.
	MessageIDs []string
}

// Parse reads one report. Any mail parses (TypeOther for what is no
// report); only a message too large or without a readable header is an
// error. Parse never reads beyond MaxReportSize and bounds the MIME parts
// and nesting it follows.
func Parse(raw []byte) (*Parsed, error) {
	if len(raw) > MaxReportSize {
		return nil, ErrTooLarge
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		// Not err's text: it quotes the line that broke the header,
		// often "<reader@address>: …", and this error reaches the log
		// and the parked list editors see.
		return nil, ErrMalformed
	}
	h := msg.Header
	p := &Parsed{Type: TypeOther, Subject: decodeHeader(h.Get("Subject"))}
	for _, k := range []string{"To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"} {
		for _, v := range h[k] {
			p.Addressed = append(p.Addressed, addresses(v)...)
		}
	}
	w := &walker{p: p}
	w.walk(h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), msg.Body, 0)
	switch {
	case w.dsn:
		p.Type = TypeDSN
	case w.feedback:
		p.Type = TypeFeedback
	default:
		// Before the auto-reply test: Exim marks its plain-text bounces
		// Auto-Submitted too.
		if r, ok := plainBounce(h, p.Subject, w.text.String()); ok {
			p.Type = TypeDSN
			p.Recipients = append(p.Recipients, r)
		} else if isAutoReply(h, p.Subject) {
			p.Type = TypeAutoReply
		}
	}
	if p.Type != TypeOther && p.Type != TypeAutoReply {
		quotedRefs(p, w.text.String())
		// Last: many reports thread under the email they are about,
		// some (Gmail, Outlook) even when they attach nothing of it.
		for _, k := range []string{"In-Reply-To", "References"} {
			p.MessageIDs = append(p.MessageIDs, msgIDs.FindAllString(h.Get(k), 8)...)
		}
	}
	return p, nil
}

// walker gathers what the MIME tree of one report holds.
type walker struct {
	p             *Parsed
	parts         int
	dsn, feedback bool
	text          strings.Builder
}

func (w *walker) walk(ctype, cte string, body io.Reader, depth int) {
	w.parts++
	if w.parts > maxParts || depth > maxDepth {
		return
	}
	media, params, err := mime.ParseMediaType(ctype)
	if err != nil || media == "" {
		media, params = "text/plain", map[string]string{}
	}
	data, err := io.ReadAll(io.LimitReader(decodeTransfer(cte, body), MaxReportSize))
	if err != nil && len(data) == 0 {
		return
	}
	switch {
	case strings.HasPrefix(media, "multipart/"):
		if params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(bytes.NewReader(data), params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return
			}
			w.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, depth+1)
			if w.parts > maxParts {
				return
			}
		}
	case media == "message/delivery-status" || media == "message/global-delivery-status":
		w.dsn = true
		w.deliveryStatus(toUTF8(data, params["charset"]))
	case media == "message/feedback-report":
		w.feedback = true
		w.feedbackReport(toUTF8(data, params["charset"]))
	case media == "message/rfc822" || media == "message/global" || media == "text/rfc822-headers" ||
		media == "message/rfc822-headers" || media == "message/global-headers":
		w.original(data)
	case media == "text/plain":
		if w.text.Len() < maxText {
			t := toUTF8(data, params["charset"])
			w.text.WriteString(t[:min(len(t), maxText-w.text.Len())])
			w.text.WriteByte('\n')
		}
	}
}

// original reads the header of the email a report is about.
func (w *walker) original(data []byte) {
	hdr, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMIMEHeader()
	for _, v := range hdr.Values("Return-Path") {
		w.p.ReturnPaths = append(w.p.ReturnPaths, addresses(v)...)
	}
	for _, v := range hdr.Values("Message-Id") {
		w.p.MessageIDs = append(w.p.MessageIDs, strings.TrimSpace(v))
	}
}

// deliveryStatus reads the fields of an RFC 3464 delivery-status part:
// per-message fields, then one block per recipient.
func (w *walker) deliveryStatus(s string) {
	for _, f := range fieldBlocks(s) {
		if v := f["x-postfix-sender"]; v != "" {
			w.p.ReturnPaths = append(w.p.ReturnPaths, afterType(v))
		}
		if v := f["x-original-message-id"]; v != "" {
			w.p.MessageIDs = append(w.p.MessageIDs, msgIDs.FindAllString(v, 1)...)
		}
		if f["final-recipient"] == "" && f["original-recipient"] == "" && f["action"] == "" && f["status"] == "" {
			continue // the per-message block, or a stray one
		}
		addr := afterType(f["final-recipient"])
		if addr == "" {
			addr = afterType(f["original-recipient"])
		}
		w.p.Recipients = append(w.p.Recipients, Recipient{Address: addr, Action: strings.ToLower(f["action"]),
			Status: firstField(f["status"]), Diagnostic: clipDiagnostic(afterType(f["diagnostic-code"]))})
	}
}

// feedbackReport reads an RFC 5965 machine-readable part.
func (w *walker) feedbackReport(s string) {
	for _, f := range fieldBlocks(s) {
		if v := f["feedback-type"]; v != "" {
			w.p.FeedbackType = strings.ToLower(firstField(v))
		}
		if v := f["original-mail-from"]; v != "" {
			w.p.ReturnPaths = append(w.p.ReturnPaths, addresses(v)...)
		}
		if v := f["original-rcpt-to"]; v != "" {
			w.p.Recipients = append(w.p.Recipients, Recipient{Address: strings.Trim(strings.TrimSpace(v), "<>")})
		}
	}
}

// fieldBlocks splits header-like fields into blocks at blank lines, keys
// lowercased, continuation lines unfolded; the first value of a key wins.
func fieldBlocks(s string) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
			cur = map[string]string{}
		}
		last = ""
	}
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				last = ""
				continue
			}
			k = strings.ToLower(strings.TrimSpace(k))
			if _, dup := cur[k]; dup {
				last = ""
				continue
			}
			cur[k], last = strings.TrimSpace(v), k
		}
		if len(out) > maxParts {
			break
		}
	}
	flush()
	return out
}

// afterType drops the type of a typed field ("rfc822; a@b", "smtp; 550 …").
func afterType(v string) string {
	if _, rest, ok := strings.Cut(v, ";"); ok {
		return strings.TrimSpace(rest)
	}
	return strings.TrimSpace(v)
}

func firstField(v string) string {
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

func clipDiagnostic(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxDiagnose {
		return s
	}
	s = s[:maxDiagnose]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// addresses reads the addresses of an address-list header, leniently:
// a bare `<a@b>` or `a@b` when it is no valid list.
func addresses(v string) []string {
	if l, err := mail.ParseAddressList(v); err == nil {
		out := make([]string, 0, len(l))
		for _, a := range l {
			out = append(out, a.Address)
		}
		return out
	}
	v = strings.Trim(strings.TrimSpace(v), "<>")
	if v == "" || !strings.Contains(v, "@") {
		return nil
	}
	return []string{v}
}

func decodeTransfer(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &spaceless{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// spaceless drops the spaces and tabs some mailers leave at the end of
// base64 lines (the decoder itself skips CR and LF only).
type spaceless struct{ r io.Reader }

func (s *spaceless) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// toUTF8 decodes text in its declared charset; text declared as nothing
// (or as US-ASCII, or UTF-8) that is not valid UTF-8 is read as
// Windows-1252, the most common 8-bit charset of undeclared mail.
func toUTF8(b []byte, charset string) string {
	cs := strings.ToLower(strings.TrimSpace(charset))
	if cs != "" && cs != "utf-8" && cs != "us-ascii" && cs != "ascii" {
		if enc, err := htmlindex.Get(cs); err == nil {
			if out, err := enc.NewDecoder().Bytes(b); err == nil {
				return string(out)
			}
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

var wordDecoder = mime.WordDecoder{CharsetReader: func(charset string, in io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(in), nil
}}

// decodeHeader decodes RFC 2047 encoded words; raw 8-bit text is read as
// toUTF8 reads undeclared text.
func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		v = d
	}
	return toUTF8([]byte(v), "")
}

// quotedRefs finds, in a report's human-readable text, the headers of the
// original email some mailers quote there instead of attaching it.
func quotedRefs(p *Parsed, text string) {
	for _, m := range quotedHeader.FindAllStringSubmatch(text, 16) {
		switch strings.ToLower(m[1]) {
		case "message-id":
			p.MessageIDs = append(p.MessageIDs, strings.TrimSpace(m[2]))
		case "return-path":
			p.ReturnPaths = append(p.ReturnPaths, addresses(m[2])...)
		}
	}
}

var msgIDs = regexp.MustCompile(`<[^<>\s]{1,200}>`)

var quotedHeader = regexp.MustCompile(`(?im)^[ \t>]*(message-id|return-path):[ \t]*(<[^>\r\n]{1,200}>)`)
