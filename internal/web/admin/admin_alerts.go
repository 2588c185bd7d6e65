package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web"
)

// alertPreviewer validates an alert without sending it; the alert service
// implements it (the composer falls back to the confirmation step alone).
type alertPreviewer interface {
	Preview(ctx context.Context, r news.AlertRequest) (news.Alert, error)
}

// alertForm is the composer's fields, as posted.
type alertForm struct {
	Title, Body, URL, ImageURL string
	Topics                     []string
	Urgency                    string
	TTL                        string // seconds
	Email                      bool
	SendAt                     string // datetime-local, publisher's time zone
	Replaces                   string
	Priority                   string
}

func readAlertForm(r *http.Request) alertForm {
	f := r.PostForm
	return alertForm{Title: strings.TrimSpace(f.Get("title")), Body: strings.TrimSpace(f.Get("body")), URL: strings.TrimSpace(f.Get("url")),
		ImageURL: strings.TrimSpace(f.Get("image_url")), Topics: f["topics"], Urgency: f.Get("urgency"), TTL: f.Get("ttl"),
		Email: f.Get("email") != "", SendAt: strings.TrimSpace(f.Get("send_at")), Replaces: strings.TrimSpace(f.Get("replaces")),
		Priority: f.Get("priority")}
}

// request turns the form into an alert request; errors name a field.
func (ui *adminUI) request(f alertForm, rq *adminReq) (news.AlertRequest, error) {
	req := news.AlertRequest{Title: f.Title, Body: f.Body, URL: f.URL, ImageURL: f.ImageURL, Topics: f.Topics,
		Urgency: news.Urgency(f.Urgency), Email: f.Email, CreatedBy: rq.actor(), Priority: news.Priority(f.Priority)}
	if f.TTL != "" {
		n, err := strconv.Atoi(f.TTL)
		if err != nil {
			return req, news.FieldError(news.CodeInvalid, "ttl_seconds", "TTL must be a number of seconds.")
		}
		req.TTLSeconds = &n
	}
	if f.Replaces != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(f.Replaces, "#"), 10, 64)
		if err != nil || id <= 0 {
			return req, news.FieldError(news.CodeInvalid, "replaces", "Give the number of the earlier alert.")
		}
		req.Replaces = id
	}
	if f.SendAt != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", f.SendAt, ui.loc())
		if err != nil {
			return req, news.FieldError(news.CodeInvalid, "send_at", "Give the send time as a date and time.")
		}
		if t.Before(ui.d.Now().Add(-time.Minute)) {
			return req, news.FieldError(news.CodeInvalid, "send_at", "The send time is in the past.")
		}
		req.SendAt = t
	}
	return req, nil
}

// alertFormData is the composer page.
type alertFormData struct {
	Form      alertForm
	Topics    []news.Topic
	Urgencies []adminOption
	TTLs      []adminOption
	Errors    []adminFieldError
	Audience  string
	Host      string // of the link, as the notification shows it
	TZ        string
	Now       string // min of the send time field
	// Priorities and Timing: see admin_approve.go.
	Priorities []adminOption
	Timing     []string
	Approval   bool
}

// adminOption is one choice of a select.
type adminOption struct {
	Value, Label string
}

// adminFieldError is one thing to fix, linked to its field.
type adminFieldError struct {
	Field, Message string
}

func (ui *adminUI) alertOptions(l news.Lang) (urg, ttl []adminOption) {
	for _, u := range []string{"high", "normal", "low", "very-low"} {
		urg = append(urg, adminOption{u, ui.s.T(l, "admin.alert.urgency."+u)})
	}
	for _, t := range []string{"900", "3600", "21600", "86400", "259200"} {
		ttl = append(ttl, adminOption{t, ui.s.T(l, "admin.alert.ttl."+t)})
	}
	return urg, ttl
}

