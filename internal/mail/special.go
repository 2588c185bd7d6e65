package mail

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSpecialUseDomain is wrapped, beside [ErrInvalidAddress], by the error
// about an address whose domain is a special-use name that no mail from the
// internet reaches, or a wildcard-DNS name that resolves to whatever IP
// address it spells.
var ErrSpecialUseDomain = errors.New("the domain is a special-use name, not a public mail domain")

// specialTLDs never receive public mail: RFC 6761 (localhost, invalid),
// RFC 6762 (local), ICANN's private-use .internal, the localdomain of
// many hosts files, RFC 7686 (onion), RFC 9476 (alt), and the private
// names of office and home networks (lan, corp, home, intranet). .test and .example (RFC 6761 too) stay accepted: they
// receive no mail either, but they are what documentation and tests use,
// and a message to them fails at the relay, harming nobody.
var specialTLDs = map[string]bool{"localhost": true, "local": true, "internal": true, "invalid": true, "localdomain": true,
	"onion": true, "alt": true, "lan": true, "corp": true, "home": true, "intranet": true}

// specialSuffixes are names under a public suffix that are not public mail
// domains: the home network (RFC 8375), reverse DNS, and wildcard DNS
// services that map a name to loopback or to the IP address it spells
// (10.0.0.1.nip.io is 10.0.0.1 by another name).
var specialSuffixes = []string{"home.arpa", "in-addr.arpa", "ip6.arpa", "nip.io", "sslip.io", "xip.io", "localtest.me",
	"lvh.me", "traefik.me", "vcap.me", "localh.st", "local.gd", "lacolhost.com", "fuf.me"}

// checkSpecialUse refuses a special-use or IP-spelling domain (lower-case,
// already checked by checkDomain).
func checkSpecialUse(domain string) error {
	if specialTLDs[domain[strings.LastIndexByte(domain, '.')+1:]] {
		return fmt.Errorf("%w: %q", ErrSpecialUseDomain, domain)
	}
	for _, s := range specialSuffixes {
		if domain == s || strings.HasSuffix(domain, "."+s) {
			return fmt.Errorf("%w: %q", ErrSpecialUseDomain, domain)
		}
	}
	return nil
}
