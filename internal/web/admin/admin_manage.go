package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/redact"
	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/subscribe"
)

// --- readers ---

// readersData is the reader search page.
type readersData struct {
	Q       string
	Results []news.Subscriber
	Counts  []countRow
}

func (ui *adminUI) readers(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	d := readersData{Q: strings.TrimSpace(r.URL.Query().Get("q"))}
	if d.Q != "" {
		res, err := ui.d.Store.SearchSubscribers(r.Context(), d.Q, 100)
		if err != nil {
			ui.fail(w, r, rq, err)
			return
		}
		d.Results = res
	}
	ui.render(w, r, rq, http.StatusOK, "readers", "admin.readers.title", d)
}

// readerData is one reader's page.
type readerData struct {
	Sub     news.Subscriber
	Topics  []string
	History []store.HistoryEntry
	Bounces []store.Bounce
}

func (ui *adminUI) loadReader(w http.ResponseWriter, r *http.Request, rq *adminReq) (news.Subscriber, bool) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return news.Subscriber{}, false
	}
	sub, err := ui.d.Store.SubscriberByID(r.Context(), id)
	if err != nil {
		ui.fail(w, r, rq, err)
		return sub, false
	}
	return sub, true
}

func (ui *adminUI) reader(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	sub, ok := ui.loadReader(w, r, rq)
	if !ok {
		return
	}
	hist, err := ui.d.Store.History(r.Context(), sub.ID, 100)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	bounces, err := ui.d.Store.Bounces(r.Context(), sub.ID, 100)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d := readerData{Sub: sub, History: hist, Bounces: bounces}
	if topics, err := ui.s.Topics(r.Context(), rq.Lang); err == nil {
		for _, t := range topics {
			for _, s := range sub.Topics {
				if s == t.Slug {
					d.Topics = append(d.Topics, t.Name)
				}
			}
		}
	}
	ui.render(w, r, rq, http.StatusOK, "reader", "admin.reader.title", d)
}

// readerExport downloads one reader's data as JSON.
func (ui *adminUI) readerExport(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	sub, ok := ui.loadReader(w, r, rq)
	if !ok {
		return
	}
	data, err := ui.d.Subscribe.Export(r.Context(), sub.ID)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "subscriber.export", strconv.FormatInt(sub.ID, 10), "")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="reader-%d.json"`, sub.ID))
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(data)
}

func (ui *adminUI) readerEraseConfirm(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	sub, ok := ui.loadReader(w, r, rq)
	if !ok {
		return
	}
	ui.render(w, r, rq, http.StatusOK, "reader_erase", "admin.reader.erase_title", readerData{Sub: sub})
}

// readerErase erases a reader for real (the confirmation page posts
// confirm=yes).
func (ui *adminUI) readerErase(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	sub, ok := ui.loadReader(w, r, rq)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		ui.render(w, r, rq, http.StatusOK, "reader_erase", "admin.reader.erase_title", readerData{Sub: sub})
		return
	}
	if err := ui.d.Subscribe.Erase(r.Context(), sub.ID); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "subscriber.erase", strconv.FormatInt(sub.ID, 10), "")
	ui.redirect(w, r, "/admin/readers?done=erased")
}

// readersExport streams every reader as CSV.
func (ui *adminUI) readersExport(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ui.audit(r, rq, "subscribers.export", "csv", "")
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="subscribers.csv"`)
	if err := ui.d.Subscribe.ExportCSV(r.Context(), w); err != nil {
		ui.d.Log.Error("export subscribers", "err", err)
	}
}

// readersImport imports an uploaded CSV and shows the report.
func (ui *adminUI) readersImport(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	f, hdr, err := r.FormFile("file")
	if err != nil {
		ui.message(w, r, rq, http.StatusBadRequest, "admin.import.title", "admin.import.no_file")
		return
	}
	defer f.Close()
	if hdr.Size > adminMaxUpload {
		ui.message(w, r, rq, http.StatusRequestEntityTooLarge, "admin.import.title", "admin.error.too_large")
		return
	}
	rep, err := ui.d.Subscribe.Import(r.Context(), f)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "subscribers.import", hdr.Filename,
		fmt.Sprintf("imported=%d pending=%d existing=%d suppressed=%d unsubscribed=%d rejected=%d", rep.Imported, rep.Pending, rep.Existing, rep.Suppressed, rep.Unsubscribed, rep.RejectedTotal()))
	ui.render(w, r, rq, http.StatusOK, "import_report", "admin.import.title", ui.localizeImport(rq.Lang, rep))
}

