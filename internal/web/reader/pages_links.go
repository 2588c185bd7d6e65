package reader

// The pages a reader reaches through the links of their emails, beside the
// preference center: confirming an address and unsubscribing. Mail
// security gateways fetch every link of an email before the reader does,
// so no GET here changes anything: a GET shows a page whose form (sent at
// once by the page's script, for the confirmation) makes the change.

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/subscribe"
	"github.com/crieur/crieur/internal/web"
)

// confirmData is the page that confirms through a POST.
type confirmData struct {
	pageHead
	Action string
}

// newNonce returns a fresh nonce for a page's inline script.
func newNonce() string {
	var b [18]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// confirmPage is GET /confirm/{token} (and HEAD): it checks the link and
// shows a form that posts to the same URL, sent at once by the page's
// script, with a button for readers without JavaScript. It changes
// nothing: mail scanners fetch links, and a fetch must not stand for the
// reader's consent.
func (s *handler) confirmPage(w http.ResponseWriter, r *http.Request) {
	sub, err := s.d.Subscribe.CheckConfirm(r.Context(), r.PathValue("token"))
	if err != nil {
		s.confirmFail(w, r, err)
		return
	}
	l := subscriberLang(r, sub)
	s.page(w, r, http.StatusOK, "confirm", confirmData{
		pageHead: pageHead{Lang: l, Title: s.srv.T(l, "page.confirm.pending_title"), NoIndex: true, Nonce: newNonce()},
		Action:   s.path("/confirm/"+url.PathEscape(r.PathValue("token")), langQuery(r)),
	})
}

// confirmSubmit is POST /confirm/{token}: it confirms. Posting twice is
// harmless; a bad or expired link changes nothing. The token in the path
// is the credential, so a post from another site can do no more than the
// link allows: no CSRF token is asked for.
func (s *handler) confirmSubmit(w http.ResponseWriter, r *http.Request) {
	sub, err := s.d.Subscribe.Confirm(r.Context(), r.PathValue("token"))
	if err != nil {
		s.confirmFail(w, r, err)
		return
	}
	l := subscriberLang(r, sub)
	m := s.messagePageLang(l, "page.confirm.title", "page.confirm.body")
	m.Links = []pageLink{{URL: s.d.Subscribe.LinksFor(sub).Preferences, Label: s.srv.T(l, "page.confirm.preferences")}}
	s.page(w, r, http.StatusOK, "message", m)
}

// confirmFail shows why a confirmation link does not work, with a way to
// subscribe again.
func (s *handler) confirmFail(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := news.AsError(err)
	if !ok {
		s.pageFail(w, r, "", false, fmt.Errorf("confirm: %w", err))
		return
	}
	l := s.requestLang(r)
	title, body := "page.confirm.invalid_title", "page.confirm.invalid_body"
	if e.Code == news.CodeExpiredToken || e.Code == news.CodeRevokedToken {
		title, body = "page.confirm.expired_title", "page.confirm.expired_body"
	}
	m := s.messagePageLang(l, title, body)
	m.Links = []pageLink{{URL: s.path("/subscribe", url.Values{"lang": {string(l)}}), Label: s.srv.T(l, "page.unsubscribe.resubscribe"), Button: true}}
	s.page(w, r, web.StatusFor(e.Code), "message", m)
}

// unsubscribeData is the unsubscribe page.
type unsubscribeData struct {
	pageHead
	Action     string
	LinkAction string
}

// unsubscribePage is GET /unsubscribe/{token}: one button that posts to
// the same URL. It never unsubscribes by itself, since mail scanners
// follow links, and it never shows the reader's preference link: anyone
// who sees an email's List-Unsubscribe header holds this page.
func (s *handler) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	sub, err := s.d.Subscribe.Lookup(r.Context(), r.PathValue("token"), subscribe.PurposeUnsubscribe)
	gone := subscriberGone(err)
	if err != nil && !gone {
		s.pageFail(w, r, "", false, fmt.Errorf("look up %s link: %w", subscribe.PurposeUnsubscribe, err))
		return
	}
	l := subscriberLang(r, sub)
	if gone {
		l = s.requestLang(r) // the reader's own language went with their data
	}
	if gone || sub.Status.Stopped() {
		// Either way no more email goes to this reader: say so.
		m := s.messagePageLang(l, "page.unsubscribe.done_title", "page.unsubscribe.done_body")
		m.Links = []pageLink{{URL: s.path("/subscribe", url.Values{"lang": {string(l)}}), Label: s.srv.T(l, "page.unsubscribe.resubscribe")}}
		s.page(w, r, http.StatusOK, "message", m)
		return
	}
	s.page(w, r, http.StatusOK, "unsubscribe", unsubscribeData{
		pageHead:   pageHead{Lang: l, Title: s.srv.T(l, "page.unsubscribe.title"), NoIndex: true, LangLinks: s.langLinks(r, l)},
		Action:     s.path("/unsubscribe/"+url.PathEscape(r.PathValue("token")), nil),
		LinkAction: s.path("/unsubscribe/"+url.PathEscape(r.PathValue("token"))+"/link", langQuery(r)),
	})
}

// unsubscribeEmailLink is POST /unsubscribe/{token}/link: "email me my
// preferences link". The answer is the same whether or not an email was
// queued; only a bad link or the rate limit says otherwise.
func (s *handler) unsubscribeEmailLink(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Subscribe.EmailLinks(r.Context(), r.PathValue("token"), s.srv.ClientIP(r)); err != nil {
		s.pageFail(w, r, "", false, fmt.Errorf("email preference link: %w", err))
		return
	}
	s.page(w, r, http.StatusOK, "message", s.messagePage(r, "page.unsubscribe.link_sent_title", "page.unsubscribe.link_sent_body"))
}

// preferencesSignOut is POST /preferences/{token}/signout: "sign out
// everywhere". Every link sent to the reader so far stops working, but
// unsubscribing, and an email brings the new preference link.
func (s *handler) preferencesSignOut(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.tokenSubscriber(w, r, subscribe.PurposePreferences)
	if !ok {
		return
	}
	l := subscriberLang(r, sub)
	if err := s.d.Subscribe.SignOutEverywhere(r.Context(), sub.ID); err != nil {
		s.pageFail(w, r, l, false, fmt.Errorf("sign out everywhere: %w", err))
		return
	}
	s.page(w, r, http.StatusOK, "message", s.messagePageLang(l, "page.signout.done_title", "page.signout.done_body"))
}
