package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// autoRow is one topic or feed on the automatic-alerts page, with its rule
// (mode off when it has none).
type autoRow struct {
	Target, Label, Mode string
	IntervalMin, AgeMin int64
}

// autoData is the automatic-alerts page.
type autoData struct {
	Rows  []autoRow
	Modes []adminOption
}

// autoAlerts lists every topic and feed with its automatic-alert rule.
func (ui *adminUI) autoAlerts(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ui.renderAuto(w, r, rq, http.StatusOK, "")
}

func (ui *adminUI) renderAuto(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, errMsg string) {
	ctx := r.Context()
	topics, err := ui.s.Topics(ctx, rq.Lang)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	feeds, err := ui.d.Store.Feeds(ctx)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	rules, err := ui.d.Store.AutoRules(ctx)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	byTarget := map[string]store.AutoRule{}
	for _, ru := range rules {
		if ru.Topic != "" {
			byTarget["topic:"+ru.Topic] = ru
		} else {
			byTarget["feed:"+ru.Feed] = ru
		}
	}
	row := func(target, label string) autoRow {
		ru, ok := byTarget[target]
		if !ok {
			return autoRow{Target: target, Label: label, Mode: "off"}
		}
		return autoRow{Target: target, Label: label, Mode: ru.Mode, IntervalMin: int64(ru.MinInterval / time.Minute), AgeMin: int64(ru.MaxAge / time.Minute)}
	}
	d := autoData{}
	for _, m := range []string{"off", "draft", "send"} {
		d.Modes = append(d.Modes, adminOption{m, ui.s.T(rq.Lang, "admin.auto.mode."+m)})
	}
	for _, t := range topics {
		d.Rows = append(d.Rows, row("topic:"+t.Slug, t.Name))
	}
	for _, f := range feeds {
		d.Rows = append(d.Rows, row("feed:"+f.URL, f.URL))
	}
	var opts []func(*adminView)
	if errMsg != "" {
		opts = append(opts, withError(errMsg))
	}
	ui.render(w, r, rq, status, "auto_alerts", "admin.auto.title", d, opts...)
}

// autoAlertSave sets one topic's or feed's rule.
func (ui *adminUI) autoAlertSave(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	target, mode := r.PostFormValue("target"), r.PostFormValue("mode")
	minutes := func(k string) (time.Duration, bool) {
		v := strings.TrimSpace(r.PostFormValue(k))
		if v == "" {
			return 0, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return time.Duration(n) * time.Minute, err == nil && n >= 0 && n <= 60*24*30
	}
	every, ok1 := minutes("interval")
	age, ok2 := minutes("max_age")
	ru := store.AutoRule{Mode: mode, MinInterval: every, MaxAge: age}
	if slug, ok := strings.CutPrefix(target, "topic:"); ok {
		ru.Topic = slug
	} else if u, ok := strings.CutPrefix(target, "feed:"); ok {
		ru.Feed = u
	}
	if !ok1 || !ok2 || (mode != "off" && mode != "draft" && mode != "send") || (ru.Topic == "" && ru.Feed == "") {
		ui.renderAuto(w, r, rq, http.StatusBadRequest, ui.s.T(rq.Lang, "admin.auto.invalid"))
		return
	}
	if err := ui.d.Store.SetAutoRule(r.Context(), ru); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			ui.fail(w, r, rq, news.Errorf(news.CodeNotFound, "No such topic or feed."))
			return
		}
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "alert.auto_rule", target, "mode "+mode+", interval "+every.String()+", max age "+age.String())
	ui.redirect(w, r, "/admin/auto-alerts?done=auto_saved")
}