// localizeImport returns rep with its rejected lines' reasons in l.
// subscribe.Import words them in English, for the CLI report; a reason
// it does not know is shown as given.
func (ui *adminUI) localizeImport(l news.Lang, rep subscribe.ImportReport) subscribe.ImportReport {
	out := make([]subscribe.RejectLine, len(rep.Rejected))
	for i, rj := range rep.Rejected {
		out[i] = subscribe.RejectLine{Line: rj.Line, Reason: ui.importReason(l, rj)}
	}
	rep.Rejected = out
	return rep
}

// importReason translates one refused line's reason by its code; a reason
// without one stays as it is.
func (ui *adminUI) importReason(l news.Lang, rj subscribe.RejectLine) string {
	switch {
	case rj.Code == "":
		return rj.Reason
	case rj.Arg != "":
		return ui.s.T(l, "admin.import.reason."+rj.Code, rj.Arg)
	}
	return ui.s.T(l, "admin.import.reason."+rj.Code)
}

func (ui *adminUI) suppressions(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	list, err := ui.d.Store.Suppressions(r.Context(), 500)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.render(w, r, rq, http.StatusOK, "suppressions", "admin.suppressions.title", list)
}

// --- topics ---

// topicsData is the topics page.
type topicsData struct {
	Topics     []news.Topic
	Slug, Name string
}

func (ui *adminUI) topics(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ui.renderTopics(w, r, rq, http.StatusOK, topicsData{}, "")
}

func (ui *adminUI) renderTopics(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, d topicsData, errMsg string) {
	topics, err := ui.s.Topics(r.Context(), rq.Lang)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d.Topics = topics
	var opts []func(*adminView)
	if errMsg != "" {
		opts = append(opts, withError(errMsg))
	}
	ui.render(w, r, rq, status, "topics", "admin.topics.title", d, opts...)
}

func (ui *adminUI) topicCreate(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	d := topicsData{Slug: strings.TrimSpace(r.PostFormValue("slug")), Name: strings.TrimSpace(r.PostFormValue("name"))}
	if _, err := ui.d.Desk.CreateTopic(r.Context(), rq.actor(), d.Slug, d.Name); err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			ui.renderTopics(w, r, rq, http.StatusConflict, d, ui.s.T(rq.Lang, "admin.topics.exists"))
		case invalid(err):
			ui.renderTopics(w, r, rq, http.StatusBadRequest, d, ui.s.T(rq.Lang, "admin.topics.invalid"))
		default:
			ui.fail(w, r, rq, err)
		}
		return
	}
	ui.redirect(w, r, "/admin/topics?done=topic_created")
}

// --- feeds ---

func (ui *adminUI) feeds(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ui.renderFeeds(w, r, rq, http.StatusOK, "")
}

func (ui *adminUI) renderFeeds(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, errMsg string) {
	list, err := ui.d.Store.Feeds(r.Context())
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	var opts []func(*adminView)
	if errMsg != "" {
		opts = append(opts, withError(errMsg))
	}
	ui.render(w, r, rq, status, "feeds", "admin.feeds.title", list, opts...)
}

func (ui *adminUI) feedAdd(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	u := strings.TrimSpace(r.PostFormValue("url"))
	if !news.HTTPURL(u) {
		ui.renderFeeds(w, r, rq, http.StatusBadRequest, ui.s.T(rq.Lang, "admin.feeds.invalid"))
		return
	}
	if err := ui.d.Store.AddFeed(r.Context(), u); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "feed.add", redact.URL(u), "")
	ui.redirect(w, r, "/admin/feeds?done=feed_added")
}

func (ui *adminUI) feedRemove(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	u := r.PostFormValue("url")
	if err := ui.d.Store.RemoveFeed(r.Context(), u); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "feed.remove", redact.URL(u), "")
	ui.redirect(w, r, "/admin/feeds?done=feed_removed")
}

// feedPoll polls a feed at once (marking it due first, so the poller's
// lease lets this poll through).
func (ui *adminUI) feedPoll(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	u := r.PostFormValue("url")
	if err := ui.d.Store.PollFeedSoon(r.Context(), u); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "feed.poll", redact.URL(u), "")
	if ui.d.Feeds != nil {
		if err := ui.d.Feeds.PollNow(r.Context(), u); err != nil {
			ui.renderFeeds(w, r, rq, http.StatusOK, ui.s.T(rq.Lang, "admin.feeds.poll_failed"))
			return
		}
	}
	ui.redirect(w, r, "/admin/feeds?done=feed_polled")
}

// --- API tokens ---

// tokensData is the tokens page; New is a token just created, shown once.
type tokensData struct {
	Tokens []news.APIToken
	New    string
	Name   string
}

