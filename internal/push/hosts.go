package push

import (
	"fmt"
	"net/netip"
	"strings"
)

// DefaultHosts are the push services browsers hand out endpoints at:
// Chrome and Edge (FCM), Firefox (Mozilla autopush), Windows (WNS) and
// Safari (Apple). A "*." pattern matches every subdomain, at any depth,
// but not the name itself.
var DefaultHosts = []string{
	"fcm.googleapis.com",
	"updates.push.services.mozilla.com",
	"*.push.services.mozilla.com",
	"*.notify.windows.com",
	"web.push.apple.com",
	"*.push.apple.com",
}

// Hosts is the set of push-service host names endpoints may point at. The
// zero value matches nothing.
type Hosts struct {
	exact    map[string]bool
	suffixes []string // ".push.apple.com" for "*.push.apple.com"
}

// NewHosts returns DefaultHosts and the patterns of extra (CRIEUR_PUSH_HOSTS):
// host names in ASCII (an internationalised name in its xn-- form),
// optionally prefixed with "*." for their subdomains. Case and one trailing
// dot are ignored. The error names the first bad pattern.
func NewHosts(extra []string) (Hosts, error) {
	h := Hosts{exact: map[string]bool{}}
	for _, p := range append(DefaultHosts[:len(DefaultHosts):len(DefaultHosts)], extra...) {
		name := strings.TrimSuffix(strings.ToLower(p), ".")
		wild := strings.HasPrefix(name, "*.")
		name = strings.TrimPrefix(name, "*.")
		if err := checkPattern(name, wild); err != nil {
			return Hosts{}, fmt.Errorf("push host %q: %w", p, err)
		}
		if wild {
			h.suffixes = append(h.suffixes, "."+name)
		} else {
			h.exact[name] = true
		}
	}
	return h, nil
}

func checkPattern(name string, wild bool) error {
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Errorf("an address, not a host name (push services are reached by name, over TLS)")
	}
	if !validHostName(name) {
		return fmt.Errorf("not a host name: letters, digits and hyphens in dot-separated labels (write an internationalised name in its xn-- form), with an optional *. prefix")
	}
	// "*.com" would let anyone's host in.
	if wild && !strings.Contains(name, ".") {
		return fmt.Errorf("*. needs a domain of at least two labels")
	}
	return nil
}

// Match reports whether host, as url.URL.Hostname gives it, is one of the
// set. It must be an ASCII host name (Unicode is refused, its xn-- form is
// matched as it is), compared without case; an address, an empty label or
// a trailing dot never matches, so that each endpoint has one spelling.
func (h Hosts) Match(host string) bool {
	host = strings.ToLower(host)
	if !validHostName(host) {
		return false
	}
	if h.exact[host] {
		return true
	}
	for _, s := range h.suffixes {
		// validHostName leaves no empty label before the suffix.
		if len(host) > len(s) && strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// validHostName reports whether s is dot-separated labels of 1 to 63 ASCII
// lower-case letters, digits and inner hyphens, 253 bytes at most (RFC 1123).
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}
