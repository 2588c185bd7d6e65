package e2e_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// randomWord is n random capital letters: a valid HTTP method or path
// segment nobody registered.
func randomWord(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + rand.IntN(26))
	}
	return string(b)
}

// get answers the status and body of a GET.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := e2etest.HTTPClient().Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsLabelsBounded: requests with made-up methods and paths do
// not each make a new series in /metrics (the review's 2,000 requests with
// random 8 KB methods made 2,018 series and a 16 MB page, held for good).
func TestMetricsLabelsBounded(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, nil, "politique")
	p := f.start()
	client := e2etest.HTTPClient()
	paths := []string{"/", "/api/v1/", "/confirm/", "/preferences/", "/admin/", "/push/", "/r/", "/api/v1/alerts/"}
	for i := range 300 {
		path := paths[i%len(paths)] + randomWord(20+rand.IntN(200))
		if i%3 == 0 {
			path += "/" + randomWord(10) // a deeper path, or a trailing-slash redirect
		}
		req, err := http.NewRequest(randomWord(50+rand.IntN(2000)), p.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			req.Method = []string{"GET", "POST", "PROPFIND", "DELETE"}[i/2%4]
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
	}
	status, body := get(t, p.URL+"/metrics")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	series := map[string]int{}
	for line := range strings.Lines(body) {
		if name, _, ok := strings.Cut(line, "{"); ok && strings.HasPrefix(name, "crieur_http_") {
			series[name]++
		}
	}
	// Routes by pattern, a few methods, a few statuses: a few dozen.
	for name, n := range series {
		if n > 80 {
			t.Errorf("%s has %d series after 300 made-up requests", name, n)
		}
	}
	if series["crieur_http_requests_total"] == 0 {
		t.Errorf("no request counted:\n%s", body)
	}
	if len(body) > 64<<10 {
		t.Errorf("/metrics is %d bytes", len(body))
	}
	for _, want := range []string{`method="OTHER"`, `route="unmatched"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if strings.Contains(body, "PROPFIND") {
		t.Error("/metrics holds a method outside the standard ones")
	}
}

// TestMetricsListen: with CRIEUR_METRICS_LISTEN, /metrics is served on
// that address only, and that listener stops with the daemon.
func TestMetricsListen(t *testing.T) {
	e2etest.Parallel(t)
	addr := e2etest.FreeAddr(t)
	f := flowSetup(t, map[string]string{"CRIEUR_METRICS_LISTEN": addr})
	p := f.start()
	if status, _ := get(t, p.URL+"/healthz"); status != 200 {
		t.Fatalf("/healthz: %d", status)
	}
	if status, _ := get(t, p.URL+"/metrics"); status != 404 {
		t.Errorf("/metrics on the public listener: %d, want 404", status)
	}
	status, body := get(t, "http://"+addr+"/metrics")
	if status != 200 || !strings.Contains(body, `crieur_http_requests_total{method="GET",route="GET /healthz",status="200"} 1`) {
		t.Errorf("/metrics on %s: %d\n%s", addr, status, e2etest.Tail(body, 2000))
	}
	if status, _ := get(t, "http://"+addr+"/healthz"); status != 404 {
		t.Errorf("the metrics listener serves /healthz: %d", status)
	}
	if err, took := p.Term(10 * time.Second); err != nil {
		t.Fatalf("stop: %v after %s\n%s", err, took, e2etest.Tail(p.Logs(), 3000))
	}
	if _, err := e2etest.HTTPClient().Get("http://" + addr + "/metrics"); err == nil {
		t.Error("the metrics listener outlived the daemon")
	}
}

// subscribeUntilLimited posts up to n subscription requests, each from
// the X-Forwarded-For that xff makes, and returns how many were accepted
// before the first 429 (n when none was refused).
func subscribeUntilLimited(t *testing.T, p *e2etest.Proc, n int, xff func(i int) string) int {
	t.Helper()
	tag := randomWord(8)
	for i := range n {
		body := fmt.Sprintf(`{"email":"r%d-%s@example.com","topics":["politique"],"frequency":"daily","lang":"fr"}`, i, tag)
		req, err := http.NewRequest("POST", p.URL+"/api/v1/subscriptions", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if v := xff(i); v != "" {
			req.Header.Set("X-Forwarded-For", v)
		}
		resp, err := e2etest.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 202:
		case 429:
			return i
		default:
			t.Fatalf("subscribe %d: %d", i, resp.StatusCode)
		}
	}
	return n
}

// The subscription route lets one client make 20 requests at once.
const perClientBurst = 20

// TestTrustProxyDefault: with CRIEUR_TRUST_PROXY=true (and no list), a
// client behind a proxy on loopback cannot get a fresh bucket by writing
// made-up addresses at the left of X-Forwarded-For: the client is the
// address the proxy appended. IPv6 clients are counted by /64.
func TestTrustProxyDefault(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, map[string]string{"CRIEUR_TRUST_PROXY": "true"}, "politique")
	p := f.start()
	spoofed := func(i int) string {
		return fmt.Sprintf("198.18.%d.%d, 10.9.%d.1, 203.0.113.7", i/250, i%250, i%250)
	}
	if n := subscribeUntilLimited(t, p, 30, spoofed); n != perClientBurst {
		t.Errorf("spoofed leftmost entries: %d requests accepted, want %d", n, perClientBurst)
	}
	v6 := func(i int) string { return fmt.Sprintf("2001:db8:5:6:%x::%x", i, i*7+1) }
	if n := subscribeUntilLimited(t, p, 30, v6); n != perClientBurst {
		t.Errorf("addresses of one IPv6 /64: %d requests accepted, want %d", n, perClientBurst)
	}
	// Another client behind the same proxy has a budget of its own.
	if n := subscribeUntilLimited(t, p, 1, func(int) string { return "203.0.113.8" }); n != 1 {
		t.Error("another client was refused")
	}
	if n := subscribeUntilLimited(t, p, 1, func(int) string { return "2001:db8:5:7::1" }); n != 1 {
		t.Error("a client of another /64 was refused")
	}
}

// TestTrustedProxies: with CRIEUR_TRUSTED_PROXIES, X-Forwarded-For is
// walked from the right past the listed proxies; a peer not listed is the
// client whatever it sends.
func TestTrustedProxies(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, map[string]string{"CRIEUR_TRUSTED_PROXIES": "127.0.0.0/8, 198.51.100.0/24"}, "politique")
	p := f.start()
	chain := func(i int) string {
		return fmt.Sprintf("192.0.2.%d, 203.0.113.9, 198.51.100.%d", i%250, i%250)
	}
	if n := subscribeUntilLimited(t, p, 30, chain); n != perClientBurst {
		t.Errorf("through two proxies: %d requests accepted, want %d", n, perClientBurst)
	}
	if n := subscribeUntilLimited(t, p, 1, func(int) string { return "203.0.113.10, 198.51.100.1" }); n != 1 {
		t.Error("another client behind the proxies was refused")
	}

	g := flowSetup(t, map[string]string{"CRIEUR_TRUSTED_PROXIES": "192.0.2.1"}, "politique")
	q := g.start()
	random := func(i int) string { return fmt.Sprintf("203.0.113.%d", i%250) }
	if n := subscribeUntilLimited(t, q, 30, random); n != perClientBurst {
		t.Errorf("from a peer that is no trusted proxy: %d requests accepted, want %d", n, perClientBurst)
	}
}
