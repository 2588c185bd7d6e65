package admin

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/crieur/crieur/internal/store"
)

// The rates past which the desk warns: mailbox providers and sending
// services start to act on a sender above them (Gmail and Yahoo want
// complaints well under 0.3%; SES reviews past 5% bounces).
const (
	warnBounceRate    = 0.02
	warnComplaintRate = 0.001
)

// healthRow is one digest run's or alert's emails with their rates.
type healthRow struct {
	store.MailHealth
	BounceWarn, ComplaintWarn bool
}

// healthData is the list health page.
type healthData struct {
	Runs, Alerts []healthRow
	Warn         bool // some row is past a threshold
	// PushPruned counts the push subscriptions removed in the last 30
	// days and since the start, by reason.
	PushPruned30, PushPrunedAll map[string]int64
	Parked                      []store.Parked
	ParkedTotal                 int64
	Days                        []store.DayBounces
	BounceLimit, ComplaintLimit string
}

func rows(hs []store.MailHealth, warn *bool) []healthRow {
	out := make([]healthRow, 0, len(hs))
	for _, h := range hs {
		r := healthRow{MailHealth: h, BounceWarn: h.BounceRate() > warnBounceRate, ComplaintWarn: h.ComplaintRate() > warnComplaintRate}
		*warn = *warn || r.BounceWarn || r.ComplaintWarn
		out = append(out, r)
	}
	return out
}

// health shows bounce and complaint rates per digest run and alert email,
// the push subscriptions pruned and the reports parked.
func (ui *adminUI) health(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ctx := r.Context()
	st := ui.d.Store
	d := healthData{BounceLimit: "2%", ComplaintLimit: "0.1%"}
	runs, err := st.RunHealth(ctx, 20)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	alerts, err := st.AlertEmailHealth(ctx, 20)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d.Runs, d.Alerts = rows(runs, &d.Warn), rows(alerts, &d.Warn)
	now := ui.d.Now()
	if d.PushPruned30, err = st.PushPrunes(ctx, now.Add(-30*24*time.Hour)); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.PushPrunedAll, err = st.PushPrunes(ctx, time.Time{}); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.Days, err = st.BouncesByDay(ctx, now.Add(-14*24*time.Hour)); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.Parked, d.ParkedTotal, err = st.ParkedReports(ctx, 50); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.render(w, r, rq, http.StatusOK, "health", "admin.health.title", d)
}

// parkedData is one parked report, its bytes shown as text.
type parkedData struct {
	store.Parked
	Text      string
	Truncated bool
}

// parkedReport shows a parked report to an admin (it may hold readers'
// addresses), escaped as text.
func (ui *adminUI) parkedReport(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return
	}
	p, err := ui.d.Store.ParkedReport(r.Context(), id)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	text := string(p.Raw)
	if !utf8.ValidString(text) {
		text = string([]rune(text)) // invalid bytes shown as U+FFFD
	}
	ui.render(w, r, rq, http.StatusOK, "parked", "admin.health.parked_title", parkedData{Parked: p, Text: text, Truncated: p.Size > int64(len(p.Raw))})
}

// BouncePct and ComplaintPct are the rates as the page prints them.
func (h healthRow) BouncePct() string    { return pct(h.BounceRate()) }
func (h healthRow) ComplaintPct() string { return pct(h.ComplaintRate()) }

func pct(r float64) string { return strconv.FormatFloat(r*100, 'f', 2, 64) + " %" }
