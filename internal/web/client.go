package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// PrivateProxies are the ranges CRIEUR_TRUST_PROXY=true trusts as reverse
// proxies when CRIEUR_TRUSTED_PROXIES is empty: loopback, RFC 1918 and
// IPv6 unique local addresses, where a proxy on the same host, in a
// container network or on the publisher's LAN connects from. A client on
// the internet cannot connect from them, nor write the address its proxy
// appends to X-Forwarded-For.
var PrivateProxies = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
}

// ClientIP is the key rate limits count a requester by: the direct peer,
// or, when that peer is a trusted proxy (Deps.TrustedProxies), the
// rightmost X-Forwarded-For address that is not one. Entries left of it
// were written by the client and are never believed. An IPv6 client is
// counted by its /64, the smallest block a provider hands out: one
// subscriber line has 2^64 addresses to rotate through.
func (s *Server) ClientIP(r *http.Request) string {
	return clientKey(clientAddr(r, s.d.TrustedProxies))
}

func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := hops[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, hop = list[:j], list[j+1:]
			} else {
				list, hop = "", list
			}
			a := parseAddr(strings.TrimSpace(hop))
			if !a.IsValid() {
				// Garbage only comes from the client's side: the last
				// address known is as far as the chain can be read.
				return client
			}
			client = a
			if !inPrefixes(a, trusted) {
				return a
			}
		}
	}
	return client
}

// parseAddr reads "ip", "ip:port" or "[ipv6]:port"; zero when it is none.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey is an IPv4 address as it is, an IPv6 one as its /64.
func clientKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
