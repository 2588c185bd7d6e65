package e2e_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

var loginCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// loginForm opens the login page and returns its CSRF cookie and token.
func loginForm(t *testing.T, p *e2etest.Proc) (*http.Cookie, string) {
	t.Helper()
	resp, err := e2etest.HTTPClient().Get(p.URL + "/admin/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "crieur_admin_login" {
			return c, c.Value
		}
	}
	t.Fatalf("no login cookie: %v", resp.Header)
	return nil, ""
}

// tryLogin posts the login form from the client address xff and returns
// the status (303: logged in).
func tryLogin(t *testing.T, p *e2etest.Proc, xff, email, password string) int {
	t.Helper()
	c, tok := loginForm(t, p)
	form := url.Values{"csrf": {tok}, "email": {email}, "password": {password}}
	req, _ := http.NewRequest("POST", p.URL+"/admin/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", xff)
	req.AddCookie(c)
	client := e2etest.HTTPClient()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoginNotLockedOutByOthers: wrong passwords tried for an account from
// other addresses do not stop its owner from logging in (before, five
// made the right password answer 429); the one guessing is still stopped.
func TestLoginNotLockedOutByOthers(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, map[string]string{"CRIEUR_TRUST_PROXY": "true"})
	const email, pw = "redaction@journal.example", "une phrase de passe assez longue"
	e2etest.CLI(t, f.env, pw+"\n", "user", "add", "--email", email, "--role", "admin")
	p := f.start()
	for i := range 8 {
		if got := tryLogin(t, p, fmt.Sprintf("203.0.113.%d", 10+i), email, "wrong"); got != 401 {
			t.Fatalf("wrong password %d: %d, want 401", i, got)
		}
	}
	if got := tryLogin(t, p, "198.51.100.20", email, pw); got != 303 {
		t.Fatalf("the right password after others' failures: %d, want 303", got)
	}
	// One address guessing is stopped after five failures...
	for i := range 5 {
		if got := tryLogin(t, p, "203.0.113.99", email, "wrong"); got != 401 {
			t.Fatalf("guess %d: %d, want 401", i, got)
		}
	}
	if got := tryLogin(t, p, "203.0.113.99", email, "wrong"); got != 429 {
		t.Errorf("the sixth guess from one address: %d, want 429", got)
	}
	// ...and a success resets its own count: logging in many times is no failure.
	for i := range 8 {
		if got := tryLogin(t, p, "198.51.100.20", email, pw); got != 303 {
			t.Fatalf("login %d: %d, want 303", i, got)
		}
	}
}

// TestLoginFormSmall: the login form, the first thing anyone reaches, is
// read only up to 16 KiB (413 beyond) and never as multipart (415): the
// review's 20 MiB multipart posts grew the daemon by 250 MB.
func TestLoginFormSmall(t *testing.T) {
	e2etest.Parallel(t)
	f := flowSetup(t, nil)
	p := f.start()
	// 64 KiB: beyond the limit, and still small enough for the sockets to
	// take it all before the daemon answers and closes the connection.
	big := url.Values{"email": {"a@example.org"}, "password": {strings.Repeat("x", 64<<10)}}
	if r := rawDo(t, "POST", p.URL+"/admin/login", "application/x-www-form-urlencoded", []byte(big.Encode())); r.status != 413 {
		t.Errorf("a 64 KiB login form: %d, want 413", r.status)
	}
	body := "--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@example.org\r\n--b--\r\n"
	if r := rawDo(t, "POST", p.URL+"/admin/login", "multipart/form-data; boundary=b", []byte(body)); r.status != 415 {
		t.Errorf("a multipart login form: %d, want 415", r.status)
	}
	if r := rawDo(t, "POST", p.URL+"/subscribe", "multipart/form-data; boundary=b", []byte(body)); r.status != 415 {
		t.Errorf("a multipart subscribe form: %d, want 415", r.status)
	}
}
