package compose

import (
	"errors"
	"fmt"
	"strings"

	"github.com/crieur/crieur/internal/news"
)

// WelcomeData is what the welcome email holds: the admin's words, and
// the paragraphs the reader's topics add.
type WelcomeData struct {
	// Lang is the reader's language; an unknown one gets English.
	Lang news.Lang
	// Subject is the admin's subject line; empty: a default in Lang.
	Subject string
	// Body is the admin's text, paragraphs separated by blank lines.
	Body string
	// TopicParagraphs are the texts the reader's topics add, in order.
	TopicParagraphs []string
	// PreferencesURL and UnsubscribeURL are the reader's signed links,
	// required.
	PreferencesURL, UnsubscribeURL string
}

// welcomeBody is the Body of a welcome view.
type welcomeBody struct {
	Paragraphs []string
}

// Welcome renders the email a reader gets once they have confirmed. The
// admin's text is plain text: it is escaped, never read as HTML.
func (c *Composer) Welcome(d WelcomeData) (Email, error) {
	l := c.language(d.Lang)
	v := c.base(l)
	var err error
	if v.PreferencesURL, err = requiredURL("preferences", d.PreferencesURL); err != nil {
		return Email{}, fmt.Errorf("compose welcome: %w", err)
	}
	if v.UnsubscribeURL, err = requiredURL("unsubscribe", d.UnsubscribeURL); err != nil {
		return Email{}, fmt.Errorf("compose welcome: %w", err)
	}
	body := &welcomeBody{Paragraphs: paragraphs(d.Body)}
	for _, p := range d.TopicParagraphs {
		body.Paragraphs = append(body.Paragraphs, paragraphs(p)...)
	}
	if len(body.Paragraphs) == 0 {
		return Email{}, errors.New("compose welcome: no text")
	}
	v.Title = truncate(oneLine(d.Subject), 200)
	if v.Title == "" {
		v.Title = l.S("email.welcome.subject", c.site.Name)
	}
	v.Preheader = truncate(strings.Join(body.Paragraphs, " "), 140)
	v.Reason = l.S("email.footer.reason_welcome", c.site.Name)
	v.Body = body
	text, html, err := c.render(l, kindWelcome, &v, 8192)
	if err != nil {
		return Email{}, fmt.Errorf("compose welcome: %w", err)
	}
	return Email{Subject: v.Title, Preheader: v.Preheader, Text: text, HTML: html}, nil
}
