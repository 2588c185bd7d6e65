package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/digest"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// cspEmailPreview is the policy of the digest HTML shown in the preview
// frame: the email's inline styles and remote images, nothing else, and
// only inside an admin page.
const cspEmailPreview = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"

// digestsData is the digests page.
type digestsData struct {
	Runs   []store.RunInfo
	Topics []news.Topic
}

func (ui *adminUI) digests(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	runs, err := ui.s.d.Store.Runs(r.Context(), 30)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	topics, err := ui.s.d.Store.Topics(r.Context())
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.render(w, r, rq, http.StatusOK, "digests", "admin.digests.title", digestsData{Runs: runs, Topics: topics})
}

// digestPreviewData is a digest as one reader would get it today.
type digestPreviewData struct {
	Email     string // the reader previewed, or "" for a sample reader
	Topics    []string
	Names     []string // the topics' names
	AllTopics []news.Topic
	Lang      news.Lang
	Frequency news.Frequency
	Query     string // the preview's query string, for the frame and links
	Empty     bool
	Count     int
	More      int
	Subject   string
	Text      string

	ids          []int64
	html         string
	subscriberID int64
}

// buildPreview composes the digest a reader (by email) or a sample reader
// (topics, lang, frequency) would get now, with the pieces the sender uses:
// the run's article pool and Choose with cursor 0, i.e. the articles of
// one period back.
func (ui *adminUI) buildPreview(ctx context.Context, q url.Values) (digestPreviewData, error) {
	st := ui.s.d.Store
	now := ui.s.d.Now()
	d := digestPreviewData{Lang: news.Lang(q.Get("lang")), Frequency: news.Frequency(q.Get("frequency")), Topics: q["topics"]}
	topics, err := st.Topics(ctx)
	if err != nil {
		return d, err
	}
	d.AllTopics = topics
	if email := strings.TrimSpace(q.Get("email")); email != "" {
		sub, err := ui.s.d.Subscribe.ByEmail(ctx, email)
		if err != nil {
			return d, err
		}
		d.Email, d.subscriberID, d.Topics, d.Lang, d.Frequency = sub.Email, sub.ID, sub.Topics, sub.Lang, sub.Frequency
	}
	if !d.Lang.Valid() {
		d.Lang = news.French
	}
	if !d.Frequency.Valid() {
		d.Frequency = news.Daily
	}
	qs := url.Values{}
	if d.Email != "" {
		qs.Set("email", d.Email)
	} else {
		qs["topics"] = d.Topics
		qs.Set("lang", string(d.Lang))
		qs.Set("frequency", string(d.Frequency))
	}
	d.Query = qs.Encode()

	var ids []int64
	var readerTopics []news.Topic
	for _, t := range topics {
		for _, s := range d.Topics {
			if s == t.Slug {
				ids = append(ids, t.ID)
				readerTopics = append(readerTopics, t)
				d.Names = append(d.Names, t.Name)
			}
		}
	}
	maxID, err := st.MaxArticleID(ctx)
	if err != nil {
		return d, err
	}
	arts, err := st.ArticlesWindow(ctx, 0, maxID, now.Add(-digest.Window))
	if err != nil {
		return d, err
	}
	chosen, more := digest.NewPool(arts, topics).Choose(ids, 0, now.Add(-d.Frequency.Period()), nil)
	byID := make(map[int64]news.Article, len(arts))
	for _, a := range arts {
		byID[a.ID] = a
	}
	list := make([]news.Article, 0, len(chosen))
	for _, id := range chosen {
		list = append(list, byID[id])
	}
	d.ids, d.More, d.Count = chosen, more, len(chosen)
	if len(list) == 0 {
		d.Empty = true
		return d, nil
	}
	links := ui.s.d.Subscribe.LinksFor(d.subscriberID)
	email, err := ui.s.d.Composer.Digest(compose.DigestData{Lang: d.Lang, Frequency: d.Frequency, Articles: list, More: more,
		Topics: readerTopics, PreferencesURL: links.Preferences, UnsubscribeURL: links.Unsubscribe, Date: now.In(ui.loc())})
	if err != nil {
		return d, err
	}
	d.Subject, d.Text, d.html = email.Subject, email.Text, email.HTML
	return d, nil
}

// digestPreview shows the subject, the HTML (in a sandboxed frame) and
// the text of a preview.
func (ui *adminUI) digestPreview(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	d, err := ui.buildPreview(r.Context(), r.URL.Query())
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.render(w, r, rq, http.StatusOK, "digest_preview", "admin.digests.preview_title", d)
}

// digestPreviewHTML serves the HTML part alone, for the preview frame,
// under a policy that lets it do nothing but show itself.
func (ui *adminUI) digestPreviewHTML(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	d, err := ui.buildPreview(r.Context(), r.URL.Query())
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", cspEmailPreview)
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	if d.Empty {
		_, _ = w.Write([]byte("<!doctype html><meta charset=utf-8><p>" + html.EscapeString(ui.s.t(rq.Lang, "admin.digests.empty")) + "</p>"))
		return
	}
	_, _ = w.Write([]byte(d.html))
}

// sampleMeta describes a sample reader for the mailed preview.
func (d digestPreviewData) sampleMeta() string {
	v := url.Values{"lang": {string(d.Lang)}, "frequency": {string(d.Frequency)}}
	if len(d.Topics) > 0 {
		v.Set("topics", strings.Join(d.Topics, ","))
	}
	return v.Encode()
}

// digestPreviewSend queues the preview to the editor's own address; the
// mail workers send it like any email.
func (ui *adminUI) digestPreviewSend(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	d, err := ui.buildPreview(r.Context(), r.PostForm)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.Empty {
		ui.message(w, r, rq, http.StatusConflict, "admin.digests.preview_title", "admin.digests.empty")
		return
	}
	if err := ui.s.d.Store.EnqueuePreview(r.Context(), rq.Session.Email, d.subscriberID, d.ids, d.More, d.sampleMeta(), ui.s.d.Now()); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if ui.s.d.WakeMail != nil {
		ui.s.d.WakeMail()
	}
	ui.audit(r, rq, "digest.preview", rq.Session.Email, d.Query)
	ui.redirect(w, r, "/admin/digests/preview?"+d.Query+"&done=preview_sent")
}

// digestRun starts a daily or weekly run now.
func (ui *adminUI) digestRun(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	f := news.Frequency(r.PathValue("frequency"))
	if !f.Valid() {
		ui.notFound(w, r, rq)
		return
	}
	id, err := ui.s.d.Digests.RunNow(r.Context(), f, rq.actor())
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.redirect(w, r, "/admin/digests/runs/"+strconv.FormatInt(id, 10)+"?done=run_started")
}

// digestRunData is one run with its failed deliveries.
type digestRunData struct {
	Run      store.RunInfo
	Failures []store.RunFailure
}

func (ui *adminUI) digestRunPage(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return
	}
	run, err := ui.s.d.Store.Run(r.Context(), id)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	fails, err := ui.s.d.Store.RunFailures(r.Context(), id, 500)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	var live []func(*adminView)
	if run.State == news.RunRunning {
		live = append(live, func(v *adminView) { v.Refresh = 2 })
	}
	ui.render(w, r, rq, http.StatusOK, "digest_run", "admin.digests.run_title", digestRunData{Run: run, Failures: fails}, live...)
}