func (ui *adminUI) tokens(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ui.renderTokens(w, r, rq, http.StatusOK, tokensData{}, "")
}

func (ui *adminUI) renderTokens(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, d tokensData, errMsg string) {
	list, err := ui.d.Store.APITokens(r.Context())
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d.Tokens = list
	var opts []func(*adminView)
	if errMsg != "" {
		opts = append(opts, withError(errMsg))
	}
	ui.render(w, r, rq, status, "tokens", "admin.tokens.title", d, opts...)
}

// tokenCreate makes a token through the desk service (as `crieur token
// create` does) and shows it once.
func (ui *adminUI) tokenCreate(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	role := news.Role(r.PostFormValue("role"))
	tok, err := ui.d.Desk.CreateToken(r.Context(), rq.actor(), name, role)
	if invalid(err) {
		ui.renderTokens(w, r, rq, http.StatusBadRequest, tokensData{Name: name}, ui.s.T(rq.Lang, "admin.tokens.invalid"))
		return
	}
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.renderTokens(w, r, rq, http.StatusOK, tokensData{New: tok}, "")
}

func (ui *adminUI) tokenRevoke(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return
	}
	if err := ui.d.Store.RevokeAPIToken(r.Context(), id); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "token.revoke", strconv.FormatInt(id, 10), "")
	ui.redirect(w, r, "/admin/tokens?done=token_revoked")
}

// --- users ---

// usersData is the users page; Password is a generated password, shown
// once.
type usersData struct {
	Users    []news.User
	Me       int64
	Email    string
	Password string
}

func (ui *adminUI) users(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	ui.renderUsers(w, r, rq, http.StatusOK, usersData{}, "")
}

func (ui *adminUI) renderUsers(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, d usersData, errMsg string) {
	list, err := ui.d.Store.Users(r.Context())
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	d.Users, d.Me = list, rq.Session.UserID
	var opts []func(*adminView)
	if errMsg != "" {
		opts = append(opts, withError(errMsg))
	}
	ui.render(w, r, rq, status, "users", "admin.users.title", d, opts...)
}

// userCreate adds a login with a generated password, shown once.
func (ui *adminUI) userCreate(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	role := news.Role(r.PostFormValue("role"))
	addr, pw, err := ui.d.Desk.CreateUser(r.Context(), rq.actor(), r.PostFormValue("email"), role, "")
	switch {
	case errors.Is(err, store.ErrConflict):
		ui.renderUsers(w, r, rq, http.StatusConflict, usersData{Email: addr}, ui.s.T(rq.Lang, "admin.users.exists"))
		return
	case invalid(err):
		ui.renderUsers(w, r, rq, http.StatusBadRequest, usersData{Email: r.PostFormValue("email")}, ui.s.T(rq.Lang, "admin.users.invalid"))
		return
	case err != nil:
		ui.fail(w, r, rq, err)
		return
	}
	ui.renderUsers(w, r, rq, http.StatusOK, usersData{Email: addr, Password: pw}, "")
}

// invalid reports whether err is the desk service refusing its input (as
// opposed to failing to store it).
func invalid(err error) bool {
	e, ok := news.AsError(err)
	return ok && (e.Code == news.CodeInvalid || e.Code == news.CodeInvalidEmail)
}

func (ui *adminUI) userRole(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return
	}
	role := news.Role(r.PostFormValue("role"))
	if !role.Valid() || id == rq.Session.UserID {
		ui.renderUsers(w, r, rq, http.StatusBadRequest, usersData{}, ui.s.T(rq.Lang, "admin.users.not_self"))
		return
	}
	u, err := ui.d.Store.UserByID(r.Context(), id)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if err := ui.d.Store.SetUserRole(r.Context(), id, role); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "user.role", u.Email, string(role))
	ui.redirect(w, r, "/admin/users?done=user_updated")
}

func (ui *adminUI) userDisable(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	id, ok := ui.pathID(w, r, rq)
	if !ok {
		return
	}
	if id == rq.Session.UserID {
		ui.renderUsers(w, r, rq, http.StatusBadRequest, usersData{}, ui.s.T(rq.Lang, "admin.users.not_self"))
		return
	}
	u, err := ui.d.Store.UserByID(r.Context(), id)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	if err := ui.d.Store.DisableUser(r.Context(), id); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "user.disable", u.Email, "")
	ui.redirect(w, r, "/admin/users?done=user_disabled")
}

// --- audit ---

func (ui *adminUI) auditPage(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	list, err := ui.d.Store.AuditLog(r.Context(), 300)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.render(w, r, rq, http.StatusOK, "audit", "admin.audit.title", list)
}
