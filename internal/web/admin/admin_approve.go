package admin

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/quiet"
)

// approvalReporter says whether every alert waits for a second person;
// the alert service implements it.
type approvalReporter interface {
	ApprovalRequired() bool
}

func (ui *adminUI) approvalRequired() bool {
	a, ok := ui.d.Alerts.(approvalReporter)
	return ok && a.ApprovalRequired()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (ui *adminUI) priorityOptions(l news.Lang) []adminOption {
	return []adminOption{
		{string(news.Breaking), ui.s.T(l, "admin.alert.priority.breaking")},
		{string(news.Normal), ui.s.T(l, "admin.alert.priority.normal")},
	}
}

// timingText tells the composer what becomes of the browsers in their
// quiet hours now and of those at their daily cap, for an alert on these
// topics: for both priorities when priority is "", else for that one,
// with the alert's TTL (seconds; default an hour).
func (ui *adminUI) timingText(ctx context.Context, l news.Lang, topics []string, priority, ttlField string) []string {
	groups, err := ui.d.Store.PushTimingGroups(ctx, topics)
	if err != nil || len(groups) == 0 {
		return nil
	}
	ttl := time.Hour
	if n, err := strconv.Atoi(ttlField); err == nil && n >= 0 {
		ttl = time.Duration(n) * time.Second
	}
	now := ui.d.Now()
	var inQuiet, held, lost, capped int64
	for _, g := range groups {
		loc := quiet.ZoneOr(g.Timezone, ui.loc())
		h := quiet.Hours{From: g.QuietFrom, To: g.QuietTo}
		if end, in := h.Quiet(now, loc); in {
			inQuiet += g.Browsers
			if ttl > 0 && !end.After(now.Add(ttl)) {
				held += g.Browsers
			} else {
				lost += g.Browsers
			}
			continue
		}
		if g.MaxPerDay > 0 && g.DayKey == quiet.Day(now, loc) && g.DayCount >= g.MaxPerDay {
			capped += g.Browsers
		}
	}
	var out []string
	if inQuiet > 0 {
		out = append(out, ui.s.T(l, "admin.alert.quiet_now", formatCount(l, inQuiet)))
		if priority != string(news.Normal) {
			out = append(out, ui.s.T(l, "admin.alert.quiet_breaking"))
		}
		if priority != string(news.Breaking) {
			out = append(out, ui.s.T(l, "admin.alert.quiet_normal", formatCount(l, held), formatCount(l, lost)))
		}
	}
	if capped > 0 && priority != string(news.Breaking) {
		out = append(out, ui.s.T(l, "admin.alert.capped", formatCount(l, capped)))
	}
	return out
}

// alertApprove sends an alert awaiting approval: any editor but its
// author (the button is not shown to them; the route refuses them too).
func (ui *adminUI) alertApprove(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return
	}
	if err := ui.d.Alerts.Approve(r.Context(), id, rq.actor()); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.redirect(w, r, "/admin/alerts/"+strconv.FormatInt(id, 10))
}
