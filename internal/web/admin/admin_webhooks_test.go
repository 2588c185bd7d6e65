package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// An endpoint disabled after a day of failures is shown as such, with
// why, on its page and on the admins' dashboard (not the editors'); an
// admin enables it again. What the endpoint answered is escaped.
func TestDeskShowsDisabledWebhook(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	t0 := time.Now().Add(-48 * time.Hour)
	ep, err := e.st.CreateWebhookEndpoint(ctx, "https://crm.example/hooks", []news.EventType{news.EventSubscriberConfirmed}, "whsec_AAAA", "test", t0)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := e.st.Subscribe(ctx, "a@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Confirm(ctx, id, "h", t0); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{t0, t0.Add(store.WebhookGiveUp)} {
		jobs, err := e.st.ClaimWebhooks(ctx, "w", at, 5)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %d", err, len(jobs))
		}
		if _, err := e.st.RecordWebhook(ctx, store.WebhookOutcome{Job: jobs[0], Verdict: store.WebhookRetry, Status: 502,
			Error: "HTTP 502: " + adminXSS, RetryAt: at}, at); err != nil {
			t.Fatal(err)
		}
	}
	admin := e.browser(t, "en")
	admin.login("admin@journal.example")
	_, page := admin.get("/admin/webhooks/" + itoa(ep))
	for _, s := range []string{"Disabled on", "HTTP 502", "/enable", "Delivery log", "Send a test event"} {
		if !strings.Contains(page, s) {
			t.Errorf("the endpoint's page lacks %q:\n%.3000s", s, page)
		}
	}
	if strings.Contains(page, adminXSS) {
		t.Error("the endpoint's answer is not escaped")
	}
	if _, dash := admin.get("/admin"); !strings.Contains(dash, "hook-disabled-"+itoa(ep)) {
		t.Errorf("the admin's dashboard does not tell of the disabled endpoint")
	}
	editor := e.browser(t, "en")
	editor.login("editor@journal.example")
	if _, dash := editor.get("/admin"); strings.Contains(dash, "hook-disabled-") {
		t.Errorf("an editor's dashboard tells of webhooks")
	}
	if resp, _ := admin.post(page, "/admin/webhooks/"+itoa(ep)+"/enable", url.Values{}); resp.StatusCode != http.StatusOK {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	got, err := e.st.WebhookEndpoint(ctx, ep)
	if err != nil || !got.DisabledAt.IsZero() {
		t.Fatalf("after enable: %+v %v", got, err)
	}
	// Registering from the desk shows the secret once; a bad URL is refused.
	_, list := admin.get("/admin/webhooks")
	if resp, body := admin.post(list, "/admin/webhooks", url.Values{"url": {"ftp://x"}, "events": {"alert.done"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "url must be") {
		t.Errorf("bad url: %d", resp.StatusCode)
	}
	resp, body := admin.post(list, "/admin/webhooks", url.Values{"url": {"http://127.0.0.1:9/in"}, "events": {"alert.done", "digest.done"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="new-secret">whsec_`) {
		t.Fatalf("register: %d\n%.2000s", resp.StatusCode, body)
	}
	if _, again := admin.get("/admin/webhooks"); strings.Contains(again, "whsec_") {
		t.Error("the secret is shown twice")
	}
}
