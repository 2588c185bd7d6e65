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
// carry a key or a password there. In the path, the value of every matrix
// parameter (";jsessionid=xxxxx") and every segment that looks like a key
// (see keyLike) are hidden too. Scheme, host, the rest of the path and
// parameter names stay readable.
func URL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return redactUnparsed(rawURL)
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	u.RawQuery = redactQuery(u.RawQuery)
	if p := redactPath(u.EscapedPath()); p != u.EscapedPath() {
		if unescaped, err := url.PathUnescape(p); err == nil {
			u.Path, u.RawPath = unescaped, p
		}
	}
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

// redactPath hides matrix parameter values and key-like segments of an
// escaped path.
func redactPath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		name, params, hasParams := strings.Cut(seg, ";")
		if keyLike(name) {
			name = redacted
		}
		if hasParams {
			ps := strings.Split(params, ";")
			for j, param := range ps {
				if k, _, ok := strings.Cut(param, "="); ok {
					ps[j] = k + "=" + redacted
				} else if param != "" {
					ps[j] = redacted
				}
			}
			name += ";" + strings.Join(ps, ";")
		}
		segs[i] = name
	}
	return strings.Join(segs, "/")
}

// keyLike reports whether a path segment looks like a key or a session
// token: at least 16 characters of [A-Za-z0-9_-], some letters and some
// digits, and one of its words (between - and _) mixing both. An
// article slug ("covid-19-updates", "2026-12-07-titre") is words of
// letters or of digits and stays readable; a UUID or a base64url key does
// not.
func keyLike(seg string) bool {
	if len(seg) < 16 {
		return false
	}
	mixed := false
	word := func(w string) bool {
		return strings.ContainsAny(w, "0123456789") && strings.ContainsFunc(w, isLetter)
	}
	for _, c := range seg {
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	for w := range strings.FieldsFuncSeq(seg, func(c rune) bool { return c == '-' || c == '_' }) {
		mixed = mixed || word(w)
	}
	return mixed
}

func isLetter(c rune) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

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

// Origin returns only the scheme and host of rawURL, as
// "https://host:port/…": for pages shown to people who need to tell feeds
// apart but not to read them, where URL's rules for logs (which keep a
// path segment a key could hide in, such as /u/secretkeyabcdefghij/) are
// not conservative enough. A URL that does not parse is "…".
func Origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "…"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
