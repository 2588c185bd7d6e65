package compose

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// DigestData is what one reader's digest holds.
type DigestData struct {
	// Lang is the reader's language; an unknown one gets English.
	Lang news.Lang
	// Frequency is news.Daily or news.Weekly; anything else reads as daily.
	Frequency news.Frequency
	// Articles are the articles to show, newest first, at most 25; at
	// least one. Their topic slugs are named after Topics.
	Articles []news.Article
	// More, when positive, adds a line "N more articles on the site"
	// linking to Site.URL.
	More int
	// Topics are the reader's topics, for the intro line, the subject and
	// the footer, and to name the topics of each article.
	Topics []news.Topic
	// PreferencesURL and UnsubscribeURL are the reader's signed links
	// (http or https); both are required.
	PreferencesURL, UnsubscribeURL string
	// Date is the digest's date, in the publisher's time zone.
	Date time.Time
}

// digestBody is the Body of a digest view.
type digestBody struct {
	Heading  string
	Intro    string
	Articles []renderedArticle
	More     string
}

// articleView is one article as the templates show it. It is comparable:
// it keys the cache of rendered articles.
type articleView struct {
	Title    string
	Summary  string
	URL      string // http(s) or empty: then the title is not a link
	ImageURL string // http(s) or empty: then there is no image
	Meta     string // "Politique, Afrique · Par Jeanne Dupont"
}

// renderedArticle is an article and, once rendered, its "article" blocks
// of digest.html and digest.txt.
type renderedArticle struct {
	articleView
	N    int // position in the digest, from 1
	HTML htmltemplate.HTML
	Text string
}

// Digest renders a reader's daily or weekly digest. It fails when there is
// no article or when a required link is missing: such a digest must not go
// out.
// It renders through the templates each time: the digests a run sends go
// through DigestShared.
func (c *Composer) Digest(d DigestData) (Email, error) {
	if len(d.Articles) == 0 {
		return Email{}, errors.New("compose digest: no articles")
	}
	prefs, err := requiredURL("preferences", d.PreferencesURL)
	if err != nil {
		return Email{}, fmt.Errorf("compose digest: %w", err)
	}
	unsub, err := requiredURL("unsubscribe", d.UnsubscribeURL)
	if err != nil {
		return Email{}, fmt.Errorf("compose digest: %w", err)
	}
	return c.renderDigest(d, prefs, unsub)
}

