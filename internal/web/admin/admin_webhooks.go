package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// webhooksData is the webhooks page: the endpoints, and the form.
type webhooksData struct {
	Endpoints []store.WebhookEndpoint
	Events    []string
	// URL and Checked refill the form after a refusal; NewID and Secret
	// show a new endpoint's secret, once.
	URL     string
	Checked []string
	NewID   int64
	Secret  string
}

// webhookData is one endpoint's page: its delivery log.
type webhookData struct {
	Endpoint store.WebhookEndpoint
	Log      []store.WebhookLogEntry
}

func eventNames() []string {
	var out []string
	for _, e := range news.EventTypes() {
		out = append(out, string(e))
	}
	return out
}

func (ui *adminUI) webhooks(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ui.renderWebhooks(w, r, rq, http.StatusOK, webhooksData{}, "")
}

func (ui *adminUI) renderWebhooks(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, d webhooksData, errMsg string) {
	if ui.d.Webhooks == nil {
		ui.notFound(w, r, rq)
		return
	}
	list, err := ui.d.Webhooks.List(r.Context())
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d.Endpoints, d.Events = list, eventNames()
	var opts []func(*adminView)
	if errMsg != "" {
		opts = append(opts, withError(errMsg))
	}
	ui.render(w, r, rq, status, "webhooks", "admin.webhooks.title", d, opts...)
}

// webhookCreate registers an endpoint (as POST /api/v1/webhooks does) and
// shows its secret once.
func (ui *adminUI) webhookCreate(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	if ui.d.Webhooks == nil {
		ui.notFound(w, r, rq)
		return
	}
	u := strings.TrimSpace(r.PostFormValue("url"))
	events := r.PostForm["events"]
	id, secret, err := ui.d.Webhooks.Register(r.Context(), rq.actor(), u, events)
	if e, ok := news.AsError(err); ok {
		ui.renderWebhooks(w, r, rq, http.StatusBadRequest, webhooksData{URL: u, Checked: events}, e.Message)
		return
	}
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "webhook.create", strconv.FormatInt(id, 10), "")
	ui.renderWebhooks(w, r, rq, http.StatusOK, webhooksData{NewID: id, Secret: secret}, "")
}

func (ui *adminUI) webhookPage(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok || ui.d.Webhooks == nil {
		if ok {
			ui.notFound(w, r, rq)
		}
		return
	}
	e, err := ui.d.Webhooks.Get(r.Context(), id)
	if _, isNews := news.AsError(err); isNews {
		ui.notFound(w, r, rq)
		return
	}
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	log, err := ui.d.Webhooks.Log(r.Context(), id, 100)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.render(w, r, rq, http.StatusOK, "webhook", "admin.webhooks.log_title", webhookData{Endpoint: e, Log: log})
}

// webhookAction runs one of the endpoint page's buttons.
func (ui *adminUI) webhookAction(action string) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, rq *adminReq) {
		id, ok := ui.pathID(w, r, rq)
		if !ok || ui.d.Webhooks == nil {
			if ok {
				ui.notFound(w, r, rq)
			}
			return
		}
		var err error
		next := "/admin/webhooks/" + strconv.FormatInt(id, 10)
		switch action {
		case "test":
			err = ui.d.Webhooks.Test(r.Context(), id)
		case "enable":
			err = ui.d.Webhooks.Enable(r.Context(), id)
		case "delete":
			err = ui.d.Webhooks.Delete(r.Context(), id)
			next = "/admin/webhooks"
		}
		if _, isNews := news.AsError(err); isNews {
			ui.notFound(w, r, rq)
			return
		}
		if err != nil {
			ui.fail(w, r, rq, err)
			return
		}
		ui.audit(r, rq, "webhook."+action, strconv.FormatInt(id, 10), "")
		ui.redirect(w, r, next+"?done=webhook_"+action)
	}
}
