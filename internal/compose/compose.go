// Package compose renders every email crieur sends: double opt-in
// confirmations, daily and weekly digests and breaking-news alerts, each as a
// subject, a preheader, a plain-text part and an HTML part, in the reader's
// language.
//
// A Composer is built once at start from the templates file system
// (templates.FS): it parses every template, loads the translated strings of
// i18n/ (through package i18n) and inlines the layout's CSS with premailer, all once, so that
// rendering a message is only template execution. A Composer does no I/O
// after New and is safe for concurrent use.
//
// Everything a reader or an editor wrote (titles, summaries, names, URLs) is
// escaped by html/template, and only http and https URLs become links.
//
// It imports news only: no store and nothing that sends (mail, push,
// dispatch); its callers hand it what to render.
package compose

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/crieur/crieur/internal/i18n"
	"github.com/crieur/crieur/internal/news"
)

// Site describes the publication an email comes from.
type Site struct {
	// Name is the publication's name, shown in the header and footer.
	Name string
	// URL is the publication's home page (http or https); the header and
	// the "N more on the site" line link to it.
	URL string
	// ListID is the List-Id of the mailing list, e.g.
	// "digest.news.example.com". The composer does not use it; the mail
	// package reads it through Composer.Site.
	ListID string
	// LogoURL, when set (http or https), replaces the name in the header by
	// an image 40 pixels high.
	LogoURL string
}

// Email is one rendered message, ready for the mail package to wrap in a
// multipart/alternative MIME message.
type Email struct {
	// Subject is one line of plain text, without line breaks.
	Subject string
	// Preheader is the hidden line mail clients show next to the subject;
	// it is also the first thing in the HTML body.
	Preheader string
	// Text is the text/plain part. It says what the HTML part says.
	Text string
	// HTML is the text/html part, with inline styles.
	HTML string
	// TextHead and HTMLHead are set by DigestShared only: the start of
	// each part, shared by every reader of the same digest; Text and HTML
	// then hold only the rest.
	TextHead, HTMLHead *Head
}

// kind is one sort of email, with one HTML and one text template each.
type kind int

const (
	kindDigest kind = iota
	kindConfirm
	kindAlert
	kindLinks
	kindWelcome
	kindSunset
	numKinds
)

