package dispatch

import (
	"net/url"

	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/news"
)

// Linker makes the tracked links of emails (click.Service).
type Linker interface {
	Link(kind click.Kind, scope, article, reader int64) string
}

// trackedArticles returns arts with each story's link through BASE/r/ for
// run's email to reader. By default the token names only the run and the
// article, so every reader of a run gets the same links (a per-run render
// cache may keep them); with readers tracked it names the reader too. A
// story whose URL is not http(s) keeps it: the email shows no link then.
func (b *MessageBuilder) trackedArticles(arts []news.Article, run, reader int64) []news.Article {
	if b.Clicks == nil || run == 0 {
		return arts
	}
	out := make([]news.Article, len(arts))
	for i, a := range arts {
		if isHTTP(a.URL) {
			a.URL = b.Clicks.Link(click.KindRun, run, a.ID, reader)
		}
		out[i] = a
	}
	return out
}

// trackedAlertURL is an alert email's story link through BASE/r/.
func (b *MessageBuilder) trackedAlertURL(alert, reader int64, u string) string {
	if b.Clicks == nil || !isHTTP(u) {
		return u
	}
	return b.Clicks.Link(click.KindAlert, alert, 0, reader)
}

func isHTTP(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}
