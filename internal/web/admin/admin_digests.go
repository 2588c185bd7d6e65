package admin

import (
	"html"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
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
	runs, err := ui.d.Store.Runs(r.Context(), 30)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	topics, err := ui.s.Topics(r.Context(), rq.Lang)
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
	Query     string // the preview's query string (encoded), for the frame and links
	// NoDigest, for a reader, says why the next run would send them
	// nothing: "empty" (nothing new in their topics since their last
	// digest, so the run skips them) or "not_receiving" (not confirmed,
	// paused or unsubscribed); "" when it would send them a digest.
	NoDigest string
	Empty    bool // nothing to show
	Count    int
	More     int
	Subject  string
	Text     string

	ids          []int64
	html         string
	subscriberID int64
}

// QueryURL is Query for the templates: after a "?" html/template escapes
// a plain string as one query value, which would turn the whole query
// into a single parameter name. Query is built by url.Values.Encode, so
// it is safe to mark as a URL.
func (d digestPreviewData) QueryURL() template.URL { return template.URL(d.Query) }

// buildPreview composes the digest a reader (by email) or a sample reader
// (topics, lang, frequency) would get now, with the pieces the digest run
// uses: its article pool and Choose. A reader is read with the run's own
// query (EligibleBatch), so the preview is what the next run would send
// them, from their cursor on; a sample reader has no cursor and gets the
// articles of one period back, as a new reader would.
//
// Previewing a reader reads their data: admins only, and audited (by
// subscriber id, as action). Either way the preview's links are inert
// (subscribe.PreviewLinks): no preview carries a reader's signed links.
func (ui *adminUI) buildPreview(r *http.Request, q url.Values, rq *adminReq, action string) (digestPreviewData, error) {
	ctx, l := r.Context(), rq.Lang
	st := ui.d.Store
	now := ui.d.Now()
	d := digestPreviewData{Lang: news.Lang(q.Get("lang")), Frequency: news.Frequency(q.Get("frequency")), Topics: q["topics"]}
	topics, err := ui.s.Topics(ctx, l)
	if err != nil {
		return d, err
	}
	d.AllTopics = topics
	var sub news.Subscriber
	if email := strings.TrimSpace(q.Get("email")); email != "" {
		if !rq.Session.Role.Allows(news.RoleAdmin) {
			return d, news.Errorf(news.CodeForbidden, "%s", ui.s.T(l, "admin.digests.reader_admins_only"))
		}
		if sub, err = ui.d.Subscribe.ByEmail(ctx, email); err != nil {
			return d, err
		}
		ui.audit(r, rq, action, strconv.FormatInt(sub.ID, 10), "")
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

	// Named in the order the digest itself names them.
	readerTopics := news.NamedTopics(topics, d.Topics)
	var ids []int64
	for _, t := range readerTopics {
		ids = append(ids, t.ID)
		d.Names = append(d.Names, t.Name)
	}
	maxID, err := st.MaxArticleID(ctx)
	if err != nil {
		return d, err
	}
	// The articles are chosen as a run now would choose them.
	sel, err := digest.LoadSelection(ctx, st, d.Frequency, maxID, now, topics)
	if err != nil {
		return d, err
	}
	var chosen []int64
	var more int
	if d.subscriberID != 0 {
		e, due, err := digest.Reader(ctx, st, sub)
		if err != nil {
			return d, err
		}
		if due {
			chosen, more = sel.Choose(e.TopicIDs, e.Cursor, nil)
		}
		switch {
		case !due:
			d.NoDigest = "not_receiving"
		case len(chosen) == 0:
			d.NoDigest = "empty"
		}
	}
	if d.subscriberID == 0 || d.Sample() {
		chosen, more = sel.Choose(ids, 0, nil)
	}
	list := sel.Articles(chosen)
	d.ids, d.More, d.Count = chosen, more, len(chosen)
	if len(list) == 0 {
		d.Empty = true
		return d, nil
	}
	links := ui.d.Subscribe.PreviewLinks()
	email, err := ui.d.Composer.Digest(compose.DigestData{Lang: d.Lang, Frequency: d.Frequency, Articles: list, More: more,
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
	d, err := ui.buildPreview(r, r.URL.Query(), rq, "subscriber.preview")
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.render(w, r, rq, http.StatusOK, "digest_preview", "admin.digests.preview_title", d)
}

// digestPreviewHTML serves the HTML part alone, for the preview frame,
// under a policy that lets it do nothing but show itself.
func (ui *adminUI) digestPreviewHTML(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	d, err := ui.buildPreview(r, r.URL.Query(), rq, "subscriber.preview")
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", cspEmailPreview)
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	if d.Empty {
		_, _ = w.Write([]byte("<!doctype html><meta charset=utf-8><p>" + html.EscapeString(ui.s.T(rq.Lang, d.EmptyKey())) + "</p>"))
		return
	}
	_, _ = w.Write([]byte(d.html))
}

// Sample reports that what is shown for a reader is not their next digest
// (there is none) but the recent articles of their topics, to show the
// layout.
func (d digestPreviewData) Sample() bool { return d.NoDigest != "" }

// EmptyKey is the sentence saying why there is nothing (or only a sample)
// to show.
func (d digestPreviewData) EmptyKey() string {
	if d.NoDigest != "" {
		return "admin.digests.reader_" + d.NoDigest
	}
	return "admin.digests.empty"
}

// sampleMeta describes the reader of the mailed preview, previewed or
// sample, by their settings alone: the queued preview names no
// subscriber, so nothing that happens to it (a bounce of the editor's
// address) can reach the reader.
func (d digestPreviewData) sampleMeta() string {
	v := url.Values{"lang": {string(d.Lang)}, "frequency": {string(d.Frequency)}}
	if len(d.Topics) > 0 {
		v.Set("topics", strings.Join(d.Topics, ","))
	}
	return v.Encode()
}

// digestPreviewSend queues the preview to the editor's own address; the
// mail workers send it like any email, with inert links and no
// List-Unsubscribe.
func (ui *adminUI) digestPreviewSend(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	d, err := ui.buildPreview(r, r.PostForm, rq, "subscriber.preview_send")
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if d.Empty {
		ui.message(w, r, rq, http.StatusConflict, "admin.digests.preview_title", d.EmptyKey())
		return
	}
	if err := ui.d.Store.EnqueuePreview(r.Context(), rq.Session.Email, d.ids, d.More, d.sampleMeta(), ui.d.Now()); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if ui.d.WakeMail != nil {
		ui.d.WakeMail()
	}
	// The sample's settings, never the previewed reader's address (their
	// id is in the subscriber.preview_send row).
	ui.audit(r, rq, "digest.preview", rq.Session.Email, d.sampleMeta())
	ui.redirect(w, r, "/admin/digests/preview?"+d.Query+"&done=preview_sent")
}

// digestRun starts a daily or weekly run now.
func (ui *adminUI) digestRun(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	f := news.Frequency(r.PathValue("frequency"))
	if !f.Valid() {
		ui.notFound(w, r, rq)
		return
	}
	id, err := ui.d.Digests.RunNow(r.Context(), f, rq.actor())
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
	// Addresses says the failures show the readers' addresses: to admins
	// only, who may see readers; editors see delivery ids.
	Addresses bool
	Clicks    runClicks
}

// addressLike finds what looks like an email address in a server's error
// text ("550 5.1.1 <ana@example.org>: unknown user").
var addressLike = regexp.MustCompile(`[^\s<>"'(),;:\[\]]+@[^\s<>"'(),;:\[\]]+`)

// hideAddresses removes the readers' addresses from failures.
func hideAddresses(fails []store.RunFailure) {
	for i := range fails {
		fails[i].Email = ""
		fails[i].LastError = addressLike.ReplaceAllString(fails[i].LastError, "…")
	}
}

func (ui *adminUI) digestRunPage(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return
	}
	run, err := ui.d.Store.Run(r.Context(), id)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	fails, err := ui.d.Store.RunFailures(r.Context(), id, 500)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	var live []func(*adminView)
	if run.State == news.RunRunning {
		live = append(live, func(v *adminView) { v.Refresh = 2 })
	}
	d := digestRunData{Run: run, Failures: fails, Addresses: rq.Session.Role.Allows(news.RoleAdmin)}
	if d.Clicks, err = ui.runClicks(r.Context(), rq.Lang, id); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if !d.Addresses {
		hideAddresses(d.Failures)
	}
	ui.render(w, r, rq, http.StatusOK, "digest_run", "admin.digests.run_title", d, live...)
}