// name is the base name of the kind's template files.
func (k kind) name() string {
	switch k {
	case kindDigest:
		return "digest"
	case kindConfirm:
		return "confirm"
	case kindAlert:
		return "alert"
	case kindLinks:
		return "links"
	case kindWelcome:
		return "welcome"
	case kindSunset:
		return "sunset"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Composer renders emails. Build it with New; its methods are safe for
// concurrent use.
type Composer struct {
	site    Site
	strings *i18n.Catalog
	// holeMark starts the stand-in links a digest skeleton is rendered
	// with (see skeleton.go): random, so no article can spell one.
	holeMark string
	langs    map[news.Lang]*language
	// fallback is the English language, used for any other language.
	fallback *language
	// shapeKeys are the buffers shapeSum spells digest keys into: a key
	// is ~3 KB a digest and lives only until it is hashed, a tenth of a
	// digest's garbage when each was a new slice.
	shapeKeys sync.Pool
}

// language holds the strings and the templates of one language; each
// template is bound to this language's strings through its "t" function.
type language struct {
	*i18n.Language
	html [numKinds]*htmltemplate.Template
	text [numKinds]*texttemplate.Template
	// articles caches the digest rows of articles.
	articles fragmentCache
	// digests caches whole digests with holes for their reader's links.
	digests skeletonCache
}

// New parses the email templates and the translated strings of fsys (laid
// out like templates.FS: email/ and i18n/) for site, and inlines the email
// CSS. It fails, naming the file and key, on a missing or malformed
// template, a missing language file, a string missing in one language, or a
// string whose %-arguments differ between languages.
func New(fsys fs.FS, site Site) (*Composer, error) {
	c := &Composer{
		site: Site{
			Name:    strings.TrimSpace(site.Name),
			URL:     site.URL,
			ListID:  site.ListID,
			LogoURL: site.LogoURL,
		},
		langs:    make(map[news.Lang]*language),
		holeMark: newHoleMark(),
	}
	if c.site.Name == "" {
		return nil, errors.New("compose: site name is empty")
	}
	if site.URL != "" && linkURL(site.URL) == "" {
		return nil, fmt.Errorf("compose: site URL %q is not an http or https URL", site.URL)
	}
	if site.LogoURL != "" && linkURL(site.LogoURL) == "" {
		return nil, fmt.Errorf("compose: site logo URL %q is not an http or https URL", site.LogoURL)
	}

	strs, err := i18n.Load(fsys, goKeys())
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	c.strings = strs

	htmlSrc, err := htmlSources(fsys)
	if err != nil {
		return nil, err
	}
	textSrc, err := textSources(fsys)
	if err != nil {
		return nil, err
	}

	for _, lang := range i18n.Languages() {
		l := &language{Language: strs.Language(lang)}
		for k := range numKinds {
			name := k.name() + ".html"
			ht, err := htmltemplate.New(name).Option("missingkey=error").Funcs(htmlFuncs(l)).Parse(htmlSrc[k])
			if err != nil {
				return nil, fmt.Errorf("compose: parse email/%s: %w", name, err)
			}
			l.html[k] = ht

			name = k.name() + ".txt"
			tt := texttemplate.New(name).Option("missingkey=error").Funcs(textFuncs(l))
			if _, err := tt.Parse(textSrc.footer); err != nil {
				return nil, fmt.Errorf("compose: parse email/footer.txt: %w", err)
			}
			if _, err := tt.Parse(textSrc.kinds[k]); err != nil {
				return nil, fmt.Errorf("compose: parse email/%s: %w", name, err)
			}
			l.text[k] = tt
		}
		c.langs[lang] = l
	}
	c.fallback = c.langs[news.English]

	// Every key a template asks for must exist (checkCatalogs made sure
	// both languages have the same keys, so English is enough).
	for k := range numKinds {
		for _, key := range i18n.HTMLKeys(c.fallback.html[k]) {
			if !c.fallback.Has(key) {
				return nil, fmt.Errorf("compose: email/%s.html uses string %q, missing from i18n/", k.name(), key)
			}
		}
		for _, key := range i18n.TextKeys(c.fallback.text[k]) {
			if !c.fallback.Has(key) {
				return nil, fmt.Errorf("compose: email/%s.txt uses string %q, missing from i18n/", k.name(), key)
			}
		}
	}

	// Render each email once in each language, so that an error a template
	// can only show at execution (a wrong field name, a bad escaping
	// context) stops the daemon at start rather than at the first digest.
	if err := c.selfTest(); err != nil {
		return nil, fmt.Errorf("compose: self-test: %w", err)
	}
	return c, nil
}

// Site returns the site the Composer was built for.
func (c *Composer) Site() Site { return c.site }

// Strings returns the message catalogue the Composer was built with, for
// pages that must say what the emails say.
func (c *Composer) Strings() *i18n.Catalog { return c.strings }

// T returns the string key in lang, as i18n.Catalog.T does.
func (c *Composer) T(lang news.Lang, key string, args ...any) string {
	return c.strings.T(lang, key, args...)
}

// TN is T for a string that depends on a count n, as i18n.Catalog.TN.
func (c *Composer) TN(lang news.Lang, key string, n int, args ...any) string {
	return c.strings.TN(lang, key, n, args...)
}

// Date writes t as a long date in lang, as i18n.Catalog.Date does.
func (c *Composer) Date(lang news.Lang, t time.Time) string {
	return c.strings.Date(lang, t)
}

// language returns the strings and templates of lang, English for an
// unknown language.
func (c *Composer) language(lang news.Lang) *language {
	if l, ok := c.langs[lang]; ok {
		return l
	}
	return c.fallback
}

// htmlSources reads layout.html and puts each kind's body fragment in place
// of its {{template "body" .}} action, then inlines the CSS.
func htmlSources(fsys fs.FS) ([numKinds]string, error) {
	var out [numKinds]string
	const marker = `{{template "body" .}}`
	layout, err := fs.ReadFile(fsys, "email/layout.html")
	if err != nil {
		return out, fmt.Errorf("compose: read email layout: %w", err)
	}
	if n := strings.Count(string(layout), marker); n != 1 {
		return out, fmt.Errorf("compose: email/layout.html must hold %s exactly once, found %d", marker, n)
	}
	for k := range numKinds {
		name := "email/" + k.name() + ".html"
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return out, fmt.Errorf("compose: read email template: %w", err)
		}
		src := strings.Replace(string(layout), marker, string(body), 1)
		inlined, err := inlineCSS(src)
		if err != nil {
			return out, fmt.Errorf("compose: inline CSS of %s: %w", name, err)
		}
		out[k] = inlined
	}
	return out, nil
}

// textParts are the sources of the plain-text templates.
type textParts struct {
	footer string
	kinds  [numKinds]string
}

// textSources reads footer.txt and each kind's text template.
func textSources(fsys fs.FS) (textParts, error) {
	var p textParts
	b, err := fs.ReadFile(fsys, "email/footer.txt")
	if err != nil {
		return p, fmt.Errorf("compose: read email template: %w", err)
	}
	p.footer = string(b)
	for k := range numKinds {
		b, err := fs.ReadFile(fsys, "email/"+k.name()+".txt")
		if err != nil {
			return p, fmt.Errorf("compose: read email template: %w", err)
		}
		p.kinds[k] = string(b)
	}
	return p, nil
}

// htmlFuncs are the functions of the HTML templates of l.
func htmlFuncs(l *language) htmltemplate.FuncMap {
	return htmltemplate.FuncMap{"t": l.Strict}
}

// textFuncs are the functions of the text templates of l.
func textFuncs(l *language) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"t":    l.Strict,
		"wrap": wrap,
	}
}

