package reader_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crieur/crieur/internal/testenv/chromiumtest"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/internal/web/site"
)

// TestWidgetInBrowser loads widget.js on a publisher's page in headless
// Chromium. As an iPhone's Safari (its user agent), outside a Home Screen
// app, the panel explains how to add the site to the Home Screen and has
// no button to turn alerts on (it could not work there). As a desktop
// browser, the panel offers the quiet hours of data-quiet in the page's
// language, and the widget reports the browser's zone.
func TestWidgetInBrowser(t *testing.T) {
	chromium := chromiumtest.Path(t)
	h, err := site.New(web.Deps{Log: slog.New(slog.DiscardHandler), BaseURL: "https://crieur.example"})
	if err != nil {
		t.Fatal(err)
	}
	crieur := httptest.NewServer(h)
	t.Cleanup(crieur.Close)
	pub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><p>Article</p><script src="%s/push/widget.js" data-lang="%s" data-quiet="23:00-06:30" async></script></body></html>`,
			crieur.URL, r.URL.Query().Get("lang"))
	}))
	t.Cleanup(pub.Close)

	run := func(userAgent, lang string) (panel string, buttons int, st map[string]any) {
		t.Helper()
		ctx, cancel := chromiumtest.Open(t, chromium, 60*time.Second, chromedp.UserAgent(userAgent))
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(pub.URL+"/?lang="+lang)); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`window.crieurPush && document.querySelector('.crieur-push')`,
			chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("widget not drawn: %v", err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`crieurPush.ready`, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatal(err)
		}
		panel, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.crieur-push').shadowRoot.querySelector('.panel').textContent`))
		if err != nil {
			t.Fatal(err)
		}
		buttons, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('.crieur-push').shadowRoot.querySelectorAll('.panel .primary').length`))
		if err != nil {
			t.Fatal(err)
		}
		st, err = chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`crieurPush.state()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return panel, buttons, st
	}

	const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	panel, buttons, st := run(iphone, "fr")
	if !strings.Contains(panel, "Sur l’écran d’accueil") || buttons != 0 || st["homeScreen"] != true || st["supported"] != false {
		t.Fatalf("iPhone outside the Home Screen: panel %q, %d enable buttons, state %v", panel, buttons, st)
	}
	panel, buttons, st = run("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36", "en")
	if !strings.Contains(panel, "No alerts between 23:00 and 06:30, except breaking news") || buttons != 1 || st["homeScreen"] != false {
		t.Fatalf("desktop: panel %q, %d enable buttons, state %v", panel, buttons, st)
	}
	if tz, _ := st["timezone"].(string); tz == "" {
		t.Fatalf("the widget reports no zone: %v", st)
	}
}
