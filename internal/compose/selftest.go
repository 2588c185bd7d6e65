package compose

import (
	"fmt"
	"time"

	"github.com/crieur/crieur/internal/i18n"
	"github.com/crieur/crieur/internal/news"
)

// selfTest renders every email in every language once, through every
// branch of the templates, so that New fails on a template that cannot
// execute.
func (c *Composer) selfTest() error {
	const u = "https://example.com/x"
	topics := []news.Topic{{Slug: "a", Name: "A"}, {Slug: "b", Name: "B"}}
	articles := []news.Article{
		{URL: u, Title: "T", Summary: "S", ImageURL: u, Author: "W", Topics: []string{"a"}},
		{URL: "", Title: "T", Topics: []string{"z"}},
		{URL: "", Title: "T", ImageURL: u},
	}
	date := time.Date(2026, time.December, 1, 7, 0, 0, 0, time.UTC)
	for _, lang := range i18n.Languages() {
		for _, f := range []news.Frequency{news.Daily, news.Weekly} {
			for _, more := range []int{0, 1, 2} {
				for _, ts := range [][]news.Topic{nil, topics} {
					d := DigestData{Lang: lang, Frequency: f, Articles: articles, More: more, Topics: ts,
						PreferencesURL: u, UnsubscribeURL: u, Date: date}
					if _, err := c.Digest(d); err != nil {
						return fmt.Errorf("%s %s digest: %w", lang, f, err)
					}
				}
			}
			for _, p := range []string{"", u} {
				if _, err := c.Confirm(ConfirmData{Lang: lang, ConfirmURL: u, Topics: topics, Frequency: f, PreferencesURL: p}); err != nil {
					return fmt.Errorf("%s confirmation: %w", lang, err)
				}
			}
		}
		if _, err := c.Links(LinksData{Lang: lang, PreferencesURL: u, UnsubscribeURL: u}); err != nil {
			return fmt.Errorf("%s preference link: %w", lang, err)
		}
		for _, link := range []string{"", u} {
			if _, err := c.Alert(AlertData{Lang: lang, Title: "T", Body: "B\n\nC", URL: link, ImageURL: link,
				PreferencesURL: u, UnsubscribeURL: u}); err != nil {
				return fmt.Errorf("%s alert: %w", lang, err)
			}
		}
	}
	return nil
}
