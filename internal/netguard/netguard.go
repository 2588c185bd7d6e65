// Package netguard keeps crieur's outgoing HTTP requests (web push endpoints,
// feed URLs) away from internal addresses: loopback, private networks,
// link-local ranges and cloud metadata services (SSRF protection).
//
// A URL is checked twice: once by CheckURL when it is accepted (so a reader
// gets an error up front), and again by DialContext at connect time against
// the address actually dialled, so DNS rebinding and redirects cannot reach
// an internal address either.
//
// It imports no other crieur package: push, the web's URL checks and the
// commands' HTTP clients use it.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrNotAllowed is wrapped by every error that refuses a URL or an address;
// match it with errors.Is.
var ErrNotAllowed = errors.New("netguard: destination not allowed")

// ErrUnresolved is wrapped by CheckURL's error when the host name could not
// be resolved: the URL was not refused, it could not be checked (a name
// that does not exist, or no DNS answer in time). Match it with errors.Is.
var ErrUnresolved = errors.New("netguard: host name not resolved")

// Policy decides which addresses outgoing requests may reach. The zero value
// is the strict policy for production: https only, public unicast addresses
// only.
type Policy struct {
	// AllowPrivate permits plain http and loopback, private (RFC 1918, ULA),
	// CGNAT and link-local destinations, for tests and for deployments that
	// fetch from an intranet. Cloud metadata names and addresses, unspecified,
	// broadcast and multicast addresses stay refused.
	AllowPrivate bool
}

// metadataHosts are names of cloud instance metadata services; they are
// refused whatever the policy.
var metadataHosts = map[string]bool{
	"metadata":                   true,
	"metadata.google.internal":   true,
	"metadata.goog":              true,
	"metadata.azure.com":         true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
	"metadata.tencentyun.com":    true,
	"100-100-100-200.aliyun":     true,
}

// Prefixes refused whatever the policy.
var alwaysDenied = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network", 0.0.0.0 reaches localhost on Linux
	netip.MustParsePrefix("169.254.169.254/32"), // AWS, GCP, Azure, OpenStack metadata
	netip.MustParsePrefix("169.254.170.2/32"),   // AWS ECS task metadata
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud metadata
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS metadata over IPv6
	netip.MustParsePrefix("224.0.0.0/4"),        // multicast
	netip.MustParsePrefix("240.0.0.0/4"),        // reserved, includes broadcast
	netip.MustParsePrefix("::/128"),             // unspecified
	netip.MustParsePrefix("ff00::/8"),           // multicast
}

// Prefixes refused unless AllowPrivate.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("10.0.0.0/8"),      // RFC 1918
	netip.MustParsePrefix("172.16.0.0/12"),   // RFC 1918
	netip.MustParsePrefix("192.168.0.0/16"),  // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT (RFC 6598)
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("::1/128"),         // loopback
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	// Local-use NAT64 (RFC 8215): a network's own translator, which may
	// put the IPv4 address at any RFC 6052 position (/48 to /96), so no
	// unwrapping can tell where it leads. The /96 position is unwrapped
	// too (embeds4), so that AllowPrivate still keeps metadata out of it.
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// Prefixes of IPv6 forms that embed an IPv4 address in their last 32 bits;
// the embedded address is checked too.
var embeds4 = []netip.Prefix{
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 (RFC 6052)
	netip.MustParsePrefix("64:ff9b:1::/96"), // local-use NAT64 (RFC 8215) in its /96 layout
	netip.MustParsePrefix("::/96"),          // deprecated IPv4-compatible
}