// renderAlertForm shows the composer with f, its preview and audience.
func (ui *adminUI) renderAlertForm(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, f alertForm, err error) {
	ctx := r.Context()
	topics, terr := ui.s.Topics(ctx, rq.Lang)
	if terr != nil {
		ui.fail(w, r, rq, terr)
		return
	}
	d := alertFormData{Form: f, Topics: topics, TZ: ui.loc().String(), Now: ui.d.Now().In(ui.loc()).Format("2006-01-02T15:04")}
	d.Urgencies, d.TTLs = ui.alertOptions(rq.Lang)
	if d.Form.Urgency == "" {
		d.Form.Urgency = "high"
	}
	if d.Form.TTL == "" {
		d.Form.TTL = "3600"
	}
	if u, perr := url.Parse(f.URL); perr == nil && u.Host != "" {
		d.Host = u.Hostname()
	}
	if b, e, aerr := ui.d.Store.Audience(ctx, f.Topics); aerr == nil {
		d.Audience = ui.audienceText(rq.Lang, b, e)
	}
	d.Priorities, d.Approval = ui.priorityOptions(rq.Lang), ui.approvalRequired()
	if d.Form.Priority == "" {
		d.Form.Priority = string(news.Breaking)
	}
	d.Timing = ui.timingText(ctx, rq.Lang, f.Topics, "", f.TTL)
	var opts []func(*adminView)
	if err != nil {
		d.Errors = append(d.Errors, ui.fieldError(rq.Lang, err))
		opts = append(opts, withError(ui.s.T(rq.Lang, "admin.alert.fix")))
	}
	ui.render(w, r, rq, status, "alert_form", "admin.alert.new_title", d, opts...)
}

// fieldError translates a validation error into a message on a field.
func (ui *adminUI) fieldError(l news.Lang, err error) adminFieldError {
	e, ok := news.AsError(err)
	if !ok {
		return adminFieldError{Field: "title", Message: ui.s.T(l, "admin.error.server")}
	}
	field := e.Field
	switch field {
	case "ttl_seconds":
		field = "ttl"
	case "topics", "title", "body", "url", "image_url", "urgency", "replaces", "send_at":
	default:
		field = "title"
	}
	k := "admin.alert.err." + field
	if e.Code == news.CodeUnknownTopic {
		k = "admin.alert.err.topics"
	}
	if e.Code == news.CodeNotFound && e.Field == "" {
		field, k = "replaces", "admin.alert.err.replaces"
	}
	msg := ui.s.T(l, k)
	if msg == k {
		msg = e.Message
	}
	return adminFieldError{Field: field, Message: msg}
}

// alertList lists the latest alerts.
func (ui *adminUI) alertList(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	alerts, err := ui.d.Store.Alerts(r.Context(), 50)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.render(w, r, rq, http.StatusOK, "alerts", "admin.alerts.title", alerts)
}

// alertNew shows an empty composer, or one prefilled from ?replaces=N for
// an update of that alert.
func (ui *adminUI) alertNew(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	var f alertForm
	if rep := r.URL.Query().Get("replaces"); rep != "" {
		id, err := strconv.ParseInt(rep, 10, 64)
		if err == nil {
			if a, err := ui.d.Alerts.Get(r.Context(), id); err == nil {
				f = alertForm{Title: a.Title, Body: a.Body, URL: a.URL, ImageURL: a.ImageURL, Topics: a.Topics, Urgency: string(a.Urgency),
					TTL: strconv.Itoa(int(a.TTL / time.Second)), Email: a.Email, Replaces: strconv.FormatInt(id, 10), Priority: string(a.Priority)}
			}
		}
	}
	ui.renderAlertForm(w, r, rq, http.StatusOK, f, nil)
}

// validateAlert checks a form the way sending would.
func (ui *adminUI) validateAlert(ctx context.Context, f alertForm, rq *adminReq) (news.AlertRequest, error) {
	req, err := ui.request(f, rq)
	if err != nil {
		return req, err
	}
	if p, ok := ui.d.Alerts.(alertPreviewer); ok {
		if _, err := p.Preview(ctx, req); err != nil {
			return req, err
		}
	}
	if req.Replaces != 0 {
		if _, err := ui.d.Alerts.Get(ctx, req.Replaces); err != nil {
			return req, news.FieldError(news.CodeInvalid, "replaces", "No alert with this number.")
		}
	}
	return req, nil
}

