package alert_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/alert"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/store/storetest"
)

// TestApproval: with approval required an alert waits, unsent; its
// author cannot approve it (forbidden), another person can, once; the
// audit log names both.
func TestApproval(t *testing.T) {
	t.Parallel()
	st, svc := setup(t)
	svc.RequireApproval(true)
	ctx := context.Background()
	id, err := svc.Send(ctx, news.AlertRequest{Title: "Mort du président", URL: "https://journal.example/a", CreatedBy: "user:a@journal.example"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := st.Alert(ctx, id)
	if a.State != news.AlertAwaitingApproval || a.Priority != news.Breaking {
		t.Fatalf("alert %s %s, want awaiting_approval and breaking", a.State, a.Priority)
	}
	if err := svc.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.Alert(ctx, id); a.State != news.AlertAwaitingApproval {
		t.Fatalf("alert %s before approval", a.State)
	}
	var ne *news.Error
	if err := svc.Approve(ctx, id, "user:a@journal.example"); !errors.As(err, &ne) || ne.Code != news.CodeForbidden {
		t.Fatalf("the author approving: %v, want forbidden", err)
	}
	if alert.CanApprove(a.Alert, "user:a@journal.example") || !alert.CanApprove(a.Alert, "token:cms") {
		t.Fatal("CanApprove wrong")
	}
	if err := svc.Approve(ctx, id, "user:b@journal.example"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Approve(ctx, id, "token:cms"); !errors.As(err, &ne) || ne.Code != news.CodeConflict {
		t.Fatalf("approving twice: %v, want conflict", err)
	}
	a, _ = st.Alert(ctx, id)
	if a.State != news.AlertSending || a.ApprovedBy != "user:b@journal.example" {
		t.Fatalf("approved alert %s by %q", a.State, a.ApprovedBy)
	}
	entries, err := st.AuditLog(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Action == "alert.approve" && e.Actor == "user:b@journal.example" && contains(e.Detail, "a@journal.example") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit entry naming approver and author: %+v", entries)
	}
	if _, err := svc.Send(ctx, news.AlertRequest{Title: "x", URL: "https://journal.example/a", Priority: "urgent"}); err == nil {
		t.Fatal("unknown priority accepted")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestAutomaticAlertWaitsForItsArticle: a topic set to send raises a
// normal alert from a new article; it is not queued while the article
// answers 404, checked again after 10 s then 20 s of the test's clock,
// and queued once it answers; an article that never answers fails its
// alert after the last try. A draft rule raises an alert awaiting
// approval, which anyone may approve (its author is no person).
func TestAutomaticAlertWaitsForItsArticle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.SQLite(t)
	for _, slug := range []string{"sport", "eco"} {
		if _, err := st.CreateTopic(ctx, slug, slug); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.example/1", P256dh: "p", Auth: "a", Lang: news.French}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.SetAutoRule(ctx, store.AutoRule{Topic: "sport", Mode: alert.ModeSend, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetAutoRule(ctx, store.AutoRule{Topic: "eco", Mode: alert.ModeDraft}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	answers := map[string]error{"https://journal.example/but": errors.New("HTTP 404"), "https://journal.example/never": errors.New("HTTP 404")}
	var checks []string
	svc := alert.New(st, slog.New(slog.DiscardHandler), clock, func() {}, func() {})
	svc.CheckArticlesWith(func(_ context.Context, url string) error {
		mu.Lock()
		defer mu.Unlock()
		checks = append(checks, url)
		return answers[url]
	})
	article := func(guid string, topic string) {
		t.Helper()
		if _, _, err := st.SaveArticle(ctx, news.Article{GUID: guid, URL: "https://journal.example/" + guid, Title: "Titre " + guid,
			Summary: "Résumé", Topics: []string{topic}, PublishedAt: clock().Add(-time.Minute), CreatedAt: clock()}); err != nil {
			t.Fatal(err)
		}
	}
	article("but", "sport")
	article("never", "sport")
	article("budget", "eco")
	run := func() {
		t.Helper()
		if err := svc.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run()
	all, err := st.Alerts(ctx, 10)
	if err != nil || len(all) != 3 {
		t.Fatalf("%d automatic alerts (%v), want 3", len(all), err)
	}
	byURL := map[string]store.AlertInfo{}
	for _, a := range all {
		byURL[a.URL] = a
		if a.Priority != news.Normal || a.CreatedBy != news.AutoAuthor {
			t.Errorf("automatic alert %+v: want normal priority, by auto", a.Alert)
		}
	}
	if but := byURL["https://journal.example/but"]; but.Targeted != 0 || !but.CheckURL {
		t.Fatalf("alert queued while its article answers 404: %+v", but)
	}
	if d := byURL["https://journal.example/budget"]; d.State != news.AlertAwaitingApproval {
		t.Fatalf("draft rule's alert %s, want awaiting_approval", d.State)
	}
	advance(9 * time.Second)
	run()
	if len(checks) != 2 {
		t.Fatalf("checked again before 10 s: %v", checks)
	}
	mu.Lock()
	answers["https://journal.example/but"] = nil // published
	mu.Unlock()
	advance(time.Second)
	run()
	if a, _ := st.Alert(ctx, byURL["https://journal.example/but"].ID); a.Targeted != 1 || a.CheckURL {
		t.Fatalf("alert not queued once its article answered: %+v", a)
	}
	for range 12 {
		advance(5 * time.Minute)
		run()
	}
	if a, _ := st.Alert(ctx, byURL["https://journal.example/never"].ID); a.State != news.AlertFailed || a.Targeted != 0 || !contains(a.Error, "404") {
		t.Fatalf("alert for an article that never answered: %s targeted %d error %q", a.State, a.Targeted, a.Error)
	}
	if err := svc.Approve(ctx, byURL["https://journal.example/budget"].ID, "user:b@journal.example"); err != nil {
		t.Fatalf("approving an automatic draft: %v", err)
	}
	n := 0
	for _, c := range checks {
		if c == "https://journal.example/never" {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("the unreachable article was checked %d times, want 10", n)
	}
}
