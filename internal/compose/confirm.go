package compose

import (
	"fmt"
	"strings"

	"github.com/crieur/crieur/internal/news"
)

// ConfirmData is what a double opt-in email holds.
type ConfirmData struct {
	// Lang is the reader's language; an unknown one gets English.
	Lang news.Lang
	// ConfirmURL is the signed confirmation link (http or https), required.
	ConfirmURL string
	// Topics and Frequency are what the reader asked for, shown so they
	// know what they will get.
	Topics    []news.Topic
	Frequency news.Frequency
	// PreferencesURL, when set, adds a link to change those choices.
	PreferencesURL string
}

// confirmBody is the Body of a confirmation view.
type confirmBody struct {
	What       string
	ConfirmURL string
}

// Confirm renders the double opt-in email: a button and the raw link to
// confirm, what the reader will get, and that nothing is sent if they did
// not ask. It carries no unsubscribe link: nothing is subscribed yet.
func (c *Composer) Confirm(d ConfirmData) (Email, error) {
	l := c.language(d.Lang)
	v := c.base(l)
	confirmURL, err := requiredURL("confirmation", d.ConfirmURL)
	if err != nil {
		return Email{}, fmt.Errorf("compose confirmation: %w", err)
	}
	v.PreferencesURL = linkURL(d.PreferencesURL)

	topics := l.S("email.all_topics")
	if len(d.Topics) > 0 {
		names := make([]string, 0, len(d.Topics))
		for _, t := range d.Topics {
			if n := oneLine(t.Name); n != "" {
				names = append(names, n)
			} else {
				names = append(names, t.Slug)
			}
		}
		topics = strings.Join(names, ", ")
	}
	weekly := d.Frequency == news.Weekly
	v.Title = l.S("email.confirm.subject", c.site.Name)
	v.Preheader = l.S("email.confirm.preheader")
	v.Reason = l.S("email.footer.reason_confirm", c.site.Name)
	v.Body = &confirmBody{
		What:       l.S(pick(weekly, "email.confirm.what_weekly", "email.confirm.what_daily"), topics),
		ConfirmURL: confirmURL,
	}

	text, html, err := c.render(l, kindConfirm, &v, 8192)
	if err != nil {
		return Email{}, fmt.Errorf("compose confirmation: %w", err)
	}
	return Email{Subject: v.Title, Preheader: v.Preheader, Text: text, HTML: html}, nil
}
