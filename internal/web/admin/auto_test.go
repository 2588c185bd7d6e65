package admin_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAutoAlertRulesInDesk: an admin sets a topic to draft automatic
// alerts with an interval and a max age, sees it selected, and the rule is
// in the store and the audit log; a bad mode or duration is refused with
// 400 and changes nothing.
func TestAutoAlertRulesInDesk(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	b := e.browser(t, "fr")
	b.login("admin@journal.example")
	_, page := b.get("/admin/auto-alerts")
	if !strings.Contains(page, `value="topic:afrique"`) || !strings.Contains(page, "Alertes automatiques") {
		t.Fatalf("auto-alerts page:\n%.1500s", page)
	}
	resp, body := b.post(page, "/admin/auto-alerts", url.Values{"target": {"topic:afrique"}, "mode": {"draft"}, "interval": {"30"}, "max_age": {"120"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Règle d’alertes automatiques enregistrée") {
		t.Fatalf("save: %d\n%.800s", resp.StatusCode, body)
	}
	rules, err := e.st.AutoRules(context.Background())
	if err != nil || len(rules) != 1 || rules[0].Topic != "afrique" || rules[0].Mode != "draft" || rules[0].MinInterval != 30*time.Minute || rules[0].MaxAge != 2*time.Hour {
		t.Fatalf("rules %+v %v", rules, err)
	}
	for _, bad := range []url.Values{
		{"target": {"topic:afrique"}, "mode": {"always"}},
		{"target": {"topic:afrique"}, "mode": {"send"}, "interval": {"-5"}},
		{"target": {"afrique"}, "mode": {"send"}},
	} {
		if resp, _ := b.post(page, "/admin/auto-alerts", bad); resp.StatusCode != 400 {
			t.Errorf("%v: %d, want 400", bad, resp.StatusCode)
		}
	}
	if rules, _ := e.st.AutoRules(context.Background()); len(rules) != 1 || rules[0].Mode != "draft" {
		t.Fatalf("a refused form changed the rules: %+v", rules)
	}
	log, _ := e.st.AuditLog(context.Background(), 10)
	if len(log) == 0 || log[0].Action != "alert.auto_rule" || log[0].Target != "topic:afrique" {
		t.Fatalf("audit %+v", log)
	}
}
