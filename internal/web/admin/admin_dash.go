package admin

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/redact"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web"
)

// countRow is one labelled count of a dashboard table.
type countRow struct {
	Label string
	Slug  string
	N     int64
}

// dashData is the dashboard.
type dashData struct {
	ByStatus    []countRow
	ByFrequency []countRow
	ByTopic     []countRow // readers and browsers per topic
	PushByTopic map[string]int64
	PushTotal   int64
	Runs        []store.RunInfo
	Alerts      []store.AlertInfo
	Articles    []news.Article
	Feeds       []store.FeedState
	// HooksDisabled are the webhook endpoints disabled for failing a
	// day, told to admins at the top of the dashboard.
	HooksDisabled []store.WebhookEndpoint
}

func (ui *adminUI) dashboard(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ctx := r.Context()
	st := ui.d.Store
	var d dashData
	byStatus, err := st.CountSubscribers(ctx)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	for _, s := range []news.Status{news.Confirmed, news.Pending, news.Unsubscribed, news.Bounced, news.Complained} {
		d.ByStatus = append(d.ByStatus, countRow{Label: ui.s.T(rq.Lang, "admin.status."+string(s)), N: byStatus[s]})
	}
	byFreq, err := st.ReadersByFrequency(ctx)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	for _, f := range []news.Frequency{news.Daily, news.Weekly} {
		d.ByFrequency = append(d.ByFrequency, countRow{Label: ui.s.T(rq.Lang, "frequency."+string(f)), N: byFreq[f]})
	}
	topics, err := ui.s.Topics(ctx, rq.Lang)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	byTopic, err := st.ReadersByTopic(ctx)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.PushTotal, d.PushByTopic, err = st.PushCounts(ctx); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	for _, t := range topics {
		d.ByTopic = append(d.ByTopic, countRow{Label: t.Name, Slug: t.Slug, N: byTopic[t.Slug]})
	}
	if d.Runs, err = st.Runs(ctx, 5); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.Alerts, err = st.Alerts(ctx, 5); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.Articles, err = st.RecentArticles(ctx, ui.d.Now().Add(-24*time.Hour)); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.Feeds, err = st.Feeds(ctx); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	// Feed URLs can hold a password or an API key anywhere, and every
	// editor sees the dashboard: it names each feed by its host alone, in
	// its last error too. The feeds page (admins) keeps them whole to
	// manage them.
	for i := range d.Feeds {
		full, shown := d.Feeds[i].URL, redact.Origin(d.Feeds[i].URL)
		d.Feeds[i].LastError = strings.ReplaceAll(strings.ReplaceAll(d.Feeds[i].LastError, redact.URL(full), shown), full, shown)
		d.Feeds[i].URL = shown
	}
	if rq.Session.Role == news.RoleAdmin && ui.d.Webhooks != nil {
		hooks, err := ui.d.Webhooks.List(ctx)
		if err != nil {
			ui.fail(w, r, rq, err)
			return
		}
		for _, h := range hooks {
			if !h.DisabledAt.IsZero() {
				d.HooksDisabled = append(d.HooksDisabled, h)
			}
		}
	}
	ui.render(w, r, rq, http.StatusOK, "dashboard", "admin.dashboard.title", d)
}

// articlesData is the list of recent articles.
type articlesData struct {
	Days     int
	Articles []news.Article
}

func (ui *adminUI) articles(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	days := 1
	if r.URL.Query().Get("days") == "7" {
		days = 7
	}
	arts, err := ui.d.Store.RecentArticles(r.Context(), ui.d.Now().Add(-time.Duration(days)*24*time.Hour))
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	sort.SliceStable(arts, func(i, j int) bool { return arts[i].PublishedAt.After(arts[j].PublishedAt) })
	ui.render(w, r, rq, http.StatusOK, "articles", "admin.articles.title", articlesData{Days: days, Articles: arts})
}

// audienceJSON is the audience of an alert on some topics.
type audienceJSON struct {
	Browsers int64  `json:"browsers"`
	Emails   int64  `json:"emails"`
	Text     string `json:"text"`
	// Timing: what becomes of browsers in quiet hours or at their cap
	// (see timingText), for ?priority= and ?ttl=.
	Timing []string `json:"timing"`
}

// audience answers the composer's live audience count (?topic=a&topic=b).
func (ui *adminUI) audience(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	topics := r.URL.Query()["topic"]
	b, e, err := ui.d.Store.Audience(r.Context(), topics)
	if err != nil {
		ui.s.Fail(w, r, err)
		return
	}
	q := r.URL.Query()
	web.WriteJSON(w, http.StatusOK, audienceJSON{Browsers: b, Emails: e, Text: ui.audienceText(rq.Lang, b, e),
		Timing: ui.timingText(r.Context(), rq.Lang, topics, q.Get("priority"), q.Get("ttl"))})
}

// audienceText is "4 213 navigateurs, 1 032 emails".
func (ui *adminUI) audienceText(l news.Lang, browsers, emails int64) string {
	return ui.s.T(l, "admin.alert.audience", formatCount(l, browsers), formatCount(l, emails))
}
