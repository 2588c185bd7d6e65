package admin

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web/chart"
)

// The pictures' colours, with enough contrast on white and told apart
// without colour by their legend and the table beside them.
const (
	colorBlue   = "#0969da"
	colorGreen  = "#1a7f37"
	colorOrange = "#bc4c00"
	colorRed    = "#cf222e"
	colorPurple = "#8250df"
	colorGrey   = "#6e7781"
)

// readingData is the readers' dashboard: readers over 90 days, push
// browsers over 90 days, the week's most-clicked stories.
type readingData struct {
	Readers      template.HTML
	Bounces      template.HTML
	ReaderDays   []store.ReaderDay
	Browsers     template.HTML
	BrowserDays  []store.DayTotal
	Top          template.HTML
	TopArticles  []store.ArticleClickCount
	ScannerTotal int64
}

func (ui *adminUI) reading(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ctx := r.Context()
	now := ui.d.Now()
	since := now.Add(-89 * 24 * time.Hour)
	var d readingData
	var err error
	if d.ReaderDays, err = ui.d.Store.ReadersPerDay(ctx, since, now); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.BrowserDays, err = ui.d.Store.PushBrowsersPerDay(ctx, since, now); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.TopArticles, err = ui.d.Store.TopClicked(ctx, now.Add(-6*24*time.Hour), 10); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	l := rq.Lang
	t := func(k string, a ...any) string { return ui.s.T(l, k, a...) }
	var labels []string
	var conf, unsub, bounced, complained []float64
	for _, day := range d.ReaderDays {
		labels = append(labels, ui.shortDay(l, day.Day))
		conf = append(conf, float64(day.Confirmed))
		unsub = append(unsub, float64(day.Unsubscribed))
		bounced = append(bounced, float64(day.Bounced))
		complained = append(complained, float64(day.Complained))
	}
	d.Readers = chart.Line{ID: "readers", Title: t("admin.reading.readers"), Desc: t("admin.reading.readers_desc"), XLabels: labels,
		Series: []chart.Series{{Name: t("admin.reading.confirmed"), Color: colorGreen, Values: conf},
			{Name: t("admin.reading.unsubscribed"), Color: colorOrange, Values: unsub}}}.SVG()
	d.Bounces = chart.Line{ID: "bounces", Title: t("admin.reading.bounces"), Desc: t("admin.reading.bounces_desc"), XLabels: labels,
		Series: []chart.Series{{Name: t("admin.reading.bounced"), Color: colorRed, Values: bounced},
			{Name: t("admin.reading.complained"), Color: colorPurple, Values: complained}}}.SVG()
	labels = labels[:0:0]
	var browsers []float64
	for _, day := range d.BrowserDays {
		labels = append(labels, ui.shortDay(l, day.Day))
		browsers = append(browsers, float64(day.Total))
	}
	d.Browsers = chart.Line{ID: "browsers", Title: t("admin.reading.browsers"), Desc: t("admin.reading.browsers_desc"), XLabels: labels,
		Series: []chart.Series{{Name: t("admin.reading.browsers_series"), Color: colorBlue, Values: browsers}}}.SVG()
	d.Top = ui.clickBars("top", t("admin.reading.top"), t("admin.reading.top_desc"), l, d.TopArticles)
	for _, a := range d.TopArticles {
		d.ScannerTotal += a.Scanner
	}
	ui.render(w, r, rq, http.StatusOK, "reading", "admin.reading.title", d)
}

// clickBars is a bar per article: readers' clicks, then scanners'.
func (ui *adminUI) clickBars(id, title, desc string, l news.Lang, arts []store.ArticleClickCount) template.HTML {
	var labels []string
	var human, scanner []float64
	for _, a := range arts {
		name := a.Title
		if name == "" {
			name = "#" + strconv.FormatInt(a.ArticleID, 10)
		}
		labels = append(labels, name)
		human = append(human, float64(a.Human))
		scanner = append(scanner, float64(a.Scanner))
	}
	return chart.Bars{ID: id, Title: title, Desc: desc, Labels: labels,
		Series: []chart.Series{{Name: ui.s.T(l, "admin.reading.human"), Color: colorBlue, Values: human},
			{Name: ui.s.T(l, "admin.reading.scanner"), Color: colorGrey, Values: scanner}}}.SVG()
}

