package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/netguard"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr         string
		strict, priv bool // allowed under Policy{} and Policy{AllowPrivate: true}
	}{
		{"93.184.216.34", true, true},
		{"8.8.8.8", true, true},
		{"2606:2800:220:1:248:1893:25c8:1946", true, true},
		{"127.0.0.1", false, true},
		{"127.1.2.3", false, true},
		{"::1", false, true},
		{"10.0.0.1", false, true},
		{"10.255.255.255", false, true},
		{"172.16.0.1", false, true},
		{"172.31.255.254", false, true},
		{"172.32.0.1", true, true},
		{"192.168.1.1", false, true},
		{"169.254.1.1", false, true},
		{"169.254.169.254", false, false},
		{"fd00:ec2::254", false, false},
		{"fe80::1", false, true},
		{"fc00::1", false, true},
		{"fd12:3456::1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"::ffff:10.0.0.1", false, true},
		{"::ffff:169.254.169.254", false, false},
		{"::ffff:93.184.216.34", true, true},
		{"64:ff9b::7f00:1", false, true},
		{"64:ff9b::a9fe:a9fe", false, false},
		{"64:ff9b::5db8:d822", true, true},
		// Local-use NAT64 (RFC 8215): its /96 layout is unwrapped, and the
		// whole /48 is refused unless AllowPrivate, since its translator may
		// embed the IPv4 address at another position (here 127.0.0.1 at the
		// /48 one, bits 48-87 around the u octet).
		{"64:ff9b:1::7f00:1", false, true},
		{"64:ff9b:1::a9fe:a9fe", false, false},
		{"64:ff9b:1::5db8:d822", false, true},
		{"64:ff9b:1:7f00:0:100::", false, true},
		{"64:ff9b:1:ffff::1", false, true},
		{"2002:7f00:1::", false, true},
		{"2002:5db8:d822::1", true, true},
		{"100.64.0.1", false, true},
		{"100.127.255.255", false, true},
		{"100.128.0.1", true, true},
		{"0.0.0.0", false, false},
		{"0.1.2.3", false, false},
		{"::", false, false},
		{"224.0.0.1", false, false},
		{"255.255.255.255", false, false},
		{"ff02::1", false, false},
	}
	for _, tt := range tests {
		addr := netip.MustParseAddr(tt.addr)
		for _, c := range []struct {
			p    netguard.Policy
			want bool
		}{{netguard.Policy{}, tt.strict}, {netguard.Policy{AllowPrivate: true}, tt.priv}} {
			err := c.p.CheckAddr(addr)
			if got := err == nil; got != c.want {
				t.Errorf("%+v.CheckAddr(%s) = %v, want allowed=%v", c.p, tt.addr, err, c.want)
			}
			if err != nil && !errors.Is(err, netguard.ErrNotAllowed) {
				t.Errorf("CheckAddr(%s) error %v does not wrap ErrNotAllowed", tt.addr, err)
			}
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tests := []struct {
		url          string
		strict, priv bool
	}{
		// Literal addresses: checked without any network traffic.
		{"https://93.184.216.34/push/abc", true, true},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]:8443/x", true, true},
		{"http://93.184.216.34/push/abc", false, true},
		{"https://127.0.0.1/", false, true},
		{"https://[::1]:443/", false, true},
		{"https://10.1.2.3/", false, true},
		{"https://172.16.5.4/", false, true},
		{"https://192.168.0.10/", false, true},
		{"https://169.254.169.254/latest/meta-data/", false, false},
		{"http://169.254.169.254/latest/meta-data/", false, false},
		{"https://[fe80::1]/", false, true},
		{"https://[fc00::1]/", false, true},
		{"https://[::ffff:127.0.0.1]/", false, true},
		{"https://100.64.0.1/", false, true},
		{"https://0.0.0.0/", false, false},
		{"https://localhost/", false, true},
		{"https://metadata.google.internal/computeMetadata/v1/", false, false},
		{"http://Metadata.Google.Internal./", false, false},
		{"ftp://93.184.216.34/", false, false},
		{"file:///etc/passwd", false, false},
		{"https:///nohost", false, false},
		{"https://user:pw@93.184.216.34/", false, false},
		{"://bad", false, false},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			p    netguard.Policy
			want bool
		}{{netguard.Policy{}, tt.strict}, {netguard.Policy{AllowPrivate: true}, tt.priv}} {
			err := c.p.CheckURL(ctx, tt.url)
			if got := err == nil; got != c.want {
				t.Errorf("%+v.CheckURL(%q) = %v, want allowed=%v", c.p, tt.url, err, c.want)
			}
			if err != nil && !errors.Is(err, netguard.ErrNotAllowed) {
				t.Errorf("CheckURL(%q) error %v does not wrap ErrNotAllowed", tt.url, err)
			}
		}
	}
}

func TestDialContextRefusesLocalhost(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello"))
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// "localhost" resolves to 127.0.0.1 (and maybe ::1): the dialer sees the
	// numeric address and refuses it, whatever the name said.
	addr := net.JoinHostPort("localhost", port)

	var strict netguard.Policy
	c, err := strict.DialContext(t.Context(), "tcp", addr)
	if err == nil {
		c.Close()
		t.Fatal("strict DialContext to localhost succeeded")
	}
	if !errors.Is(err, netguard.ErrNotAllowed) {
		t.Fatalf("DialContext error %v does not wrap ErrNotAllowed", err)
	}

	// Through the client, an http URL is refused by the dialer too (the
	// client does not call CheckURL itself for the first request).
	client := strict.HTTPClient(5 * time.Second)
	_, err = client.Get("http://localhost:" + port + "/")
	if !errors.Is(err, netguard.ErrNotAllowed) {
		t.Fatalf("strict client GET localhost: %v, want ErrNotAllowed", err)
	}

	priv := netguard.Policy{AllowPrivate: true}
	resp, err := priv.HTTPClient(5 * time.Second).Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatalf("AllowPrivate client GET: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestRedirectToMetadataRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/meta":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/loop"):
			http.Redirect(w, r, r.URL.Path+"x", http.StatusFound)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	client := netguard.Policy{AllowPrivate: true}.HTTPClient(5 * time.Second)

	_, err := client.Get(srv.URL + "/meta")
	if !errors.Is(err, netguard.ErrNotAllowed) {
		t.Errorf("redirect to metadata: %v, want ErrNotAllowed", err)
	}
	_, err = client.Get(srv.URL + "/loop")
	if !errors.Is(err, netguard.ErrNotAllowed) {
		t.Errorf("redirect loop: %v, want ErrNotAllowed", err)
	}
}

func TestDialContextRefusesOtherNetworks(t *testing.T) {
	t.Parallel()
	_, err := netguard.Policy{AllowPrivate: true}.DialContext(context.Background(), "udp", "127.0.0.1:53")
	if !errors.Is(err, netguard.ErrNotAllowed) {
		t.Fatalf("udp dial: %v, want ErrNotAllowed", err)
	}
}
