package admin

import (
	"html"
	"net/http"
	"strconv"
	"strings"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// maxWelcome bounds one welcome text.
const maxWelcome = 10_000

// welcomeLangs are the languages the welcome email is written in.
var welcomeLangs = []news.Lang{news.French, news.English}

// welcomeTopic is one topic's paragraphs on the welcome page.
type welcomeTopic struct {
	Topic news.Topic
	Texts map[news.Lang]string
}

// welcomeData is the welcome email's page.
type welcomeData struct {
	Enabled  bool
	Langs    []news.Lang
	Subjects map[news.Lang]string
	Bodies   map[news.Lang]string
	Topics   []welcomeTopic
}

func (ui *adminUI) welcomePage(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ctx := r.Context()
	d := welcomeData{Langs: welcomeLangs, Subjects: map[news.Lang]string{}, Bodies: map[news.Lang]string{}}
	var err error
	if d.Enabled, err = ui.d.Store.WelcomeEnabled(ctx); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	texts, err := ui.d.Store.WelcomeTexts(ctx)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	topics, err := ui.s.Topics(ctx, rq.Lang)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	byTopic := map[int64]map[news.Lang]string{}
	for _, t := range texts {
		if t.TopicID == 0 {
			d.Subjects[t.Lang], d.Bodies[t.Lang] = t.Subject, t.Body
			continue
		}
		if byTopic[t.TopicID] == nil {
			byTopic[t.TopicID] = map[news.Lang]string{}
		}
		byTopic[t.TopicID][t.Lang] = t.Body
	}
	for _, t := range topics {
		d.Topics = append(d.Topics, welcomeTopic{Topic: t, Texts: byTopic[t.ID]})
	}
	ui.render(w, r, rq, http.StatusOK, "welcome", "admin.welcome.title", d)
}

// welcomeSave stores the switch and every text of the form at once.
func (ui *adminUI) welcomeSave(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ctx := r.Context()
	topics, err := ui.d.Store.Topics(ctx)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	field := func(name string, n int) (string, bool) {
		v := strings.ReplaceAll(r.PostFormValue(name), "\r\n", "\n")
		return v, len(v) <= n
	}
	var texts []store.WelcomeText
	ok := true
	for _, l := range welcomeLangs {
		subj, ok1 := field("subject_"+string(l), 200)
		body, ok2 := field("body_"+string(l), maxWelcome)
		ok = ok && ok1 && ok2
		texts = append(texts, store.WelcomeText{Lang: l, Subject: strings.TrimSpace(subj), Body: strings.TrimSpace(body)})
		for _, t := range topics {
			p, ok3 := field("topic_"+strconv.FormatInt(t.ID, 10)+"_"+string(l), maxWelcome)
			ok = ok && ok3
			texts = append(texts, store.WelcomeText{TopicID: t.ID, Lang: l, Body: strings.TrimSpace(p)})
		}
	}
	if !ok {
		ui.message(w, r, rq, http.StatusBadRequest, "admin.error.title", "admin.welcome.too_long")
		return
	}
	enabled := r.PostFormValue("enabled") == "on"
	if err := ui.d.Store.SetWelcome(ctx, enabled, texts, ui.d.Now()); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "welcome.save", "", "enabled="+strconv.FormatBool(enabled))
	ui.redirect(w, r, "/admin/welcome?done=welcome_saved")
}

// welcomePreviewHTML serves the saved welcome email's HTML part in one
// language, as a reader of every topic would get it, for the preview
// frame, under the email preview's policy.
func (ui *adminUI) welcomePreviewHTML(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ctx := r.Context()
	lang := news.Lang(r.URL.Query().Get("lang"))
	if !lang.Valid() {
		lang = news.French
	}
	texts, err := ui.d.Store.WelcomeTexts(ctx)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d := compose.WelcomeData{Lang: lang}
	if ui.d.Subscribe != nil {
		links := ui.d.Subscribe.PreviewLinks()
		d.PreferencesURL, d.UnsubscribeURL = links.Preferences, links.Unsubscribe
	}
	for _, t := range texts {
		switch {
		case t.Lang != lang:
		case t.TopicID == 0:
			d.Subject, d.Body = t.Subject, t.Body
		case t.Body != "":
			d.TopicParagraphs = append(d.TopicParagraphs, t.Body)
		}
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", cspEmailPreview)
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	email, err := ui.d.Composer.Welcome(d)
	if err != nil {
		_, _ = w.Write([]byte("<!doctype html><meta charset=utf-8><p>" + html.EscapeString(ui.s.T(rq.Lang, "admin.welcome.no_text")) + "</p>"))
		return
	}
	_, _ = w.Write([]byte(email.HTML))
}
