package reader

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/subscribe"
)

// keepAction is where the preference center's "yes, keep sending them"
// posts, when the reader was asked "still want this?" and has not answered;
// "" otherwise.
func (s *handler) keepAction(r *http.Request, sub news.Subscriber) (string, error) {
	asked, err := s.d.Subscribe.SunsetAsked(r.Context(), sub.ID)
	if err != nil || !asked {
		return "", err
	}
	return s.path("/preferences/"+url.PathEscape(r.PathValue("token"))+"/keep", langQuery(r)), nil
}

// preferencesKeep is the reader's answer to "still want this?": they stay.
// A POST, so that a mail scanner opening the email's button answers
// nothing.
func (s *handler) preferencesKeep(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.tokenSubscriber(w, r, subscribe.PurposePreferences)
	if !ok {
		return
	}
	l := subscriberLang(r, sub)
	if err := s.d.Subscribe.KeepAfterSunset(r.Context(), sub.ID); err != nil {
		s.pageFail(w, r, l, false, fmt.Errorf("keep after sunset: %w", err))
		return
	}
	s.page(w, r, http.StatusOK, "message", s.messagePageLang(l, "page.sunset.kept_title", "page.sunset.kept_body"))
}
