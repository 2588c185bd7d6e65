package mail

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxAddressLen is the longest address that fits a RCPT TO path (RFC 5321
// 4.5.3.1.3: 256 octets including the angle brackets).
const maxAddressLen = 254

// ValidateAddress checks that s is one bare, deliverable-looking address
// (local@domain.tld) and returns it normalised: surrounding spaces trimmed
// and the domain lower-cased. It accepts what net/mail parses as an
// RFC 5322 addr-spec and additionally requires: no display name or angle
// brackets, exactly one '@', a non-empty ASCII local part of at most 64
// octets, an ASCII domain of letters, digits and hyphens with at least one
// dot, no spaces, at most 254 octets. Internationalised (SMTPUTF8) addresses
// are refused. Errors wrap [ErrInvalidAddress], and also
// [ErrHeaderInjection] when s holds a control character.
func ValidateAddress(s string) (string, error) {
	if err := checkControls("address", s); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidAddress, err)
	}
	s = strings.TrimSpace(s)
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q: %s", ErrInvalidAddress, s, why)
	}
	switch {
	case s == "":
		return bad("empty")
	case len(s) > maxAddressLen:
		return bad("longer than 254 characters")
	case strings.ContainsFunc(s, unicode.IsSpace):
		return bad("contains a space")
	case strings.Count(s, "@") != 1:
		return bad("must contain exactly one @")
	}
	for _, r := range s {
		if r >= utf8.RuneSelf {
			return bad("non-ASCII addresses are not supported")
		}
	}
	parsed, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrInvalidAddress, s, err)
	}
	if parsed.Name != "" || parsed.Address != s {
		return bad("must be a bare address without display name, brackets or quotes")
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || len(local) > 64 {
		return bad("local part must have 1 to 64 characters")
	}
	domain = strings.ToLower(domain)
	if err := checkDomain(domain); err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrInvalidAddress, s, err)
	}
	if err := checkSpecialUse(domain); err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrInvalidAddress, s, err)
	}
	return local + "@" + domain, nil
}

// checkDomain requires a dotted ASCII host name (no IP literal, no trailing
// dot).
func checkDomain(domain string) error {
	if strings.HasPrefix(domain, "[") {
		return fmt.Errorf("%w: domain %q", ErrAddressLiteral, domain)
	}
	if !strings.Contains(domain, ".") {
		return fmt.Errorf("domain %q has no dot", domain)
	}
	// Top-level domains start with a letter (RFC 3696 2, xn-- included):
	// 127.0.0.1, 10.1 or 0x7f.0.0.1 are addresses a resolver may read as
	// an IP, and mail to them would reach the sender's own network.
	if tld := domain[strings.LastIndexByte(domain, '.')+1:]; tld != "" && !(tld[0] >= 'a' && tld[0] <= 'z') {
		return fmt.Errorf("%w: domain %q", ErrAddressLiteral, domain)
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("domain %q has an empty or overlong label", domain)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("domain %q has a label starting or ending with '-'", domain)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("domain %q contains %q", domain, c)
			}
		}
	}
	return nil
}

// checkControls rejects any control character (C0 except horizontal tab,
// DEL, C1, and the Unicode line and paragraph separators) and invalid UTF-8
// in a value bound for a header.
func checkControls(field, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s: %w: not valid UTF-8", field, ErrInvalidHeader)
	}
	for i, r := range v {
		if r == '\t' {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%s: %w: %U at byte %d", field, ErrHeaderInjection, r, i)
		}
	}
	return nil
}
