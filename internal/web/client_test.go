package web_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/crieur/crieur/internal/web"
)

// TestClientKey: which address rate limits count a request by.
func TestClientKey(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no proxy trusted: the peer", nil, "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"peer not a proxy: X-Forwarded-For ignored", proxies, "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"one proxy", proxies, "10.0.0.2:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed entries on the left", proxies, "10.0.0.2:4000", []string{"1.2.3.4, 5.6.7.8, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", proxies, "10.0.0.2:4000", []string{"1.2.3.4, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines", proxies, "10.0.0.2:4000", []string{"1.2.3.4", "198.51.100.1, 10.1.1.1"}, "198.51.100.1"},
		{"a port on an entry", proxies, "10.0.0.2:4000", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"garbage left of the client", proxies, "10.0.0.2:4000", []string{"garbage, 198.51.100.1"}, "198.51.100.1"},
		{"garbage after proxies: the last address read", proxies, "10.0.0.2:4000", []string{"garbage, 10.3.3.3"}, "10.3.3.3"},
		{"only proxies: the leftmost", proxies, "10.0.0.2:4000", []string{"10.7.7.7, 10.3.3.3"}, "10.7.7.7"},
		{"no header from a proxy: the proxy", proxies, "10.0.0.2:4000", nil, "10.0.0.2"},
		{"IPv6 by /64", proxies, "[2001:db8:ffff::1]:4000", []string{"2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2::/64"},
		{"IPv6 peer by /64", nil, "[2001:db8:1:2::99]:4000", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 as IPv4", proxies, "10.0.0.2:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := web.New(web.Deps{TrustedProxies: tc.trusted})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := web.ClientKey(s, r); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
