package api

import (
	"net/http"
	"strconv"

	"github.com/crieur/crieur/internal/web"
)

// approveAlert sends an alert awaiting approval (CRIEUR_ALERT_APPROVAL, or
// an automatic draft): 202 by any token but the author's, which gets 403
// forbidden. The alert service writes the audit entry naming both.
func (s *handler) approveAlert(w http.ResponseWriter, r *http.Request) {
	id, err := web.PathID(r)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	if err := s.d.Alerts.Approve(r.Context(), id, actorOf(r.Context())); err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	a, err := s.d.Alerts.Get(r.Context(), id)
	if err != nil {
		s.srv.Fail(w, r, err)
		return
	}
	j := AlertToJSON(a)
	web.WriteJSON(w, http.StatusAccepted, map[string]string{"id": strconv.FormatInt(id, 10), "state": j.State})
}
