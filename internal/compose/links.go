package compose

import (
	"fmt"

	"github.com/crieur/crieur/internal/news"
)

// LinksData is what the email bringing a reader their preference link
// holds.
type LinksData struct {
	// Lang is the reader's language; an unknown one gets English.
	Lang news.Lang
	// PreferencesURL is the reader's signed preference link, required;
	// UnsubscribeURL, when set, goes in the footer.
	PreferencesURL, UnsubscribeURL string
}

// linksBody is the Body of a preference-link view.
type linksBody struct {
	PreferencesURL string
}

// Links renders the email a reader asked for from the unsubscribe page,
// or that follows "sign out everywhere": their preference link, and that
// nothing changed if they did not ask.
func (c *Composer) Links(d LinksData) (Email, error) {
	l := c.language(d.Lang)
	v := c.base(l)
	prefs, err := requiredURL("preferences", d.PreferencesURL)
	if err != nil {
		return Email{}, fmt.Errorf("compose preference link: %w", err)
	}
	v.UnsubscribeURL = linkURL(d.UnsubscribeURL)
	v.Title = l.S("email.links.subject", c.site.Name)
	v.Preheader = l.S("email.links.preheader")
	v.Reason = l.S("email.footer.reason_links", c.site.Name)
	v.Body = &linksBody{PreferencesURL: prefs}
	text, html, err := c.render(l, kindLinks, &v, 8192)
	if err != nil {
		return Email{}, fmt.Errorf("compose preference link: %w", err)
	}
	return Email{Subject: v.Title, Preheader: v.Preheader, Text: text, HTML: html}, nil
}
