package mail_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/mail"
)

func TestValidateAddress(t *testing.T) {
	t.Parallel()
	ok := map[string]string{
		"reader@example.org":             "reader@example.org",
		"  Reader@Example.ORG ":          "Reader@example.org",
		"first.last+news@sub.example.fr": "first.last+news@sub.example.fr",
		"o'brien@example.ie":             "o'brien@example.ie",
		"x@a-b.example.com":              "x@a-b.example.com",
	}
	for in, want := range ok {
		got, err := mail.ValidateAddress(in)
		if err != nil || got != want {
			t.Errorf("ValidateAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "plain", "@example.org", "reader@", "reader@localhost", "a@b@example.org",
		"Reader <reader@example.org>", "<reader@example.org>", "reader @example.org",
		"reader@exa mple.org", "reader@example..org", "reader@.example.org", "reader@example.org.",
		"reader@-example.org", "reader@[127.0.0.1]", `"quoted"@example.org`, "élodie@example.fr",
		"reader@exämple.fr", "a..b@example.org", ".a@example.org",
		strings.Repeat("a", 65) + "@example.org",
		"foo@127.0.0.1", "root@10.0.0.1", "x@[10.0.0.1]", "x@[IPv6:::1]", "x@10.1", "x@0x7f.0.0.1", "x@0x7f.0x0.0x0.0x1",
		"a@" + strings.Repeat("b", 250) + ".org",
	}
	for _, in := range bad {
		if got, err := mail.ValidateAddress(in); !errors.Is(err, mail.ErrInvalidAddress) {
			t.Errorf("ValidateAddress(%q) = %q, %v; want ErrInvalidAddress", in, got, err)
		}
	}
	for _, in := range []string{"a@example.org\r\nBcc: b@example.org", "a@example.org\x00", "a\n@example.org"} {
		_, err := mail.ValidateAddress(in)
		if !errors.Is(err, mail.ErrInvalidAddress) || !errors.Is(err, mail.ErrHeaderInjection) {
			t.Errorf("ValidateAddress(%q): err = %v, want ErrInvalidAddress and ErrHeaderInjection", in, err)
		}
	}
	for _, in := range []string{"foo@127.0.0.1", "root@10.0.0.1", "x@[10.0.0.1]", "x@192.168.1.7"} {
		if _, err := mail.ValidateAddress(in); !errors.Is(err, mail.ErrAddressLiteral) {
			t.Errorf("ValidateAddress(%q): err = %v, want ErrAddressLiteral", in, err)
		}
	}
	if _, err := mail.ValidateAddress("reader@xn--exmple-cua.fr"); err != nil {
		t.Errorf("a punycode domain: %v", err)
	}
}

// TestValidateAddressSpecialUse: special-use and IP-spelling domains are
// refused with ErrSpecialUseDomain; .example and .test stay accepted.
func TestValidateAddressSpecialUse(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"foo@x.localhost", "r@localhost.localdomain", "a@b.local", "a@b.internal", "a@b.invalid",
		"a@home.arpa", "a@r.home.arpa", "a@10.0.0.1.nip.io", "a@X.NIP.IO", "a@x.lvh.me", "a@10-0-0-1.traefik.me", "a@x.vcap.me",
		"a@x.localh.st", "a@x.local.gd", "a@x.lacolhost.com", "a@x.fuf.me", "a@1.0.0.127.in-addr.arpa", "a@x.ip6.arpa",
		"a@x.onion", "a@x.alt", "a@nas.lan", "a@x.corp", "a@x.home", "a@x.intranet"} {
		if _, err := mail.ValidateAddress(a); !errors.Is(err, mail.ErrSpecialUseDomain) || !errors.Is(err, mail.ErrInvalidAddress) {
			t.Errorf("ValidateAddress(%q) = %v, want ErrSpecialUseDomain", a, err)
		}
	}
	for _, a := range []string{"a@x.test", "a@gazette.example", "a@example.com", "a@arpa.example.org", "a@notnip.io"} {
		if _, err := mail.ValidateAddress(a); err != nil {
			t.Errorf("ValidateAddress(%q) = %v, want accepted", a, err)
		}
	}
}