// renderDigest renders d through the templates with the links given
// (already checked by requiredURL) in place of d's.
func (c *Composer) renderDigest(d DigestData, prefs, unsub string) (Email, error) {
	l := c.language(d.Lang)
	v := c.base(l)
	v.PreferencesURL, v.UnsubscribeURL = prefs, unsub

	weekly := d.Frequency == news.Weekly
	names := make(map[string]string, len(d.Topics))
	readerTopics := make([]string, 0, len(d.Topics))
	for _, t := range d.Topics {
		name := oneLine(t.Name)
		if name == "" {
			name = t.Slug
		}
		names[t.Slug] = name
		readerTopics = append(readerTopics, name)
	}

	body := &digestBody{Articles: make([]renderedArticle, len(d.Articles))}
	seen := make(map[string]bool, len(d.Topics))
	var meta strings.Builder
	for i, a := range d.Articles {
		meta.Reset()
		for _, slug := range a.Topics {
			name, ok := names[slug]
			if !ok {
				continue
			}
			seen[slug] = true
			if meta.Len() > 0 {
				meta.WriteString(", ")
			}
			meta.WriteString(name)
		}
		if author := oneLine(a.Author); author != "" {
			if meta.Len() > 0 {
				meta.WriteString(" · ")
			}
			meta.WriteString(l.S("email.digest.by", author))
		}
		av := articleView{
			Title:    oneLine(a.Title),
			Summary:  oneLine(a.Summary),
			URL:      linkURL(a.URL),
			ImageURL: linkURL(a.ImageURL),
			Meta:     meta.String(),
		}
		f, err := c.article(l, av)
		if err != nil {
			return Email{}, fmt.Errorf("compose digest: %w", err)
		}
		body.Articles[i] = renderedArticle{articleView: av, N: i + 1, HTML: f.html, Text: f.text}
	}

	// The subject names the reader's topics that have news today, in the
	// reader's order; with none or too many, it names none.
	var covered []string
	for _, t := range d.Topics {
		if seen[t.Slug] {
			covered = append(covered, names[t.Slug])
		}
	}
	short := l.Date(d.Date, false)
	long := l.Date(d.Date, true)
	var subject string
	switch {
	case len(covered) == 0 || len(covered) > 3:
		subject = l.S(pick(weekly, "email.digest.subject_weekly_all", "email.digest.subject_daily_all"), short)
	default:
		subject = l.S(pick(weekly, "email.digest.subject_weekly", "email.digest.subject_daily"), strings.Join(covered, ", "), short)
	}

	body.Heading = l.S(pick(weekly, "email.digest.heading_weekly", "email.digest.heading_daily"), long)
	topicList := l.S("email.all_topics")
	if len(readerTopics) > 0 {
		topicList = strings.Join(readerTopics, ", ")
		body.Intro = l.S("email.digest.intro", topicList)
	} else {
		body.Intro = l.S("email.digest.intro_all", c.site.Name)
	}
	if d.More > 0 {
		body.More = l.S(l.PluralKey("email.digest.more", d.More), d.More, c.site.Name)
	}

	v.Title = subject
	v.Preheader = preheader(body.Articles)
	v.Reason = l.S(pick(weekly, "email.footer.reason_weekly", "email.footer.reason_daily"), c.site.Name, topicList)
	v.Body = body

	text, html, err := c.render(l, kindDigest, &v, 4096+1536*len(d.Articles))
	if err != nil {
		return Email{}, fmt.Errorf("compose digest: %w", err)
	}
	return Email{Subject: subject, Preheader: v.Preheader, Text: text, HTML: html}, nil
}

// article returns the rendered "article" blocks of a, from the cache when
// they are there.
func (c *Composer) article(l *language, a articleView) (fragment, error) {
	if f, ok := l.articles.get(a); ok {
		return f, nil
	}
	var b strings.Builder
	b.Grow(512 + 2*len(a.Summary))
	ra := renderedArticle{articleView: a}
	if err := l.html[kindDigest].ExecuteTemplate(&b, "article", ra); err != nil {
		return fragment{}, fmt.Errorf("render article of digest.html: %w", err)
	}
	f := fragment{html: htmltemplate.HTML(b.String())}
	b = strings.Builder{}
	if err := l.text[kindDigest].ExecuteTemplate(&b, "article", ra); err != nil {
		return fragment{}, fmt.Errorf("render article of digest.txt: %w", err)
	}
	f.text = b.String()
	l.articles.put(a, f)
	return f, nil
}

// pick returns a when cond holds, b otherwise.
func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// requiredURL returns u when it is an http or https URL, an error naming
// what it is otherwise.
func requiredURL(what, u string) (string, error) {
	if l := linkURL(u); l != "" {
		return l, nil
	}
	if u == "" {
		return "", fmt.Errorf("no %s URL", what)
	}
	return "", fmt.Errorf("%s URL %q is not an http or https URL", what, u)
}

// preheader joins the first titles of a digest, up to about 140
// characters: what a mail client shows after the subject.
func preheader(articles []renderedArticle) string {
	const max = 140
	var b strings.Builder
	for _, a := range articles {
		if a.Title == "" {
			continue
		}
		if b.Len() > 0 {
			if b.Len()+len(a.Title) > max {
				break
			}
			b.WriteString(" · ")
		}
		b.WriteString(a.Title)
	}
	return truncate(b.String(), max)
}
