package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push/pushtest"
	"github.com/crieur/crieur/internal/testenv/chromiumtest"
)

// TestApprovalInBrowser drives a `crieur serve` with
// CRIEUR_ALERT_APPROVAL=true in headless Chromium with two editors, each in
// a browser context of their own: the first composes an alert (the
// composer says how many browsers are in their quiet hours now and what
// becomes of them) and submits it; it waits, unsent; on its page the
// author sees no approve button, and the route refuses the author's own
// post of the form (403); the second editor approves it from the same
// page and it goes out; the audit log names both.
func TestApprovalInBrowser(t *testing.T) {
	chromium := chromiumtest.Path(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	env["CRIEUR_ALERT_APPROVAL"] = "true"
	e2etest.CLI(t, env, "", "topic", "add", "afrique", "Afrique")
	const password = "une phrase de passe assez longue"
	e2etest.CLI(t, env, password+"\n", "user", "add", "--email", "auteur@journal.example", "--role", "editor")
	e2etest.CLI(t, env, password+"\n", "user", "add", "--email", "chef@journal.example", "--role", "admin")
	p := e2etest.Start(t, env, dir)

	var key struct {
		PublicKey string `json:"public_key"`
	}
	p.Do(t, "GET", "/api/v1/push/key", "", nil, &key)
	ps := pushtest.NewServer(t, key.PublicKey)
	// Two browsers in quiet hours now (hours around the present, in UTC,
	// so that the test does not depend on the time it runs), one without.
	now := time.Now().UTC()
	clock := func(d time.Duration) string { return now.Add(d).Format("15:04") }
	for i := range 3 {
		b := pushtest.NewBrowser()
		body := map[string]any{"subscription": map[string]any{"endpoint": ps.Endpoint(b), "keys": map[string]string{"p256dh": b.P256dh, "auth": b.Auth}},
			"topics": []string{"afrique"}, "lang": "fr", "timezone": "UTC"}
		if i < 2 {
			body["quiet_hours"] = map[string]string{"from": clock(-time.Hour), "to": clock(3 * time.Hour)}
		}
		if code := p.Do(t, "POST", "/api/v1/push/subscriptions", "", body, nil); code != 201 {
			t.Fatalf("push subscription: %d", code)
		}
	}

	author, cancel := chromiumtest.Open(t, chromium, 90*time.Second, chromedp.WindowSize(1280, 900))
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, tail(p.Logs(), 3000))
		}
	}
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	login := func(ctx context.Context, email string) {
		t.Helper()
		do(ctx, "log in as "+email,
			chromedp.Navigate(p.URL+"/admin/login?ui=fr"),
			chromedp.WaitVisible(css(`#email`)),
			chromedp.SendKeys(css(`#email`), email),
			chromedp.SendKeys(css(`#password`), password),
			chromedp.Submit(css(`#password`)),
			chromedp.WaitVisible(css(`#h-readers`)),
		)
	}

	login(author, "auteur@journal.example")
	do(author, "compose",
		chromedp.Navigate(p.URL+"/admin/alerts/new"),
		chromedp.WaitVisible(css(`#f-title`)),
		chromedp.SendKeys(css(`#f-title`), "Mort du président"),
		chromedp.SendKeys(css(`#f-body`), "L’annonce vient d’être faite."),
		chromedp.SendKeys(css(`#f-url`), "https://journal.example/president"),
	)
	if q := text(author, "#quiet-now"); !strings.Contains(q, "2 navigateurs sont en heures calmes") || !strings.Contains(q, "Urgente") {
		t.Fatalf("composer's quiet hours line: %q", q)
	}
	// Normal priority: the line says what becomes of them then.
	do(author, "normal priority", chromedp.Click(css(`input[name="priority"][value="normal"]`)))
	// (The page first says both; the live line then only the chosen one.)
	if _, err := chromedp.Run(author, chromedp.Poll[chromedp.Void](`(function (t) { return t.includes("Normale, elle leur parviendra à la fin de leurs heures calmes pour 0 d’entre eux ; 2 ne la recevront pas") && !t.includes("Urgente"); })(document.getElementById("quiet-now").textContent)`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("quiet hours line for a normal alert: %v (%q)", err, text(author, "#quiet-now"))
	}
	do(author, "breaking again", chromedp.Click(css(`input[name="priority"][value="breaking"]`)))
	do(author, "confirm",
		chromedp.Click(css(`#alert-form button.primary`)),
		chromedp.WaitVisible(css(`#send-alert`)),
	)
	if b, h := text(author, "#send-alert"), text(author, "#approval-hint"); b != "Soumettre pour approbation" || h == "" {
		t.Fatalf("confirmation button %q, hint %q", b, h)
	}
	do(author, "submit",
		chromedp.Click(css(`#send-alert`)),
		chromedp.WaitVisible(css(`#awaiting`)),
	)
	page, err := chromedp.Run(author, chromedp.Evaluate[string](`location.pathname`))
	if err != nil {
		t.Fatal(err)
	}
	if st := text(author, `[data-field="label"]`); st != "En attente d’approbation" {
		t.Fatalf("state after submitting: %q", st)
	}
	if own := text(author, "#own-alert"); !strings.Contains(own, "une autre personne") {
		t.Fatalf("author's page: %q", own)
	}
	if n, err := chromedp.Run(author, chromedp.Evaluate[int](`document.querySelectorAll('#approve-alert').length`)); err != nil || n != 0 {
		t.Fatalf("approve button on the author's page: %d %v", n, err)
	}
	// The author posts the approve form anyway, with their CSRF token.
	status, err := chromedp.Run(author, chromedp.Evaluate[int](fmt.Sprintf(`fetch(%q, {method: 'POST', body: new URLSearchParams({csrf: document.querySelector('input[name=csrf]').value})}).then(r => r.status)`,
		page+"/approve"), chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Fatalf("the author's own approval: HTTP %d %v, want 403", status, err)
	}
	if n := ps.Count(); n != 0 {
		t.Fatalf("%d pushes before approval", n)
	}

	// The second editor, in a browser context of their own.
	chief, cancelB := chromedp.NewContext(author, chromedp.WithNewBrowserContext())
	defer cancelB()
	login(chief, "chef@journal.example")
	do(chief, "approve",
		chromedp.Navigate(p.URL+page),
		chromedp.WaitVisible(css(`#approve-alert`)),
		chromedp.Click(css(`#approve-alert`)),
		chromedp.WaitVisible(css(`#progress[data-state="done"]`)),
	)
	// Breaking by default: through quiet hours, so all three delivered.
	if by, d := text(chief, "#approved-by"), text(chief, `[data-field="delivered"]`); by != "user:chef@journal.example" || d != "3" {
		t.Fatalf("after approval: approved by %q, delivered %q", by, d)
	}
	if n := ps.Count(); n != 3 {
		t.Fatalf("push service got %d messages, want 3 (breaking: through quiet hours)", n)
	}
	do(chief, "audit",
		chromedp.Navigate(p.URL+"/admin/audit"),
		chromedp.WaitVisible(css(`table`)),
	)
	audit := text(chief, "table")
	if !strings.Contains(audit, "alert.approve") || !strings.Contains(audit, "chef@journal.example") || !strings.Contains(audit, "auteur@journal.example") {
		t.Fatalf("audit log does not name approver and author:\n%s", audit)
	}
}
