package compose_test

import (
	"golang.org/x/net/html"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/news"
)

// FuzzDigest renders whatever an editor or a feed may put in a title, a
// summary, an author or a URL: rendering never panics and the HTML never
// holds a tag or a link the input brought.
func FuzzDigest(f *testing.F) {
	seeds := []struct{ title, summary, author, url string }{
		{"<script>alert(1)</script>", "</p><script>x</script>", "<b>", "javascript:alert(1)"},
		{"Un titre « normal »", "Résumé\r\nsur deux lignes", "", "https://news.example.com/a?b=1&c=2"},
		{"\x00\xff\xfe", "<SCRIPT SRC=//x>", "\u2028", "data:text/html;base64,PHNjcmlwdD4="},
		{`"><img src=x onerror=alert(1)>`, "{{.Title}}", "</td></tr></table>", " JaVaScRiPt:alert(1)"},
		{"", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.title, s.summary, s.author, s.url)
	}
	c := setup(f)
	f.Fuzz(func(t *testing.T, title, summary, author, url string) {
		d := frenchDigest(2)
		d.Articles[0].Title, d.Articles[0].Summary, d.Articles[0].Author = title, summary, author
		d.Articles[0].URL, d.Articles[0].ImageURL = url, url
		d.Topics = append(d.Topics, news.Topic{Slug: "politique", Name: title})
		e, err := c.Digest(d)
		if err != nil {
			t.Fatal(err)
		}
		checkHTML(t, e.HTML)
		if strings.ContainsAny(e.Subject, "\r\n") {
			t.Fatalf("subject %q carries a line break", e.Subject)
		}
		a, err := c.Alert(compose.AlertData{Lang: news.English, Title: title + "x", Body: summary, URL: url, ImageURL: url,
			PreferencesURL: "https://x.example/p", UnsubscribeURL: "https://x.example/u"})
		if err != nil {
			t.Fatal(err)
		}
		checkHTML(t, a.HTML)
		if strings.ContainsAny(a.Subject, "\r\n") {
			t.Fatalf("subject %q carries a line break", a.Subject)
		}
	})
}

// checkHTML fails when the input reached the HTML as markup or as a link
// other than http(s).
func checkHTML(t *testing.T, h string) {
	t.Helper()
	lower := strings.ToLower(h)
	if strings.Contains(lower, "<script") {
		t.Fatal("HTML holds <script")
	}
	// Every tag and attribute comes from the templates, and every link is
	// http(s).
	z := html.NewTokenizer(strings.NewReader(h))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			name, more := z.TagName()
			if !allowedTags[string(name)] {
				t.Fatalf("HTML holds a <%s> tag", name)
			}
			for more {
				var k, v []byte
				k, v, more = z.TagAttr()
				if !allowedAttrs[string(k)] {
					t.Fatalf("HTML holds a %s attribute on <%s>", k, name)
				}
				if (string(k) == "href" || string(k) == "src") &&
					!strings.HasPrefix(string(v), "https://") && !strings.HasPrefix(string(v), "http://") {
					t.Fatalf("HTML links to %q", v)
				}
			}
		}
	}
}

// allowedTags are the tags the email templates write.
var allowedTags = map[string]bool{
	"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true, "div": true,
	"table": true, "tbody": true, "tr": true, "td": true, "a": true, "img": true, "h1": true, "h2": true, "p": true, "br": true,
}

// allowedAttrs are the attributes the email templates write.
var allowedAttrs = map[string]bool{
	"lang": true, "charset": true, "name": true, "content": true, "type": true, "class": true, "style": true,
	"role": true, "width": true, "height": true, "cellpadding": true, "cellspacing": true, "border": true,
	"align": true, "href": true, "src": true, "alt": true,
}
