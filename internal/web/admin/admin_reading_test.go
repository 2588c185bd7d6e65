package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// TestReadingPictures: the readers' dashboard, a digest run and an alert
// show their pictures as inline SVG (no script needed) with the same
// numbers in a table, in French and in English; titles of stories are
// escaped inside the SVG.
func TestReadingPictures(t *testing.T) {
	t.Parallel()
	e := setupAdmin(t)
	ctx := context.Background()
	now := time.Now()
	art, _, err := e.st.SaveArticle(ctx, news.Article{URL: "https://journal.example/a", Title: "Élections " + adminXSS, PublishedAt: now, CreatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := e.st.CreateRun(ctx, news.Daily, now, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddClicks(ctx, store.ClickBatch{Counts: []store.ClickCount{
		{ClickScope: store.ClickScope{RunID: run}, ArticleID: art, Day: now, Human: 4217, Scanner: 93}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Suppress(ctx, "h", "complaint", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.example/1", P256dh: "k", Auth: "a", Lang: news.French}, nil, now); err != nil {
		t.Fatal(err)
	}
	aid, err := e.st.CreateAlert(ctx, news.Alert{Title: "Séisme", Body: "B", URL: "https://journal.example/s", TTL: time.Hour, Urgency: "high",
		TopicHeader: "t", State: news.AlertDone, SendAt: now, CreatedAt: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The alert went to the browser (only its reports count).
	if _, err := e.st.DB().ExecContext(ctx, `UPDATE alerts SET enqueue_after = (SELECT id FROM push_subscriptions WHERE endpoint = 'https://push.example/1') WHERE id = ?`, aid); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.RecordPushEvent(ctx, aid, "https://push.example/1", store.PushClicked, now); err != nil {
		t.Fatal(err)
	}
	sid, _ := e.session(t, e.editor)
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/admin/reading?ui=fr", []string{"Ce que lisent les lecteurs", "Lecteurs sur 90 jours", "Navigateurs abonnés", "4\u202f217", "Plaintes"}},
		{"/admin/reading?ui=en", []string{"What readers read", "Readers over 90 days", "Push browsers", "4,217", "Complaints"}},
		{"/admin/digests/runs/" + itoa(run) + "?ui=en", []string{"Clicks per story", "4,217", "93"}},
		{"/admin/alerts/" + itoa(aid) + "?ui=en", []string{"The first hour", `data-field="shown">1<`, `data-field="clicked">1<`}},
	} {
		resp, body := e.do(t, "GET", c.path, sid, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d\n%s", c.path, resp.StatusCode, body)
		}
		if !strings.Contains(body, `<svg xmlns="http://www.w3.org/2000/svg" class="chart"`) || !strings.Contains(body, `role="img"`) || !strings.Contains(body, "<table") {
			t.Errorf("%s: no picture with its table", c.path)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: %q missing", c.path, w)
			}
		}
		if strings.Contains(body, adminXSS) {
			t.Errorf("%s: a story's title unescaped", c.path)
		}
	}
	resp, body := e.do(t, "GET", "/admin/alerts/"+itoa(aid)+"/status", sid, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"shown":1`) || !strings.Contains(body, `"clicked":1`) {
		t.Errorf("status: %d %s", resp.StatusCode, body)
	}
}
