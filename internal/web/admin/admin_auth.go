package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/crieur/crieur/internal/store"
	"github.com/crieur/crieur/internal/web"
)

// loginData is the login form.
type loginData struct {
	Email string
	Next  string
	Token string // CSRF token of the form (double-submit cookie)
}

// loginPage shows the login form; a logged-in editor goes to the dashboard.
func (ui *adminUI) loginPage(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	if _, ok := ui.session(r); ok {
		ui.redirect(w, r, "/admin")
		return
	}
	ui.renderLogin(w, r, rq, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))}, "")
}

func (ui *adminUI) renderLogin(w http.ResponseWriter, r *http.Request, rq *adminReq, status int, d loginData, errKey string) {
	// Before a session exists, the login form is protected by a
	// double-submit token: a random cookie the form must repeat.
	tok := ""
	if c, err := r.Cookie(adminLoginCookie); err == nil && len(c.Value) >= 32 && len(c.Value) < 100 {
		tok = c.Value
	} else {
		tok = web.RandomToken(32)
		ui.setCookie(w, adminLoginCookie, tok, 3600)
	}
	d.Token = tok
	var opts []func(*adminView)
	if errKey != "" {
		opts = append(opts, withError(ui.s.T(rq.Lang, errKey)))
	}
	ui.render(w, r, rq, status, "login", "admin.login.title", d, opts...)
}

// safeNext keeps a post-login redirect inside the admin UI.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, "/admin/login") {
		return "/admin"
	}
	return next
}

// loginSubmit checks the password (bcrypt), rate-limited per client
// address (every attempt) and per account and address (failures), and
// opens a 12-hour session.
func (ui *adminUI) loginSubmit(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	// Before any check, so that someone unknown cannot make the daemon
	// read more than a small form.
	if err := web.ParseForm(w, r); err != nil {
		ui.message(w, r, rq, web.StatusOf(err), "admin.error.title", web.MessageKey(err))
		return
	}
	c, err := r.Cookie(adminLoginCookie)
	if err != nil || !sameToken(r.PostFormValue("csrf"), c.Value) {
		ui.forbidden(w, r, rq)
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	d := loginData{Email: email, Next: safeNext(r.PostFormValue("next"))}
	now := ui.d.Now()
	client := ui.s.ClientIP(r)
	// Every attempt counts against the client's address; only failures
	// count against the account, and per address, so that nobody can lock
	// an editor out by failing to log in as them from elsewhere.
	accKey := email + "\x00" + client
	okIP, waitIP := ui.ipLimit.Allow(client, now)
	waitAcc := ui.accLimit.Delay(accKey, now)
	if !okIP || waitAcc > 0 {
		wait := max(waitIP, waitAcc)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		ui.render(w, r, rq, http.StatusTooManyRequests, "message", "admin.login.limited_title",
			adminMessage{Text: ui.s.T(rq.Lang, "admin.login.limited", int(wait.Seconds())+1), Link: ui.base + "/admin/login",
				LinkLabel: ui.s.T(rq.Lang, "admin.login.title")})
		return
	}
	pw := r.PostFormValue("password")
	u, err := ui.d.Store.UserByEmail(r.Context(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		ui.fail(w, r, rq, err)
		return
	}
	hash := []byte(u.PasswordHash)
	if err != nil || len(pw) > 72 {
		hash = ui.dummyHash()
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(pw)) == nil
	if err != nil || !match || !u.DisabledAt.IsZero() || len(pw) > 72 {
		ui.accLimit.Allow(accKey, now)
		ui.d.Log.Info("admin login refused", "client", client)
		ui.renderLogin(w, r, rq, http.StatusUnauthorized, d, "admin.login.bad")
		return
	}
	ui.accLimit.Reset(accKey)
	sid := web.RandomToken(32)
	if err := ui.d.Store.CreateSession(r.Context(), sessionHash(sid), u.ID, web.RandomToken(32), now.Add(adminSessionTTL)); err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.setCookie(w, adminSessionCookie, sid, int(adminSessionTTL.Seconds()))
	ui.setCookie(w, adminLoginCookie, "", -1)
	rq.Session.Email = u.Email
	ui.audit(r, rq, "session.login", u.Email, "")
	http.Redirect(w, r, ui.base+d.Next, http.StatusSeeOther)
}

// dummyHash is a bcrypt hash of a random password, made once: logging in
// as an unknown user costs what a wrong password costs.
func (ui *adminUI) dummyHash() []byte {
	ui.dummyOnce.Do(func() {
		ui.dummy, _ = bcrypt.GenerateFromPassword([]byte(web.RandomToken(16)), bcrypt.DefaultCost)
	})
	return ui.dummy
}

// logout ends the session.
func (ui *adminUI) logout(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	if c, err := r.Cookie(adminSessionCookie); err == nil {
		if err := ui.d.Store.DeleteSession(r.Context(), sessionHash(c.Value)); err != nil {
			ui.fail(w, r, rq, err)
			return
		}
	}
	ui.setCookie(w, adminSessionCookie, "", -1)
	ui.redirect(w, r, "/admin/login")
}
