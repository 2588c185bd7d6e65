package push

import (
	"errors"
	"net/mail"
	"net/url"
	"strings"
)

// CheckSubject checks a VAPID subject (the JWT's sub claim, RFC 8292 §2.1)
// as Apple's push service does: it answers 403 BadJwtToken to every push
// signed with a subject that is not a mailto: address or an https: URL
// that could reach someone, so such a setting must be refused at start
// rather than found in the failures of every Safari and iOS reader.
func CheckSubject(sub string) error {
	switch {
	case strings.HasPrefix(sub, "mailto:"):
		addr := strings.TrimPrefix(sub, "mailto:")
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr || a.Name != "" {
			return errors.New("a mailto: subject must be one bare address, such as mailto:alerts@journal.example")
		}
		_, domain, _ := strings.Cut(addr, "@")
		if !publicName(domain) {
			return errors.New("a mailto: subject must be an address at a public domain name (not localhost or a bare host), such as mailto:alerts@journal.example")
		}
		return nil
	case strings.HasPrefix(sub, "https:"):
		u, err := url.Parse(sub)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" {
			return errors.New("an https: subject must be an absolute URL such as https://journal.example")
		}
		if !publicName(u.Hostname()) {
			return errors.New("an https: subject must name a public host (not localhost or a bare host), such as https://journal.example")
		}
		return nil
	}
	return errors.New("the subject must be a mailto: address or an https: URL, such as mailto:alerts@journal.example")
}

// publicName reports whether a host name looks like one mail or the web
// can reach: a dotted name that is not localhost's.
func publicName(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return strings.Contains(h, ".") && h != "localhost" && !strings.HasSuffix(h, ".localhost") &&
		!strings.ContainsAny(h, " /\\") && !strings.HasPrefix(h, "[") && net4(h)
}

// net4 refuses a bare IPv4 address as a host name.
func net4(h string) bool {
	for _, c := range h {
		if (c < '0' || c > '9') && c != '.' {
			return true
		}
	}
	return false
}
