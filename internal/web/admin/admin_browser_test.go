package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push/pushtest"
	"github.com/crieur/crieur/internal/testenv/chromiumtest"
)

// TestAdminInBrowser drives the admin UI of a real `crieur serve` in
// headless Chromium: log in, send an alert to three browsers of a push
// service stub and watch the progress page reach "done", preview a digest,
// erase a reader, and see a form without its CSRF token refused.
// Screenshots go to $CRIEUR_SCREENSHOTS, else to a temporary directory.
func TestAdminInBrowser(t *testing.T) {
	chromium := chromiumtest.Path(t)
	dir := t.TempDir()
	shots := os.Getenv("CRIEUR_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	env := e2etest.NewEnv(dir)
	env["CRIEUR_SITE_NAME"] = "Le Journal"
	e2etest.CLI(t, env, "", "topic", "add", "afrique", "Afrique")
	e2etest.CLI(t, env, "", "topic", "add", "politique", "Politique")
	const password = "une phrase de passe assez longue"
	e2etest.CLI(t, env, password+"\n", "user", "add", "--email", "redaction@journal.example", "--role", "admin")
	token := e2etest.Token(t, env, "cms", "editor")
	csv := filepath.Join(dir, "readers.csv")
	if err := os.WriteFile(csv, []byte("email,topics,frequency,lang,status\nlectrice@example.org,afrique,daily,fr,confirmed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e2etest.CLI(t, env, "", "subscribers", "import", csv)
	p := e2etest.Start(t, env, dir)

	if code := p.Do(t, "POST", "/api/v1/articles", token, map[string]any{"url": "https://journal.example/senegal",
		"title": "Élections au Sénégal <script>alert(1)</script>", "summary": "Le dépouillement a commencé.", "topics": []string{"afrique"},
		"published_at": time.Now().Add(-time.Hour).Format(time.RFC3339)}, nil); code != 201 {
		t.Fatalf("create article: %d", code)
	}
	var key struct {
		PublicKey string `json:"public_key"`
	}
	p.Do(t, "GET", "/api/v1/push/key", "", nil, &key)
	ps := pushtest.NewServer(t, key.PublicKey)
	for i := 0; i < 3; i++ {
		b := pushtest.NewBrowser()
		body := map[string]any{"subscription": map[string]any{"endpoint": ps.Endpoint(b), "keys": map[string]string{"p256dh": b.P256dh, "auth": b.Auth}},
			"topics": []string{"afrique"}, "lang": "fr"}
		if code := p.Do(t, "POST", "/api/v1/push/subscriptions", "", body, nil); code != 201 {
			t.Fatalf("push subscription: %d", code)
		}
	}

	ctx, cancel := chromiumtest.Open(t, chromium, 90*time.Second, chromedp.WindowSize(1280, 900))
	defer cancel()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			path := filepath.Join(shots, name)
			if err := os.WriteFile(path, png, 0o644); err != nil {
				return err
			}
			t.Logf("screenshot: %s", path)
			return nil
		})
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, tail(p.Logs(), 3000))
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Log in (French UI), land on the dashboard.
	do("log in",
		chromedp.Navigate(p.URL+"/admin/login?ui=fr"),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), "redaction@journal.example"),
		chromedp.SendKeys(css(`#password`), password),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`#h-readers`)),
		shot("admin-dashboard.png"),
	)
	if h1 := text("h1"); h1 != "Tableau de bord" {
		t.Fatalf("dashboard h1 = %q", h1)
	}

	// Compose: the mock and the audience follow what is typed and ticked.
	do("compose",
		chromedp.Navigate(p.URL+"/admin/alerts/new"),
		chromedp.WaitVisible(css(`#f-title`)),
		chromedp.SendKeys(css(`#f-title`), "Séisme au large de Dakar"),
		chromedp.SendKeys(css(`#f-body`), "Une secousse de magnitude 5,8 a été ressentie. Pas de victime signalée à ce stade."),
		chromedp.SendKeys(css(`#f-url`), "https://journal.example/seisme-dakar"),
		chromedp.Click(css(`input[name="topics"][value="afrique"]`)),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("audience").textContent.startsWith("3")`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("live audience: %v (%q)", err, text("#audience"))
	}
	do("composer screenshot", shot("admin-composer.png"))
	if mock, aud := text(".notif-title"), text("#audience"); mock != "Séisme au large de Dakar" || !strings.Contains(aud, "navigateurs") {
		t.Fatalf("preview title %q, audience %q", mock, aud)
	}

	// Confirm, send, and watch the progress page reach done with 3 delivered.
	do("confirm",
		chromedp.Click(css(`#alert-form button.primary`)),
		chromedp.WaitVisible(css(`#send-alert`)),
		shot("admin-confirm.png"),
	)
	if c := text("#confirm-audience"); !strings.Contains(c, "3") {
		t.Fatalf("confirmation: %q", c)
	}
	do("send and watch",
		chromedp.Click(css(`#send-alert`)),
		chromedp.WaitVisible(css(`#progress`)),
		chromedp.WaitVisible(css(`#progress[data-state="done"]`)),
		shot("admin-progress.png"),
	)
	if d, st := text(`[data-field="delivered"]`), text(`[data-field="label"]`); d != "3" || st != "Terminée" {
		t.Fatalf("progress: delivered %q, state %q", d, st)
	}
	if n := ps.Count(); n != 3 {
		t.Fatalf("push service got %d messages, want 3", n)
	}

	// Digest preview as a sample reader.
	do("digest preview",
		chromedp.Navigate(p.URL+"/admin/digests/preview?topics=afrique&lang=fr&frequency=daily"),
		chromedp.WaitVisible(css(`#preview-subject`)),
		shot("admin-digest-preview.png"),
	)
	frame, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`iframe.email-frame`), "src"))
	if subj := text("#preview-subject"); err != nil || subj == "" || !strings.Contains(frame.Value, "/admin/digests/preview/html?") {
		t.Fatalf("digest preview: subject %q, frame %q %v", subj, frame.Value, err)
	}

	// Erase a reader, through the confirmation page.
	do("erase a reader",
		chromedp.Navigate(p.URL+"/admin/readers?q=lectrice"),
		chromedp.WaitVisible(css(`table a[href^="/admin/readers/"]`)),
		chromedp.Click(css(`table a[href^="/admin/readers/"]`)),
		chromedp.WaitVisible(css(`a.button.danger`)),
		chromedp.Click(css(`a.button.danger`)),
		chromedp.WaitVisible(css(`#erase-confirm`)),
		chromedp.Click(css(`#erase-confirm`)),
		chromedp.WaitVisible(css(`.flash`)),
	)
	if f := text(".flash"); !strings.Contains(f, "effacé") {
		t.Fatalf("after erase: %q", f)
	}
	if code := p.Do(t, "GET", "/api/v1/subscribers/lectrice@example.org", token, nil, nil); code != 403 && code != 404 {
		t.Fatalf("reader after erase: %d", code)
	}

	// A form submitted without its CSRF token is refused.
	do("csrf",
		chromedp.Navigate(p.URL+"/admin/topics"),
		chromedp.WaitVisible(css(`#t-slug`)),
	)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action$="/admin/topics"] input[name="csrf"]').remove()`)); err != nil {
		t.Fatal(err)
	}
	do("csrf submit",
		chromedp.SendKeys(css(`#t-slug`), "pirate"),
		chromedp.SendKeys(css(`#t-name`), "Pirate"),
		chromedp.Submit(css(`#t-name`)),
		chromedp.WaitNotPresent(css(`#t-slug`)),
	)
	if h1 := text("h1"); h1 != "Accès refusé" {
		t.Fatalf("form without CSRF token: page %q", h1)
	}
	var topics []map[string]string
	p.Do(t, "GET", "/api/v1/topics", "", nil, &topics)
	for _, tp := range topics {
		if tp["slug"] == "pirate" {
			t.Fatal("a form without CSRF token created a topic")
		}
	}

	// The composer on a phone.
	do("phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(1)),
		chromedp.Navigate(p.URL+"/admin/alerts/new"),
		chromedp.WaitVisible(css(`#f-title`)),
		shot("admin-composer-phone.png"),
	)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