// alertPreview re-renders the composer with the preview (without JS).
func (ui *adminUI) alertPreview(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	f := readAlertForm(r)
	_, err := ui.validateAlert(r.Context(), f, rq)
	status := http.StatusOK
	if err != nil {
		status = http.StatusBadRequest
	}
	ui.renderAlertForm(w, r, rq, status, f, err)
}

// alertConfirmData is the confirmation step.
type alertConfirmData struct {
	Form       alertForm
	TopicNames []string
	Browsers   int64
	Emails     int64
	Audience   string
	SendAt     string
	Urgency    string
	TTL        string
	Nonce      string
	Host       string
	Priority   string
	Timing     []string
	Approval   bool
}

// alertConfirm validates the form and asks the editor to confirm.
func (ui *adminUI) alertConfirm(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	f := readAlertForm(r)
	req, err := ui.validateAlert(r.Context(), f, rq)
	if err != nil {
		ui.renderAlertForm(w, r, rq, http.StatusBadRequest, f, err)
		return
	}
	ctx := r.Context()
	topics, err := ui.s.Topics(ctx, rq.Lang)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d := alertConfirmData{Form: f, Nonce: web.RandomToken(16)}
	for _, t := range topics {
		for _, s := range f.Topics {
			if s == t.Slug {
				d.TopicNames = append(d.TopicNames, t.Name)
			}
		}
	}
	if d.Browsers, d.Emails, err = ui.d.Store.Audience(ctx, f.Topics); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	emails := d.Emails
	if !f.Email {
		emails = 0
	}
	d.Audience = ui.audienceText(rq.Lang, d.Browsers, emails)
	if !req.SendAt.IsZero() {
		d.SendAt = req.SendAt.In(ui.loc()).Format("2006-01-02 15:04") + " (" + ui.loc().String() + ")"
	}
	urg, ttls := ui.alertOptions(rq.Lang)
	d.Urgency, d.TTL = optionLabel(urg, f.Urgency, "high"), optionLabel(ttls, f.TTL, "3600")
	d.Priority = optionLabel(ui.priorityOptions(rq.Lang), f.Priority, string(news.Breaking))
	d.Timing = ui.timingText(ctx, rq.Lang, f.Topics, cmpOr(f.Priority, string(news.Breaking)), f.TTL)
	d.Approval = ui.approvalRequired()
	if u, perr := url.Parse(f.URL); perr == nil {
		d.Host = u.Hostname()
	}
	ui.render(w, r, rq, http.StatusOK, "alert_confirm", "admin.alert.confirm_title", d)
}

func optionLabel(opts []adminOption, v, def string) string {
	if v == "" {
		v = def
	}
	for _, o := range opts {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}

// alertSend sends a confirmed alert and shows its progress. The nonce of
// the confirmation page is an idempotency key kept in the database: a
// double click, or the same page posted to two instances at once, sends
// one alert, and every post lands on it.
func (ui *adminUI) alertSend(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	f := readAlertForm(r)
	once, ok := deskOnce(rq, r.PostFormValue("nonce"))
	if r.PostFormValue("confirmed") != "1" || !ok {
		ui.renderAlertForm(w, r, rq, http.StatusBadRequest, f, nil)
		return
	}
	req, err := ui.request(f, rq)
	if err != nil {
		ui.renderAlertForm(w, r, rq, http.StatusBadRequest, f, err)
		return
	}
	req.Once = once
	id, err := ui.d.Alerts.Send(r.Context(), req)
	if err != nil {
		if e, ok := news.AsError(err); ok && e.Code != "internal" {
			ui.renderAlertForm(w, r, rq, web.StatusFor(e.Code), f, err)
			return
		}
		ui.fail(w, r, rq, err)
		return
	}
	ui.redirect(w, r, "/admin/alerts/"+strconv.FormatInt(id, 10))
}

// alertStatusJSON is what the progress page polls.
type alertStatusJSON struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	Label        string `json:"label"`
	Final        bool   `json:"final"`
	Targeted     int64  `json:"targeted"`
	Delivered    int64  `json:"delivered"`
	Failed       int64  `json:"failed"`
	Expired      int64  `json:"expired"`
	Processed    int64  `json:"processed"`
	Emails       int64  `json:"emails"`
	EmailsSent   int64  `json:"emails_sent"`
	EmailsFailed int64  `json:"emails_failed"`
	// Shown and Clicked are what browsers reported (push events).
	Shown   int64 `json:"shown"`
	Clicked int64 `json:"clicked"`
}

