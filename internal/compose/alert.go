package compose

import (
	"errors"
	"fmt"
	"strings"

	"github.com/crieur/crieur/internal/news"
)

// AlertData is what a breaking-news email holds.
type AlertData struct {
	// Lang is the reader's language; an unknown one gets English.
	Lang news.Lang
	// Title (required) and Body are the alert's text; blank lines in Body
	// separate paragraphs.
	Title, Body string
	// URL is the story (http or https); without one the title is no link.
	URL string
	// ImageURL, when set (http or https), shows an image under the label.
	ImageURL string
	// PreferencesURL and UnsubscribeURL are the reader's signed links
	// (http or https); both are required.
	PreferencesURL, UnsubscribeURL string
}

// alertBody is the Body of an alert view.
type alertBody struct {
	Title      string
	Paragraphs []string
	URL        string
	ImageURL   string
}

// Alert renders a breaking-news email. It fails without a title or a
// required link.
func (c *Composer) Alert(d AlertData) (Email, error) {
	l := c.language(d.Lang)
	v := c.base(l)
	title := oneLine(d.Title)
	if title == "" {
		return Email{}, errors.New("compose alert: no title")
	}
	var err error
	if v.PreferencesURL, err = requiredURL("preferences", d.PreferencesURL); err != nil {
		return Email{}, fmt.Errorf("compose alert: %w", err)
	}
	if v.UnsubscribeURL, err = requiredURL("unsubscribe", d.UnsubscribeURL); err != nil {
		return Email{}, fmt.Errorf("compose alert: %w", err)
	}
	body := &alertBody{
		Title:      title,
		Paragraphs: paragraphs(d.Body),
		URL:        linkURL(d.URL),
		ImageURL:   linkURL(d.ImageURL),
	}
	v.Title = l.S("email.alert.subject", title)
	v.Preheader = truncate(strings.Join(body.Paragraphs, " "), 140)
	v.Reason = l.S("email.footer.reason_alert", c.site.Name)
	v.Body = body

	text, html, err := c.render(l, kindAlert, &v, 8192)
	if err != nil {
		return Email{}, fmt.Errorf("compose alert: %w", err)
	}
	return Email{Subject: v.Title, Preheader: v.Preheader, Text: text, HTML: html}, nil
}

// paragraphs splits s on blank lines, each paragraph on one line.
func paragraphs(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []string
	for _, p := range strings.Split(s, "\n\n") {
		if p = oneLine(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