// CheckAddr reports whether the policy allows connecting to addr; the error
// wraps ErrNotAllowed.
func (p Policy) CheckAddr(addr netip.Addr) error {
	if !addr.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrNotAllowed)
	}
	addr = addr.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if addr.Zone() != "" {
		return fmt.Errorf("%w: %s has a zone", ErrNotAllowed, addr)
	}
	if addr.Is6() {
		if addr.Is4In6() {
			return p.CheckAddr(addr.Unmap())
		}
		for _, pre := range embeds4 {
			if pre.Contains(addr) && addr != netip.IPv6Unspecified() && addr != netip.IPv6Loopback() {
				b := addr.As16()
				if err := p.CheckAddr(netip.AddrFrom4([4]byte(b[12:]))); err != nil {
					return fmt.Errorf("%w: %s embeds a refused IPv4 address", ErrNotAllowed, addr)
				}
			}
		}
		// 6to4 (2002::/16) carries an IPv4 address in bits 16..48.
		if b := addr.As16(); b[0] == 0x20 && b[1] == 0x02 {
			if err := p.CheckAddr(netip.AddrFrom4([4]byte(b[2:6]))); err != nil {
				return fmt.Errorf("%w: %s embeds a refused IPv4 address", ErrNotAllowed, addr)
			}
		}
	}
	if addr.IsUnspecified() || addr.IsMulticast() {
		return fmt.Errorf("%w: %s is unspecified or multicast", ErrNotAllowed, addr)
	}
	for _, pre := range alwaysDenied {
		if pre.Contains(addr) {
			return fmt.Errorf("%w: %s is reserved or a metadata service", ErrNotAllowed, addr)
		}
	}
	if p.AllowPrivate {
		return nil
	}
	for _, pre := range privateRanges {
		if pre.Contains(addr) {
			return fmt.Errorf("%w: %s is loopback, private or link-local", ErrNotAllowed, addr)
		}
	}
	return nil
}

// lookupTimeout bounds CheckURL's name resolution.
const lookupTimeout = 5 * time.Second

// CheckURL reports whether raw may be fetched: its scheme must be https
// (http too when AllowPrivate), its host must not be a known metadata name,
// and every address the host resolves to must pass CheckAddr. The error
// wraps ErrNotAllowed when the policy refuses, or ErrUnresolved and the
// resolver's error.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: parse url: %w", ErrNotAllowed, err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowPrivate {
			return fmt.Errorf("%w: scheme %q (https required)", ErrNotAllowed, u.Scheme)
		}
	default:
		return fmt.Errorf("%w: scheme %q", ErrNotAllowed, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("%w: url carries credentials", ErrNotAllowed)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: url has no host", ErrNotAllowed)
	}
	if err := checkHostName(host); err != nil {
		return err
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(addr)
	}
	// Host names come from outside (a browser's push endpoint, an editor's
	// feed URL): a resolver that never answers must not hold the request.
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(lctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrUnresolved, host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: %q: no addresses", ErrUnresolved, host)
	}
	// Refuse when any address is refused: the dialer could pick any of them.
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return fmt.Errorf("host %q: %w", host, err)
		}
	}
	return nil
}

// checkHostName refuses cloud metadata names whatever the policy.
func checkHostName(host string) error {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if metadataHosts[h] {
		return fmt.Errorf("%w: %q is a metadata service", ErrNotAllowed, host)
	}
	return nil
}

// control runs after the socket is created and before it connects, with the
// numeric address actually being dialled: the check that DNS rebinding and
// redirects cannot get around.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: dial %s %q: %w", ErrNotAllowed, network, address, err)
	}
	if err := p.CheckAddr(ap.Addr()); err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	return nil
}

// DialContext dials like net.Dialer but refuses, at connect time, any address
// the policy does not allow. Use it as an http.Transport's DialContext.
func (p Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("%w: network %q", ErrNotAllowed, network)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netguard: dial %q: %w", addr, err)
	}
	if err := checkHostName(host); err != nil {
		return nil, err
	}
	d := net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   p.control,
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("netguard: %w", err)
	}
	return c, nil
}

// maxRedirects is how many redirects HTTPClient follows.
const maxRedirects = 3

// HTTPClient returns a client for many requests to few hosts (push services,
// feeds): connections dialled through DialContext, HTTP/2 attempted over TLS,
// up to 128 idle connections per host, no proxy from the environment (a proxy
// would be dialled instead of the checked host), at most 3 redirects, each
// re-checked with CheckURL. timeout bounds a whole request, body included;
// 0 means 30 s. Share one client: it owns the connection pool.
func (p Policy) HTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            p.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    128,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrNotAllowed, maxRedirects)
			}
			return p.CheckURL(req.Context(), req.URL.String())
		},
	}
}