func (ui *adminUI) statusOf(l news.Lang, a store.AlertInfo) alertStatusJSON {
	final := a.State == news.AlertDone || a.State == news.AlertCancelled || a.State == news.AlertFailed
	return alertStatusJSON{ID: strconv.FormatInt(a.ID, 10), State: string(a.State), Label: ui.s.T(l, "admin.alert.state."+string(a.State)),
		Final: final, Targeted: a.Targeted, Delivered: a.Delivered, Failed: a.Failed, Expired: a.Expired,
		Processed: a.Delivered + a.Failed + a.Expired, Emails: a.Emails, EmailsSent: a.EmailSent, EmailsFailed: a.EmailFailed}
}

// alertProgressData is the progress page.
type alertProgressData struct {
	Alert  store.AlertInfo
	Status alertStatusJSON
	Topics []string
	Curve  alertCurve
	// Awaiting approval; CanApprove: by this editor (not its author).
	Awaiting, CanApprove bool
}

// alertProgress shows an alert's fan-out; admin.js refreshes the counts.
func (ui *adminUI) alertProgress(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return
	}
	a, err := ui.d.Alerts.Get(r.Context(), id)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d := alertProgressData{Alert: a, Status: ui.statusOf(rq.Lang, a)}
	if err := ui.withEngagement(r.Context(), &d.Status); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.Curve, err = ui.alertCurve(r.Context(), rq.Lang, a); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d.Awaiting = a.State == news.AlertAwaitingApproval
	d.CanApprove = d.Awaiting && a.CreatedBy != rq.actor()
	if topics, err := ui.s.Topics(r.Context(), rq.Lang); err == nil {
		for _, t := range topics {
			for _, s := range a.Topics {
				if s == t.Slug {
					d.Topics = append(d.Topics, t.Name)
				}
			}
		}
	}
	ui.render(w, r, rq, http.StatusOK, "alert_progress", "admin.alert.progress_title", d)
}

// alertStatus is the JSON the progress page polls every second.
func (ui *adminUI) alertStatus(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, err := web.PathID(r)
	if err != nil {
		ui.s.Fail(w, r, err)
		return
	}
	a, err := ui.d.Alerts.Get(r.Context(), id)
	if err != nil {
		ui.s.Fail(w, r, err)
		return
	}
	st := ui.statusOf(rq.Lang, a)
	if err := ui.withEngagement(r.Context(), &st); err != nil {
		ui.s.Fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, st)
}

// alertCancel stops what has not gone out yet.
func (ui *adminUI) alertCancel(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return
	}
	if err := ui.d.Alerts.Cancel(r.Context(), id); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "alert.cancel", strconv.FormatInt(id, 10), "admin UI")
	ui.redirect(w, r, "/admin/alerts/"+strconv.FormatInt(id, 10)+"?done=cancelled")
}

// deskOnce makes the composer's confirmation nonce an idempotency key of
// the editor who confirmed: the page's double click, a second tab, a
// retry through another instance all land on the first alert. The form
// is not hashed: the nonce names one confirmation page, whose fields are
// fixed.
func deskOnce(rq *adminReq, nonce string) (news.IdempotencyKey, bool) {
	if !news.ValidIdempotencyKey(nonce) {
		return news.IdempotencyKey{}, false
	}
	return news.IdempotencyKey{Scope: "desk:" + rq.actor(), Key: nonce}, true
}