// view is what every template receives: the layout's fields and the
// kind's own fields in Body. All its strings are already translated; its
// URLs are http or https, or empty.
type view struct {
	Lang           news.Lang
	Title          string
	Preheader      string
	SiteName       string
	SiteURL        string
	LogoURL        string
	Reason         string
	PreferencesURL string
	UnsubscribeURL string
	Body           any
}

// render executes both templates of kind k in l with v.
func (c *Composer) render(l *language, k kind, v *view, sizeHint int) (text, html string, err error) {
	var b strings.Builder
	b.Grow(sizeHint)
	if err := l.html[k].Execute(&b, v); err != nil {
		return "", "", fmt.Errorf("render %s.html: %w", k.name(), err)
	}
	html = b.String()

	b = strings.Builder{}
	b.Grow(sizeHint / 3)
	if err := l.text[k].Execute(&b, v); err != nil {
		return "", "", fmt.Errorf("render %s.txt: %w", k.name(), err)
	}
	return b.String(), html, nil
}

// base fills the layout's fields of a view.
func (c *Composer) base(l *language) view {
	return view{
		Lang:     l.Lang(),
		SiteName: c.site.Name,
		SiteURL:  linkURL(c.site.URL),
		LogoURL:  linkURL(c.site.LogoURL),
	}
}

// linkURL returns u when it is an absolute http or https URL, or "" so that
// no link is made of it.
func linkURL(u string) string {
	u = strings.TrimSpace(u)
	// The common case, a lower-case scheme, without parsing the URL.
	for _, scheme := range []string{"https://", "http://"} {
		if rest, ok := strings.CutPrefix(u, scheme); ok {
			if rest == "" || strings.IndexByte("/?#@:", rest[0]) >= 0 {
				return ""
			}
			return u
		}
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	switch p.Scheme { // url.Parse lower-cases it
	case "http", "https":
		// A mail client may not take "hTtP://" for a web link, and the
		// checks that follow the HTML look for a lower-case scheme.
		return p.Scheme + u[len(p.Scheme):]
	}
	return ""
}