// shortDay is "7/12" (fr) or "12/7" (en).
func (ui *adminUI) shortDay(l news.Lang, t time.Time) string {
	if l == news.English {
		return strconv.Itoa(int(t.Month())) + "/" + strconv.Itoa(t.Day())
	}
	return strconv.Itoa(t.Day()) + "/" + strconv.Itoa(int(t.Month()))
}

// runClicks is what a digest run's page shows of its clicks.
type runClicks struct {
	Total    store.ClickTotal
	Articles []store.ArticleClickCount
	Chart    template.HTML
}

func (ui *adminUI) runClicks(ctx context.Context, l news.Lang, id int64) (runClicks, error) {
	var c runClicks
	var err error
	if c.Total, err = ui.d.Store.ClickTotals(ctx, store.ClickScope{RunID: id}); err != nil {
		return c, err
	}
	if c.Articles, err = ui.d.Store.RunArticleClicks(ctx, id); err != nil {
		return c, err
	}
	if len(c.Articles) > 0 {
		c.Chart = ui.clickBars("run-clicks", ui.s.T(l, "admin.reading.run_clicks"), ui.s.T(l, "admin.reading.run_clicks_desc"), l, c.Articles)
	}
	return c, nil
}

// alertCurve is an alert's first hour, as a picture and as rows.
type alertCurve struct {
	Chart  template.HTML
	Points []store.CurvePoint // every fifth minute, and the last
}

func (ui *adminUI) alertCurve(ctx context.Context, l news.Lang, a store.AlertInfo) (alertCurve, error) {
	start := a.SendAt
	if start.IsZero() || a.CreatedAt.After(start) {
		start = a.CreatedAt
	}
	pts, err := ui.d.Store.AlertCurve(ctx, a.ID, start, 60)
	if err != nil {
		return alertCurve{}, err
	}
	// Minutes not yet come are left out: the line stops at now.
	if n := int(ui.d.Now().Sub(start)/time.Minute) + 1; n < len(pts) {
		pts = pts[:max(n, 1)]
	}
	var labels []string
	var del, shown, clicked []float64
	var c alertCurve
	for i, p := range pts {
		labels = append(labels, strconv.Itoa(p.Minute)+" min")
		del = append(del, float64(p.Delivered))
		shown = append(shown, float64(p.Shown))
		clicked = append(clicked, float64(p.Clicked))
		if i%5 == 0 || i == len(pts)-1 {
			c.Points = append(c.Points, p)
		}
	}
	t := func(k string) string { return ui.s.T(l, k) }
	c.Chart = chart.Line{ID: "alert-curve", Title: t("admin.reading.curve"), Desc: t("admin.reading.curve_desc"), XLabels: labels,
		Series: []chart.Series{{Name: t("admin.alert.delivered"), Color: colorBlue, Values: del},
			{Name: t("admin.alert.shown"), Color: colorGreen, Values: shown},
			{Name: t("admin.alert.opened"), Color: colorOrange, Values: clicked}}}.SVG()
	return c, nil
}

// withEngagement adds what browsers reported of the alert to its status.
func (ui *adminUI) withEngagement(ctx context.Context, st *alertStatusJSON) error {
	id, _ := strconv.ParseInt(st.ID, 10, 64)
	var err error
	st.Shown, st.Clicked, err = ui.d.Store.AlertEngagement(ctx, id)
	return err
}

// Day is a day of the dashboard's tables, 2026-12-07 in both languages.
func (v *adminView) Day(t time.Time) string { return t.Format("2006-01-02") }
