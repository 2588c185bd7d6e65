package reader

import (
	"errors"
	"io/fs"
	"net/http"

	"github.com/crieur/crieur/internal/desk"
	"github.com/crieur/crieur/internal/netguard"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/web"
	"github.com/crieur/crieur/templates"
)

func (s *handler) pushKey(w http.ResponseWriter, r *http.Request) {
	web.WriteJSON(w, 200, map[string]string{"public_key": s.d.VAPIDPublicKey})
}

type pushSubJSON struct {
	Subscription struct {
		Endpoint       string  `json:"endpoint"`
		ExpirationTime *uint64 `json:"expirationTime"`
		Keys           struct {
			P256dh string `json:"p256dh"`
			Auth   string `json:"auth"`
		} `json:"keys"`
	} `json:"subscription"`
	Topics     []string `json:"topics"`
	Lang       string   `json:"lang"`
	Timezone   string   `json:"timezone"`
	QuietHours *struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"quiet_hours"`
	MaxPerDay *int `json:"max_per_day"`
}

// pushAllowed spends one request of the client's push budget, or answers
// 429 and reports false. It runs before the body is read, so that a flood
// costs neither endpoint lookups nor writes. A request with a valid API
// token is the publisher's own backend (moving its subscribers from
// another service, say) and is not limited; its token is looked up only
// once its budget is spent, so that a flood with made-up tokens costs no
// more than one without.
func (s *handler) pushAllowed(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := s.d.PushLimit.Allow(s.srv.ClientIP(r), s.d.Now())
	if ok {
		return true
	}
	if tok, has := web.BearerToken(r); has {
		if t, err := s.d.Store.LookupAPIToken(r.Context(), desk.HashToken(tok)); err == nil && t.RevokedAt.IsZero() {
			return true
		}
	}
	s.srv.Fail(w, r, &news.Error{Code: news.CodeRateLimited, Message: "Too many requests; try again later.", RetryAfter: wait})
	return false
}

func (s *handler) pushSubscribe(w http.ResponseWriter, r *http.Request) {
	if !s.pushAllowed(w, r) {
		return
	}
	var in pushSubJSON
	if err := web.DecodeJSON(w, r, &in); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	ep := in.Subscription.Endpoint
	if ep == "" || len(ep) > news.MaxURLLen {
		s.srv.Fail(w, r, news.FieldError(news.CodeEndpointNotAllowed, "subscription.endpoint", "endpoint is missing or too long"))
		return
	}
	if err := s.d.CheckEndpoint(r.Context(), ep); err != nil {
		msg := "This push endpoint is not allowed: it must be https at a push service browsers use."
		if errors.Is(err, netguard.ErrUnresolved) {
			// Not a refusal: saying "not allowed" sends people looking for
			// the wrong cause.
			msg = "This push endpoint's host name could not be resolved: check the name, or this server's DNS."
		}
		s.srv.Fail(w, r, &news.Error{Code: news.CodeEndpointNotAllowed, Field: "subscription.endpoint", Message: msg, Err: err})
		return
	}
	if err := s.d.ValidateKeys(in.Subscription.Keys.P256dh, in.Subscription.Keys.Auth); err != nil {
		s.srv.Fail(w, r, &news.Error{Code: news.CodeInvalidKeys, Field: "subscription.keys",
			Message: "p256dh must be a P-256 public key and auth 16 bytes, base64url.", Err: err})
		return
	}
	lang := news.Lang(in.Lang)
	if lang == "" {
		lang = news.French
	}
	if !lang.Valid() {
		s.srv.Fail(w, r, news.FieldError(news.CodeInvalid, "lang", "lang must be fr or en"))
		return
	}
	ids, unknown, err := s.d.Store.TopicIDs(r.Context(), in.Topics)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	if len(unknown) > 0 {
		s.srv.Fail(w, r, news.FieldError(news.CodeUnknownTopic, "topics", "unknown topic %q", unknown[0]))
		return
	}
	ps := news.PushSubscription{Endpoint: ep, P256dh: in.Subscription.Keys.P256dh, Auth: in.Subscription.Keys.Auth, Lang: lang}
	if err := pushTiming(&ps, in); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	_, created, err := s.d.Store.SavePushSubscription(r.Context(), ps, ids, s.d.Now())
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	status := 200
	if created {
		status = 201
	}
	web.WriteJSON(w, status, map[string]string{"status": "subscribed"})
}

func (s *handler) pushUnsubscribe(w http.ResponseWriter, r *http.Request) {
	if !s.pushAllowed(w, r) {
		return
	}
	var in struct {
		Endpoint string `json:"endpoint"`
	}
	if err := web.DecodeJSON(w, r, &in); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	if in.Endpoint == "" {
		s.srv.Fail(w, r, news.FieldError(news.CodeInvalid, "endpoint", "endpoint is required"))
		return
	}
	if err := s.d.Store.DeletePushSubscription(r.Context(), in.Endpoint); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// staticFile serves an embedded asset. The service worker may be imported
// from the publisher's origin, hence the permissive CORS on it.
func (s *handler) staticFile(name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(templates.FS, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		w.Write(b)
	}
}
