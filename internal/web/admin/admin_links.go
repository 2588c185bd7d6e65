package admin

import (
	"net/http"
	"strconv"
)

// readerRevoke is an admin's "revoke links": every link sent to the reader
// so far stops working but unsubscribing (their preferences, data and
// erase links answer 410), for a reader whose mailbox or forwarded email
// was seen by others. Audited with the reader's id and new generation.
func (ui *adminUI) readerRevoke(w http.ResponseWriter, r *http.Request, rq *adminReq) {
	sub, ok := ui.loadReader(w, r, rq)
	if !ok {
		return
	}
	sub, err := ui.d.Subscribe.RevokeLinks(r.Context(), sub.ID)
	if err != nil {
		ui.fail(w, r, rq, err)
		return
	}
	ui.audit(r, rq, "subscriber.revoke_links", strconv.FormatInt(sub.ID, 10), "generation="+strconv.FormatInt(sub.LinkGen, 10))
	ui.redirect(w, r, "/admin/readers/"+strconv.FormatInt(sub.ID, 10)+"?done=links_revoked")
}
