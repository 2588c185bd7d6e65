package reader

import "net/http"

// previewLinkPage is where every link of a digest preview leads
// (subscribe.PreviewPath): it says so, and changes nothing.
func (s *handler) previewLinkPage(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, http.StatusOK, "message", s.messagePageLang(s.requestLang(r), "page.preview_link.title", "page.preview_link.body"))
}
