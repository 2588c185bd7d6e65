package feed_test

import (
	"bytes"
	"html"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/crieur/crieur/internal/feed"
)

// FuzzParse checks that no input makes Parse panic and that what it returns
// is bounded and clean.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"wordpress-fr.xml", "atom.xml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, h := range hostile() {
		if len(h.doc) < 64<<10 {
			f.Add([]byte(h.doc))
		}
	}
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"windows-1252\"?><rss><channel><item><title>\x92</title><link>http://a/</link></item></channel></rss>"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		items, err := feed.Parse(bytes.NewReader(doc), 1<<20)
		if err != nil {
			if items != nil {
				t.Fatal("items with an error")
			}
			return
		}
		if len(items) > 5000 {
			t.Fatalf("%d items", len(items))
		}
		for _, it := range items {
			if !strings.HasPrefix(it.URL, "http://") && !strings.HasPrefix(it.URL, "https://") {
				t.Fatalf("URL %q", it.URL)
			}
			if it.ImageURL != "" && !strings.HasPrefix(it.ImageURL, "http") {
				t.Fatalf("image URL %q", it.ImageURL)
			}
			if utf8.RuneCountInString(it.Title) > 501 || utf8.RuneCountInString(it.Summary) > 401 {
				t.Fatal("text not bounded")
			}
			if !utf8.ValidString(it.Title) || !utf8.ValidString(it.Summary) {
				t.Fatal("invalid UTF-8 out")
			}
			if unexpanded(it.Title) || unexpanded(it.Summary) || unexpanded(it.Author) || slices.ContainsFunc(it.Categories, unexpanded) {
				t.Fatalf("entity left unexpanded in %+v", it)
			}
		}
	})
}

var slugRE = regexp.MustCompile(`^(?:[a-z0-9]+(?:-[a-z0-9]+)*)?$`)

// FuzzSlug checks that Slug is idempotent and only emits [a-z0-9-].
func FuzzSlug(f *testing.F) {
	for _, s := range []string{"Économie", "Afrique ", "Politique étrangère", "Sciences & Tech", "Cœur", "ﬁ", "İstanbul", "\xff", "--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := feed.Slug(s)
		if !slugRE.MatchString(got) {
			t.Fatalf("Slug(%q) = %q", s, got)
		}
		if again := feed.Slug(got); again != got {
			t.Fatalf("Slug(Slug(%q)) = %q, want %q", s, again, got)
		}
	})
}

// FuzzPlainText checks that PlainText gives trimmed, valid UTF-8 without
// control characters, and keeps text that holds no markup as it is.
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{"L&apos;État &amp; moi", "<p>Le <strong>budget</strong>&hellip;</p>", "Tom & Jerry <3",
		"Si x<y alors", "<y z>", "a<b", "<!-- c", "</ b", "<script>x", "\xff<p>\x00</p>", "«\u00a0oui\u00a0»"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := feed.PlainText(s)
		if !utf8.ValidString(got) || strings.TrimSpace(got) != got {
			t.Fatalf("PlainText(%q) = %q", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Fatalf("PlainText(%q) = %q: control character", s, got)
			}
		}
		if !strings.ContainsAny(s, "<&") && utf8.ValidString(s) && got != strings.Join(strings.Fields(stripControl(s)), " ") && !strings.ContainsAny(s, "\u00a0\u202f\u200b\ufeff\u0085") {
			t.Fatalf("plain text changed: PlainText(%q) = %q", s, got)
		}
		// The same text written with entities goes through the markup path
		// and must come out the same.
		if !strings.ContainsAny(s, "<&") && utf8.ValidString(s) {
			if esc := feed.PlainText(html.EscapeString(s) + "<br>"); esc != got {
				t.Fatalf("PlainText(%q) = %q but %q escaped gives %q", s, got, s, esc)
			}
		}
	})
}

func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
