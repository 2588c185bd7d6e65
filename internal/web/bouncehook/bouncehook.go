// Package bouncehook is the room of the sending providers' event webhooks:
// POST /api/v1/webhooks/bounces/{ses|sendgrid|postmark|mailgun}. A call
// proves who it is by its provider's signature (package provider), not by
// a token or a session: an unsigned, wrongly signed, old or replayed call
// gets 401 and changes nothing. A verified call's bounces and complaints
// go to the bounce.Recorder; a verified body that cannot be read, or a
// report about no known reader, is parked for an admin, and the provider
// is told 200 so that it does not send it again.
package bouncehook

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/crieur/crieur/internal/bounce"
	"github.com/crieur/crieur/internal/bounce/provider"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/web"
)

// Pattern is the room's one route.
const Pattern = "POST /api/v1/webhooks/bounces/{provider}"

// Names are the providers the route knows.
var Names = []string{"ses", "sendgrid", "postmark", "mailgun"}

// MaxBody caps a webhook call, as every JSON body of the API.
const MaxBody = 1 << 20

type handler struct {
	srv       *web.Server
	rec       bounce.Recorder
	providers map[string]provider.Provider
}

// Register adds the route to srv.
func Register(srv *web.Server) {
	d := srv.Deps()
	h := &handler{srv: srv, rec: d.Bounces, providers: map[string]provider.Provider{}}
	for _, p := range d.BounceProviders {
		h.providers[p.Name()] = p
	}
	srv.HandleFunc(Pattern, h.receive)
}

func (h *handler) receive(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	known := false
	for _, n := range Names {
		known = known || n == name
	}
	if !known || h.rec == nil {
		web.WriteError(w, news.Errorf(news.CodeNotFound, "No such provider webhook."), http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			web.WriteError(w, news.Errorf(news.CodeTooLarge, "The body is over 1 MiB."), http.StatusRequestEntityTooLarge)
			return
		}
		web.WriteError(w, news.Errorf(news.CodeInvalid, "The body could not be read."), http.StatusBadRequest)
		return
	}
	p, ok := h.providers[name]
	if !ok {
		// Not configured: nothing can verify the call.
		web.WriteError(w, news.Errorf(news.CodeUnauthorized, "This provider's webhook is not configured."), http.StatusUnauthorized)
		return
	}
	reports, err := p.Receive(r.Context(), r.Header, body)
	switch {
	case errors.Is(err, provider.ErrUnverified):
		web.WriteError(w, news.Errorf(news.CodeUnauthorized, "The call's signature does not verify."), http.StatusUnauthorized)
		return
	case errors.Is(err, provider.ErrMalformed):
		if err := h.rec.Park(r.Context(), name, bounce.ParkUnparsable, body); err != nil {
			h.srv.Fail(w, r, err)
			return
		}
		web.WriteJSON(w, http.StatusOK, map[string]int{"recorded": 0, "parked": 1})
		return
	case err != nil:
		// A certificate or confirmation fetch failed: the provider
		// retries.
		h.srv.Fail(w, r, fmt.Errorf("%s webhook: %w", name, err))
		return
	}
	recorded, unmatched := 0, 0
	for _, rep := range reports {
		rep.Source = name
		out, err := h.rec.Record(r.Context(), rep)
		if err != nil {
			// The provider retries the whole call; what was recorded
			// already is recorded once (the store ignores repeats).
			h.srv.Fail(w, r, fmt.Errorf("%s webhook: %w", name, err))
			return
		}
		switch out {
		case bounce.Applied:
			recorded++
		case bounce.Unmatched:
			unmatched++
		}
	}
	parked := 0
	if unmatched > 0 {
		if err := h.rec.Park(r.Context(), name, bounce.ParkUnmatched, body); err != nil {
			h.srv.Fail(w, r, err)
			return
		}
		parked = 1
	}
	web.WriteJSON(w, http.StatusOK, map[string]int{"recorded": recorded, "parked": parked})
}
