// Package redact hides the secrets a URL may carry before it is logged or
// shown in an error.
//
// It imports no other crieur package, so that any package that logs a URL
// can use it.
package redact

import (
	"net/url"
	"strings"
)

// redacted replaces what URL hides.
const redacted = "xxxxx"

// URL returns rawURL fit for a log line or an error message: its
// userinfo, the value of every query parameter (a parameter without a value
// whole) and its fragment are replaced by "xxxxx", as in
// "https://xxxxx@host/feed?api_key=xxxxx". Feed and database URLs often
// carry a key or a password there. Scheme, host, path and parameter names
// stay readable.
func URL(rawURL string) string {
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

// redactUnparsed is URL for what url.Parse refuses: everything after
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
