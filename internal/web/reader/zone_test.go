package reader_test

import (
	"context"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/crieur/crieur/internal/testenv/chromiumtest"
)

// TestSubscribeFormZone: the subscribe form carries a hidden timezone
// field and the one script its CSP allows (which fills it); the zone
// posted is kept; an unknown one comes back as a visible field with what
// is wrong, and nobody is subscribed.
func TestSubscribeFormZone(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	resp, body := e.get(t, e.srv.URL+"/subscribe")
	mustContain(t, body, `<input type="hidden" id="timezone" name="timezone" value="">`, "resolvedOptions().timeZone")
	nonce := regexp.MustCompile(`<script nonce="([^"]+)">`).FindStringSubmatch(body)
	if nonce == nil || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'nonce-"+nonce[1]+"'") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors *") {
		t.Fatalf("script %v under CSP %q", nonce, resp.Header.Get("Content-Security-Policy"))
	}

	resp, body = e.postForm(t, e.srv.URL+"/subscribe", url.Values{"email": {"noumea@example.org"}, "topics": {"politique"}, "timezone": {"Pacific/Noumea"}})
	mustStatus(t, resp, body, 200)
	if z := e.subscriber(t, "noumea@example.org").Timezone; z != "Pacific/Noumea" {
		t.Fatalf("zone kept: %q", z)
	}

	resp, body = e.postForm(t, e.srv.URL+"/subscribe?lang=en", url.Values{"email": {"mars@example.org"}, "topics": {"politique"}, "timezone": {"Mars/Olympus"}})
	mustStatus(t, resp, body, 400)
	mustContain(t, body, `id="timezone-error"`, "This time zone is unknown", `href="#timezone"`, `value="Mars/Olympus"`, `aria-invalid="true"`)
	if _, err := e.st.SubscriberByEmail(context.Background(), "mars@example.org"); err == nil {
		t.Fatal("subscribed with an unknown zone")
	}
}

// TestPreferencesZone: the preference center shows the reader's zone (or
// the publication's as a placeholder), changes it, keeps it when a form
// without the field posts, refuses an unknown one, and empty goes back to
// the publication's.
func TestPreferencesZone(t *testing.T) {
	t.Parallel()
	e := setupPages(t)
	sub := e.confirmed(t, "zone@example.org")
	prefs := e.srv.URL + "/preferences/" + path.Base(e.svc.LinksFor(sub).Preferences)
	_, body := e.get(t, prefs+"?lang=en")
	mustContain(t, body, `<input type="text" id="timezone" name="timezone" value="" list="timezone-list"`, `placeholder="UTC"`,
		"follow the publication’s: UTC", `id="timezone-browser"`)

	form := url.Values{"topics": {"politique"}, "frequency": {"daily"}, "lang": {"en"}, "timezone": {"America/Montreal"}}
	resp, body := e.postForm(t, prefs, form)
	mustStatus(t, resp, body, 200)
	mustContain(t, body, `value="America/Montreal"`)
	if z := e.subscriber(t, "zone@example.org").Timezone; z != "America/Montreal" {
		t.Fatalf("after save: %q", z)
	}
	form.Del("timezone")
	resp, body = e.postForm(t, prefs, form)
	mustStatus(t, resp, body, 200)
	if z := e.subscriber(t, "zone@example.org").Timezone; z != "America/Montreal" {
		t.Fatalf("a form without the field changed the zone: %q", z)
	}
	form.Set("timezone", "Europe/Pariss")
	resp, body = e.postForm(t, prefs, form)
	mustStatus(t, resp, body, 400)
	mustContain(t, body, `id="timezone-error"`, `value="Europe/Pariss"`)
	if z := e.subscriber(t, "zone@example.org").Timezone; z != "America/Montreal" {
		t.Fatalf("an unknown zone changed it: %q", z)
	}
	form.Set("timezone", "")
	resp, body = e.postForm(t, prefs, form)
	mustStatus(t, resp, body, 200)
	if z := e.subscriber(t, "zone@example.org").Timezone; z != "" {
		t.Fatalf("emptied: %q", z)
	}
}

// TestZoneInBrowser: in headless Chromium set to Kathmandu time, the
// subscribe form sends Asia/Kathmandu by itself; set to Nouméa time,
// the preference center offers "use this device's zone" and saves it.
func TestZoneInBrowser(t *testing.T) {
	chromium := chromiumtest.Path(t)
	e := setupPages(t)
	ctx, cancel := chromiumtest.Open(t, chromium, 60*time.Second)
	defer cancel()

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	zone := func(name string) {
		t.Helper()
		if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: name}); err != nil {
			t.Fatalf("set the browser's zone: %v", err)
		}
	}
	zone("Asia/Kathmandu")
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/subscribe?lang=en"),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), "ktm@example.org"),
		chromedp.Click(css("#topic-politique")),
		chromedp.Click(css(`button[type="submit"]`)),
	)
	if err != nil {
		t.Fatalf("subscribe in the browser: %v", err)
	}
	e2eWait(t, func() bool {
		_, err := e.st.SubscriberByEmail(context.Background(), "ktm@example.org")
		return err == nil
	})
	// Chromium's ICU still names it Asia/Katmandu, a name the IANA
	// database keeps as a link: both load, and fire at the same instants.
	if z := e.subscriber(t, "ktm@example.org").Timezone; z != "Asia/Kathmandu" && z != "Asia/Katmandu" {
		t.Fatalf("the form sent zone %q, want the browser's Asia/Kathmandu", z)
	}

	sub := e.confirmed(t, "mtl@example.org")
	prefs := e.srv.URL + "/preferences/" + path.Base(e.svc.LinksFor(sub).Preferences) + "?lang=en"
	zone("Pacific/Noumea")
	if err := chromedp.Do(ctx, chromedp.Navigate(prefs), chromedp.WaitVisible(css("#timezone-browser"))); err != nil {
		t.Fatalf("preference center in the browser: %v", err)
	}
	label, err := chromedp.Run(ctx, chromedp.Text(css("#timezone-browser")))
	if err != nil || !strings.Contains(label, "Pacific/Noumea") {
		t.Errorf("button says %q (%v)", label, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css("#timezone-browser")),
		chromedp.Click(css(`form button[type="submit"]`)),
		chromedp.WaitVisible(css(".notice")),
	)
	if err != nil {
		t.Fatalf("save in the browser: %v", err)
	}
	if z := e.subscriber(t, "mtl@example.org").Timezone; z != "Pacific/Noumea" {
		t.Fatalf("saved zone %q, want Pacific/Noumea", z)
	}
}

// e2eWait polls cond for a few seconds.
func e2eWait(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}
