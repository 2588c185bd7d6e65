package push_test

import (
	"errors"
	"testing"

	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/push"
)

// TestEndpointHosts: without AllowPrivate an endpoint is accepted only as
// https on port 443 at a push service browsers use or a CRIEUR_PUSH_HOSTS
// host, matched label by label, and without any DNS lookup (the .test
// names below never resolve).
func TestEndpointHosts(t *testing.T) {
	t.Parallel()
	hosts, err := push.NewHosts([]string{"push.example.test", "*.wp.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	check := push.EndpointChecker(netguard.Policy{}, hosts)
	for _, c := range []struct {
		ep string
		ok bool
	}{
		{"https://fcm.googleapis.com/fcm/send/abc", true},
		{"https://fcm.googleapis.com:443/fcm/send/abc", true},
		{"HTTPS://FCM.GoogleAPIs.com/fcm/send/abc", true}, // host names have no case
		{"https://updates.push.services.mozilla.com/wpush/v2/abc", true},
		{"https://updates-autopush.stage.push.services.mozilla.com/wpush/v2/abc", true},
		{"https://wns2-by3p.notify.windows.com/w/?token=abc", true},
		{"https://web.push.apple.com/QGtx", true},
		{"https://x.push.apple.com/QGtx", true},
		{"https://a.b.push.apple.com/QGtx", true},     // "*." covers every depth
		{"https://xn--tda.push.apple.com/QGtx", true}, // an A-label under Apple's name is Apple's
		{"https://push.example.test/sub/1", true},     // listed: accepted with no DNS
		{"https://a.wp.example.test/sub/1", true},     // listed with "*."
		{"https://victim.example.com/api", false},     // the reflection target
		{"https://fcm.googleapis.com.evil.com/x", false},
		{"https://evilfcm.googleapis.com/x", false},
		{"https://googleapis.com/x", false},
		{"https://push.apple.com/x", false}, // "*." is for subdomains only
		{"https://xpush.apple.com/x", false},
		{"https://notify.windows.com/x", false},
		{"https://services.mozilla.com/x", false},
		{"https://wp.example.test/x", false},
		{"https://push.example.test.evil.com/x", false},
		{"https://fcm.googleapis.com./x", false}, // one spelling per endpoint
		{"https://x..push.apple.com/x", false},
		{"https://.push.apple.com/x", false},
		{"https://fcm.googleapis.c\u03bfm/x", false}, // Greek omicron
		{"https://\u1e8b.push.apple.com/x", false},   // Unicode: only the xn-- form
		{"https://xn--fcm-kza.googleapis.com/x", false},
		{"https://%66cm.googleapis.com/x", false},
		{"https://fcm.googleapis.com@evil.com/x", false}, // userinfo: the host is evil.com
		{"https://evil.com@fcm.googleapis.com/x", false}, // credentials to a push service
		{"https://evil.com/fcm.googleapis.com", false},
		{"https://evil.com/?u=https://fcm.googleapis.com/", false},
		{"https://evil.com#@fcm.googleapis.com", false},
		{"https://fcm.googleapis.com:8443/x", false},
		{"https://fcm.googleapis.com:22/x", false},
		{"https://fcm.googleapis.com:0443/x", false},
		{"http://fcm.googleapis.com/x", false},
		{"wss://fcm.googleapis.com/x", false},
		{"https:fcm.googleapis.com/x", false},
		{"https://93.184.216.34/wpush/v2/abc", false},
		{"https://[2a00:1450:4007:80c::200a]/fcm/send/abc", false},
		{"https://127.0.0.1/x", false},
		{"", false},
	} {
		err := check(t.Context(), c.ep)
		if (err == nil) != c.ok {
			t.Errorf("%q: %v, want allowed=%v", c.ep, err, c.ok)
		}
		if err != nil && !errors.Is(err, netguard.ErrNotAllowed) {
			t.Errorf("%q: %v does not wrap netguard.ErrNotAllowed", c.ep, err)
		}
	}
}

// TestEndpointAllowPrivate: with AllowPrivate (tests, development) any host
// and port is accepted once its addresses pass, and a name that does not
// resolve says so rather than "not allowed".
func TestEndpointAllowPrivate(t *testing.T) {
	t.Parallel()
	hosts, err := push.NewHosts(nil)
	if err != nil {
		t.Fatal(err)
	}
	check := push.EndpointChecker(netguard.Policy{AllowPrivate: true}, hosts)
	for _, ep := range []string{"https://127.0.0.1:8443/x", "http://127.0.0.1:9000/x"} {
		if err := check(t.Context(), ep); err != nil {
			t.Errorf("%s: %v, want allowed", ep, err)
		}
	}
	if err := check(t.Context(), "https://169.254.169.254/x"); !errors.Is(err, netguard.ErrNotAllowed) {
		t.Errorf("metadata address: %v, want ErrNotAllowed", err)
	}
	err = check(t.Context(), "https://no-such-push-service.invalid/x")
	if !errors.Is(err, netguard.ErrUnresolved) || errors.Is(err, netguard.ErrNotAllowed) {
		t.Errorf("unresolvable name: %v, want ErrUnresolved and not ErrNotAllowed", err)
	}
}

// TestNewHosts: CRIEUR_PUSH_HOSTS takes host names, with "*." for their
// subdomains, and names the first bad one.
func TestNewHosts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern string
		ok      bool
	}{
		{"push.example.test", true},
		{"*.wp.example.test", true},
		{"Push.Example.Test.", true},
		{"xn--80ak6aa92e.example", true},
		{"intranet-push", true},
		{"", false},
		{"*", false},
		{"*.com", false},
		{"*.*.example.com", false},
		{"a.*.example.com", false},
		{"10.0.0.1", false},
		{"::1", false},
		{"[::1]", false},
		{"\u043f\u0443\u0448.example", false}, // Unicode: write the xn-- form
		{"https://push.example", false},
		{"push.example:443", false},
		{"push.example/path", false},
		{"a..example", false},
		{"-a.example", false},
		{"push_svc.example", false},
	} {
		_, err := push.NewHosts([]string{c.pattern})
		if (err == nil) != c.ok {
			t.Errorf("%q: %v, want ok=%v", c.pattern, err, c.ok)
		}
	}
	h, err := push.NewHosts([]string{"Push.Example.Test."})
	if err != nil {
		t.Fatal(err)
	}
	if !h.Match("push.example.test") || !h.Match("fcm.googleapis.com") {
		t.Errorf("a listed host (case and trailing dot ignored) or a built-in one not matched")
	}
	if (push.Hosts{}).Match("fcm.googleapis.com") {
		t.Errorf("the zero Hosts matched")
	}
}
