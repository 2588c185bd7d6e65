package feed

import (
	"bytes"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	ext "github.com/mmcdole/gofeed/extensions"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// PlainText returns the readable text of a title, summary or name that may
// hold HTML, the way feed items are cleaned: tags removed, entities decoded
// (once), the content of script-like elements dropped, whitespace collapsed.
// Runs of non-breaking spaces alone (French typography: « mot », « ? ») stay
// one non-breaking space. Plain text survives: a "<" or "&" that is not
// markup ("Tom & Jerry <3", "x <y", "AT&T") is kept as written. The result
// is plain text, to be escaped wherever it is shown as HTML.
func PlainText(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	if !strings.ContainsAny(s, "<&") {
		return collapse(s)
	}
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0 // depth inside elements whose text is not shown
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// An unterminated tag at the end ("si x<y alors") is text
			// unless it opens a known element (a description cut short
			// inside "<a href=…").
			if raw := z.Raw(); skip == 0 && len(raw) > 0 && !markup(tagName(raw)) {
				b.Write(raw)
			}
			return collapse(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			if !markup(name) {
				// "<tom@example.com>" or "<y alors>": not HTML, but text
				// that happened to hold a "<".
				if skip == 0 {
					b.Write(z.Raw())
				}
				continue
			}
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Iframe, atom.Object, atom.Svg:
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if blockish(a) {
				b.WriteByte(' ')
			}
		}
	}
}

// markup reports whether a tag name (lower case, as the tokenizer gives it)
// is an HTML element, or a custom (my-widget) or namespaced (o:p) one that
// editors leave in content, rather than text that follows a "<".
func markup(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	if atom.Lookup(name) != 0 {
		return true
	}
	custom := false
	for _, c := range name {
		switch {
		case c == '-' || c == ':':
			custom = true
		case c == '_' || c == '.' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return custom
}

// tagName returns the lower-cased name of the tag raw starts with ("<a
// href" or "</a"), or nil.
func tagName(raw []byte) []byte {
	raw, ok := bytes.CutPrefix(raw, []byte("<"))
	if !ok {
		return nil
	}
	raw = bytes.TrimPrefix(raw, []byte("/"))
	end := bytes.IndexAny(raw, " \t\r\n\f/>")
	if end >= 0 {
		raw = raw[:end]
	}
	return bytes.ToLower(raw)
}

// appearedFirst matches the sentence Yoast SEO appends to every WordPress
// feed item ("L’article X est apparu en premier sur Y.").
var appearedFirst = regexp.MustCompile(`\s*(?:L[’']article|The post)\s.{0,600}?\s(?:est apparu en premier sur|appeared first on)\s[^.]{0,200}\.?$`)

// stripAppearedFirst removes the Yoast SEO trailer from a summary.
func stripAppearedFirst(s string) string {
	if !strings.Contains(s, "apparu en premier sur") && !strings.Contains(s, "appeared first on") {
		return s
	}
	// The trailer ends the text; matching only the tail keeps this cheap on
	// a hostile multi-megabyte description.
	cut := max(0, len(s)-2000)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + appearedFirst.ReplaceAllString(s[cut:], "")
}

// blockish reports whether an element separates words when rendered.
func blockish(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Br, atom.Div, atom.Li, atom.Ul, atom.Ol, atom.H1, atom.H2,
		atom.H3, atom.H4, atom.H5, atom.H6, atom.Blockquote, atom.Tr, atom.Td,
		atom.Th, atom.Figure, atom.Figcaption, atom.Section, atom.Article,
		atom.Header, atom.Footer, atom.Hr, atom.Pre, atom.Table, atom.Dd, atom.Dt,
		atom.Img:
		return true
	}
	return false
}

// collapse replaces every run of white space by one space (or by one
// non-breaking space when the run holds nothing else) and trims the ends.
// Invalid UTF-8 becomes U+FFFD; control characters are dropped.
func collapse(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		sep := ' '
		if allNBSP(run) {
			sep = '\u00a0'
		}
		if b.Len() > 0 {
			b.WriteRune(sep)
		}
		run = run[:0]
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || r == '\u202f':
			run = append(run, r)
			continue
		case unicode.IsControl(r) || r == '\u200b' || r == '\ufeff':
			continue
		}
		flush()
		b.WriteRune(r)
	}
	return b.String() // trailing run dropped
}

func allNBSP(run []rune) bool {
	for _, r := range run {
		if r != '\u00a0' && r != '\u202f' {
			return false
		}
	}
	return true
}

// truncate cuts s to at most n runes plus "…", on a word boundary when one
// is close enough to the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if n == 0 {
			cut = i
			break
		}
		n--
	}
	head := s[:cut]
	if i := strings.LastIndexFunc(head, unicode.IsSpace); i > len(head)*3/4 {
		head = head[:i]
	}
	head = strings.TrimRightFunc(head, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",;:-–—([«", r)
	})
	return head + "…"
}

// imageURL picks the item's illustration: media:content or media:thumbnail
// (also inside media:group), an image enclosure, the image gofeed found, then
// the first <img> of the content or the description.
func imageURL(it *gofeed.Item, base *url.URL) string {
	if media, ok := it.Extensions["media"]; ok {
		if u := mediaImage(media, base); u != "" {
			return u
		}
		for _, g := range media["group"] {
			if u := mediaImage(g.Children, base); u != "" {
				return u
			}
		}
	}
	for _, e := range it.Enclosures {
		if e != nil && strings.HasPrefix(strings.ToLower(strings.TrimSpace(e.Type)), "image/") {
			if u := absURL(base, e.URL); u != "" {
				return u
			}
		}
	}
	if it.Image != nil {
		if u := absURL(base, it.Image.URL); u != "" {
			return u
		}
	}
	if u := firstImage(it.Content, base); u != "" {
		return u
	}
	return firstImage(it.Description, base)
}

// mediaImage returns the first image among Media RSS content and thumbnail
// elements.
func mediaImage(m map[string][]ext.Extension, base *url.URL) string {
	for _, c := range m["content"] {
		medium := strings.ToLower(c.Attrs["medium"])
		typ := strings.ToLower(c.Attrs["type"])
		if medium == "image" || strings.HasPrefix(typ, "image/") || (medium == "" && typ == "") {
			if u := absURL(base, c.Attrs["url"]); u != "" {
				return u
			}
		}
	}
	for _, c := range m["thumbnail"] {
		if u := absURL(base, c.Attrs["url"]); u != "" {
			return u
		}
	}
	return ""
}

// firstImage returns the src of the first <img> in an HTML fragment that
// resolves to an http(s) URL (data: URIs of lazy-loading placeholders are
// skipped in favour of data-src).
func firstImage(s string, base *url.URL) string {
	if !strings.Contains(s, "<") {
		return ""
	}
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if atom.Lookup(name) != atom.Img || !hasAttr {
				continue
			}
			var src, dataSrc string
			for {
				k, v, more := z.TagAttr()
				switch string(k) {
				case "src":
					src = string(v)
				case "data-src", "data-lazy-src":
					dataSrc = string(v)
				}
				if !more {
					break
				}
			}
			if u := absURL(base, src); u != "" {
				return u
			}
			if u := absURL(base, dataSrc); u != "" {
				return u
			}
		}
	}
}
