package compose

import (
	"fmt"

	"github.com/crieur/crieur/internal/news"
)

// SunsetData is what the "still want this?" email holds
// (CRIEUR_SUNSET_AFTER).
type SunsetData struct {
	Lang news.Lang
	// KeepURL opens the reader's preference center asking them to confirm
	// (a page with a button: a mail scanner's fetch answers nothing);
	// UnsubscribeURL goes in the footer.
	KeepURL, PreferencesURL, UnsubscribeURL string
}

type sunsetBody struct {
	KeepURL string
}

// Sunset renders the one email a reader who has not clicked in a long time
// gets before the newsletter stops.
func (c *Composer) Sunset(d SunsetData) (Email, error) {
	l := c.language(d.Lang)
	v := c.base(l)
	keep, err := requiredURL("keep", d.KeepURL)
	if err != nil {
		return Email{}, fmt.Errorf("compose sunset: %w", err)
	}
	v.PreferencesURL = linkURL(d.PreferencesURL)
	v.UnsubscribeURL = linkURL(d.UnsubscribeURL)
	v.Title = l.S("email.sunset.subject", c.site.Name)
	v.Preheader = l.S("email.sunset.preheader")
	v.Reason = l.S("email.footer.reason_sunset", c.site.Name)
	v.Body = &sunsetBody{KeepURL: keep}
	text, html, err := c.render(l, kindSunset, &v, 8192)
	if err != nil {
		return Email{}, fmt.Errorf("compose sunset: %w", err)
	}
	return Email{Subject: v.Title, Preheader: v.Preheader, Text: text, HTML: html}, nil
}
