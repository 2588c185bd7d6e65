package feed

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces what Redact hides.
const redacted = "xxxxx"

// Redact returns rawURL fit for a log line or an error message: its
// userinfo, the value of every query parameter (a parameter without a value
// whole) and its fragment are replaced by "xxxxx", as in
// "https://xxxxx@host/feed?api_key=xxxxx". Feed URLs often carry a key or a
// password there. Scheme, host, path and parameter names stay readable.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return redactUnparsed(rawURL)
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	u.RawQuery = redactQuery(u.RawQuery)
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = redacted, ""
	}
	if u.Opaque != "" {
		// "mailto:a@b?x" and the like: nothing below the scheme is shown.
		u.Opaque = redacted
	}
	return u.String()
}

// redactQuery replaces the values of a raw query string.
func redactQuery(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if p == "" {
			continue
		}
		name, _, ok := strings.Cut(p, "=")
		if !ok {
			parts[i] = redacted
			continue
		}
		parts[i] = name + "=" + redacted
	}
	return strings.Join(parts, "&")
}

// redactUnparsed is Redact for what url.Parse refuses: everything after
// the first '?' or '#' is hidden, and the userinfo when there is one.
func redactUnparsed(s string) string {
	cut := ""
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		cut = s[i:i+1] + redacted
		s = s[:i]
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		scheme, rest = "", s
	}
	host, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = redacted + host[i:]
	}
	out := host
	if strings.Contains(rest, "/") {
		out += "/" + path
	}
	if ok {
		out = scheme + "://" + out
	}
	return out + cut
}

// urlInText finds the URLs an error message may hold: net/http quotes the
// request URL ("Get \"https://…\": …"), with its password already replaced
// by "***" but its query as is.
var urlInText = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>\x60]+`)

// redactText applies Redact to every URL in s.
func redactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, Redact)
}

// redactURLError returns err with its URL redacted when it is a *url.Error
// (from url.Parse or an http.Client, which names the URL as given or a
// redirect's Location: the password masked, the query not).
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: Redact(ue.URL), Err: ue.Err}
	}
	return err
}

// redactedError is an error whose message has its URLs redacted; errors.Is
// and errors.As still see the original.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactError returns err with the URLs in its message redacted, or nil.
func redactError(err error) error {
	if err == nil {
		return nil
	}
	msg := redactText(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{err: err, msg: msg}
}
