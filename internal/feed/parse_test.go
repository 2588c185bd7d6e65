package feed_test

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crieur/crieur/internal/feed"
	"github.com/crieur/crieur/internal/news"
)

const limit = 10 << 20

// testTopics is the topic list the publisher configured in these tests.
var testTopics = []news.Topic{
	{ID: 1, Slug: "economie", Name: "Économie"},
	{ID: 2, Slug: "afrique", Name: "Afrique"},
	{ID: 3, Slug: "politique", Name: "Politique"},
}

func parseFile(t *testing.T, name string) []feed.Item {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	items, err := feed.Parse(f, limit)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return items
}

func parseString(t *testing.T, doc string) []feed.Item {
	t.Helper()
	items, err := feed.Parse(strings.NewReader(doc), limit)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return items
}

func TestParseWordPress(t *testing.T) {
	t.Parallel()
	items := parseFile(t, "testdata/wordpress-fr.xml")

	const nb = "\u00a0"
	want := []struct {
		guid, title, author string
		published           time.Time
		categories, topics  []string
		image               string
	}{
		{"https://www.lequotidien.example/?p=48213", "L’économie sénégalaise rebondit" + nb + ": «" + nb + "un tournant" + nb + "» selon la BCEAO", "Aminata Diallo",
			time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), []string{"Économie", "Afrique", "BCEAO"}, []string{"economie", "afrique"},
			"https://www.lequotidien.example/wp-content/uploads/2026/03/port-dakar-1024x683.jpg"},
		{"https://www.lequotidien.example/?p=48190", "Présidentielle" + nb + ": les candidats face à la crise…", "Moussa Traoré",
			time.Date(2026, 3, 9, 18, 30, 0, 0, time.UTC), []string{"Politique"}, []string{"politique"},
			"https://www.lequotidien.example/wp-content/uploads/2026/03/debat.jpg"},
		{"https://www.lequotidien.example/?p=48177", "Le FMI prévoit une croissance de 4" + nb + "% en Afrique de l’Ouest", "Aminata Diallo",
			time.Date(2026, 3, 9, 11, 15, 2, 0, time.UTC), []string{"Afrique", "economie", "Non classé"}, []string{"afrique", "economie"},
			"https://www.lequotidien.example/wp-content/uploads/2026/03/fmi.jpg"},
		{"https://www.lequotidien.example/?p=48150", "«" + nb + "Nous ne céderons pas" + nb + "», affirme le ministre de l’Intérieur", "Moussa Traoré",
			time.Date(2026, 3, 8, 20, 45, 0, 0, time.UTC), []string{"Politique", "AFRIQUE"}, []string{"politique", "afrique"},
			"https://www.lequotidien.example/wp-content/uploads/2026/03/ministre.jpg"},
		{"https://www.lequotidien.example/?p=48101", "Sciences & Tech" + nb + ": un satellite kényan mis en orbite", "Rédaction",
			time.Date(2026, 3, 7, 7, 0, 0, 0, time.UTC), []string{"Sciences & Tech"}, []string{},
			"https://www.lequotidien.example/wp-content/uploads/2026/03/satellite-150x150.jpg"},
		{"https://www.lequotidien.example/?p=48077", "Culture" + nb + ": le Fespaco s’ouvre à Ouagadougou", "Awa Ouédraogo",
			time.Date(2026, 3, 6, 16, 20, 0, 0, time.UTC), []string{"Culture", "Cinéma"}, []string{}, ""},
		{"https://www.lequotidien.example/?p=48050", "Politique étrangère" + nb + ": Dakar et Rabat signent un accord", "Aminata Diallo",
			time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC), []string{"Politique étrangère", "Politique", "Afrique"}, []string{"politique", "afrique"}, ""},
	}
	if len(items) != len(want) {
		t.Fatalf("got %d items, want %d", len(items), len(want))
	}
	for i, w := range want {
		it := items[i]
		if it.GUID != w.guid || it.Title != w.title || it.Author != w.author || !it.Published.Equal(w.published) || it.ImageURL != w.image {
			t.Errorf("item %d:\n got %q %q %q %v %q\nwant %q %q %q %v %q", i,
				it.GUID, it.Title, it.Author, it.Published, it.ImageURL,
				w.guid, w.title, w.author, w.published, w.image)
		}
		if !strings.HasPrefix(it.URL, "https://www.lequotidien.example/2026/03/") {
			t.Errorf("item %d: URL %q", i, it.URL)
		}
		if !slices.Equal(it.Categories, w.categories) {
			t.Errorf("item %d: categories %q, want %q", i, it.Categories, w.categories)
		}
		if got := feed.MapTopics(it.Categories, testTopics); !slices.Equal(got, w.topics) {
			t.Errorf("item %d: topics %q, want %q", i, got, w.topics)
		}
		s := it.Summary
		if s == "" || strings.ContainsAny(s, "<>") || strings.Contains(s, "&#") || strings.Contains(s, "&nbsp;") ||
			strings.Contains(s, "  ") || strings.Contains(s, "apparu en premier") || strings.Contains(s, "alert(") ||
			utf8.RuneCountInString(s) > 401 {
			t.Errorf("item %d: summary not clean plain text: %q", i, s)
		}
	}
	if got, want := items[0].Summary, "La croissance du produit intérieur brut a atteint 6,1\u00a0% au dernier trimestre, portée par les hydrocarbures et l’agriculture… […]"; got != want {
		t.Errorf("summary 0 = %q, want %q", got, want)
	}
	if s := items[1].Summary; !strings.HasSuffix(s, "divergences…") || utf8.RuneCountInString(s) < 350 {
		t.Errorf("long summary not cut on a word boundary: %q", s)
	}
	if got, want := items[3].Summary, "Le ministre a répondu aux syndicats & aux élus de l’opposition."; got != want {
		t.Errorf("escaped-HTML summary = %q, want %q", got, want)
	}
	if got, want := items[5].Summary, "Le plus grand festival de cinéma du continent fête sa 29e\u00a0édition."; got != want {
		t.Errorf("summary 5 = %q, want %q", got, want)
	}
}

func TestParseAtom(t *testing.T) {
	t.Parallel()
	items := parseFile(t, "testdata/atom.xml")
	if len(items) != 2 { // the entry with no link and a tag: id is dropped
		t.Fatalf("got %d items, want 2: %+v", len(items), items)
	}
	first := items[0]
	if first.URL != "https://www.lequotidien.example/2026/03/10/niger-uranium/" {
		t.Errorf("relative link not resolved against the feed link: %q", first.URL)
	}
	if first.Title != "Niger\u00a0: l’uranium au cœur des négociations" {
		t.Errorf("title %q", first.Title)
	}
	if first.Summary != "Les discussions reprennent à Niamey & à Paris." {
		t.Errorf("summary %q", first.Summary)
	}
	if !first.Published.Equal(time.Date(2026, 3, 10, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("published %v", first.Published)
	}
	if first.Author != "Ibrahim Maïga" || first.ImageURL != "https://cdn.lequotidien.example/niger.jpg" {
		t.Errorf("author %q image %q", first.Author, first.ImageURL)
	}
	if got := feed.MapTopics(first.Categories, testTopics); !slices.Equal(got, []string{"afrique", "economie"}) {
		t.Errorf("topics %q", got)
	}
	second := items[1]
	if second.Summary != "Les agriculteurs se préparent." {
		t.Errorf("xhtml content summary %q", second.Summary)
	}
	if !second.Published.Equal(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("updated not used as published: %v", second.Published)
	}
}

func TestParseRSS1(t *testing.T) {
	t.Parallel()
	items := parseString(t, `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel rdf:about="https://ex.example/"><title>Ex</title><link>https://ex.example/</link></channel>
 <item rdf:about="https://ex.example/a"><title>Un &#233;t&#233; chaud</title><link>https://ex.example/a</link>
  <description>Chaleur.</description><dc:date>2026-03-01T10:00:00Z</dc:date><dc:subject>Afrique</dc:subject></item>
</rdf:RDF>`)
	if len(items) != 1 || items[0].Title != "Un été chaud" || items[0].URL != "https://ex.example/a" ||
		!items[0].Published.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) ||
		!slices.Equal(items[0].Categories, []string{"Afrique"}) {
		t.Fatalf("RSS 1.0: %+v", items)
	}
}

func TestParseLinks(t *testing.T) {
	t.Parallel()
	items := parseString(t, `<rss version="2.0"><channel><link>https://news.example/fr/</link>
<item><title>relative</title><link>article-1</link></item>
<item><title>root-relative</title><link>/a/2</link></item>
<item><title>javascript</title><link>javascript:alert(1)</link></item>
<item><title>guid only</title><guid>https://news.example/?p=3</guid></item>
<item><title>tag guid only</title><guid isPermaLink="false">tag:x,2026:4</guid></item>
<item><title>nothing</title><description>no link, no guid</description></item>
<item><title>ftp</title><link>ftp://news.example/f</link></item>
<item><title>bad image</title><link>https://news.example/b</link><enclosure url="javascript:x" type="image/png"/></item>
</channel></rss>`)
	got := map[string]string{}
	for _, it := range items {
		got[it.Title] = it.URL
		if it.Title == "bad image" && it.ImageURL != "" {
			t.Errorf("non-http image kept: %q", it.ImageURL)
		}
	}
	want := map[string]string{
		"relative":      "https://news.example/fr/article-1",
		"root-relative": "https://news.example/a/2",
		"guid only":     "https://news.example/?p=3",
		"bad image":     "https://news.example/b",
	}
	if len(got) != len(want) {
		t.Errorf("got items %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: URL %q, want %q", k, got[k], v)
		}
	}

	// Without a feed link, a relative item link cannot be resolved.
	if items := parseString(t, `<rss version="2.0"><channel><item><title>x</title><link>/a</link></item></channel></rss>`); len(items) != 0 {
		t.Errorf("unresolvable relative link kept: %+v", items)
	}
}

func TestParsePublished(t *testing.T) {
	t.Parallel()
	items := parseString(t, `<feed xmlns="http://www.w3.org/2005/Atom"><link href="https://a.example/"/>
<entry><title>updated only</title><link href="/1"/><updated>2026-01-02T03:04:05+02:00</updated></entry>
<entry><title>no date</title><link href="/2"/></entry>
<entry><title>bad date</title><link href="/3"/><published>hier soir</published></entry>
</feed>`)
	if len(items) != 3 {
		t.Fatalf("got %d items", len(items))
	}
	if !items[0].Published.Equal(time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC)) {
		t.Errorf("updated: %v", items[0].Published)
	}
	if !items[1].Published.IsZero() || !items[2].Published.IsZero() {
		t.Errorf("missing/bad dates should be zero: %v %v", items[1].Published, items[2].Published)
	}
}

func TestParseSummaryCut(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("mot ", 300)
	oneWord := strings.Repeat("x", 1000)
	items := parseString(t, `<rss version="2.0"><channel>
<item><link>https://a.example/1</link><description>`+long+`</description></item>
<item><link>https://a.example/2</link><description>`+oneWord+`</description></item>
<item><link>https://a.example/3</link><title>`+strings.Repeat("Titre ", 200)+`</title></item>
</channel></rss>`)
	if s := items[0].Summary; !strings.HasSuffix(s, "mot…") || utf8.RuneCountInString(s) > 401 {
		t.Errorf("word cut: %q", s)
	}
	if s := items[1].Summary; utf8.RuneCountInString(s) != 401 || !strings.HasSuffix(s, "x…") {
		t.Errorf("hard cut: %d runes", utf8.RuneCountInString(s))
	}
	if s := items[2].Title; utf8.RuneCountInString(s) > 501 || !strings.HasSuffix(s, "…") {
		t.Errorf("title not bounded: %d runes", utf8.RuneCountInString(s))
	}
}

func TestParseEncodings(t *testing.T) {
	t.Parallel()
	rss := func(decl, title string) string {
		return decl + `<rss version="2.0"><channel><item><title>` + title + `</title><link>https://a.example/1</link><category>` + title + `</category></item></channel></rss>`
	}
	tests := []struct {
		name, doc, want string
	}{
		{"iso-8859-1", rss(`<?xml version="1.0" encoding="ISO-8859-1"?>`, "\xc9conomie \xab\xa0Afrique\xa0\xbb"), "Économie «\u00a0Afrique\u00a0»"},
		{"latin1 lower case", rss(`<?xml version='1.0' encoding='iso-8859-1'?>`, "\xe9t\xe9"), "été"},
		{"windows-1252", rss(`<?xml version="1.0" encoding="windows-1252"?>`, "L\x92\xe9conomie\x85 \x93oui\x94 \x80"), "L’économie… “oui” €"},
		{"utf-8 with BOM", "\xef\xbb\xbf" + rss(`<?xml version="1.0" encoding="UTF-8"?>`, "Été"), "Été"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items := parseString(t, tt.doc)
			if len(items) != 1 || items[0].Title != tt.want || items[0].Categories[0] != tt.want {
				t.Fatalf("got %+v, want title %q", items, tt.want)
			}
		})
	}

	bad := []struct{ name, doc string }{
		{"undeclared latin-1", rss(`<?xml version="1.0"?>`, "\xc9conomie")},
		{"declared utf-8, latin-1 bytes", rss(`<?xml version="1.0" encoding="UTF-8"?>`, "\xc9conomie")},
		{"unknown encoding", rss(`<?xml version="1.0" encoding="x-klingon"?>`, "a")},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items, err := feed.Parse(strings.NewReader(tt.doc), limit)
			if err == nil {
				t.Fatalf("want an error, got %+v", items)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("testdata/wordpress-fr.xml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := feed.Parse(strings.NewReader(string(doc)), int64(len(doc))); err != nil {
		t.Errorf("exactly the limit: %v", err)
	}
	_, err = feed.Parse(strings.NewReader(string(doc)), int64(len(doc)-1))
	if !errors.Is(err, feed.ErrTooLarge) {
		t.Errorf("one byte over: err = %v, want ErrTooLarge", err)
	}
	// An endless stream is cut at limit+1 bytes.
	_, err = feed.Parse(endless{}, 1<<20)
	if !errors.Is(err, feed.ErrTooLarge) {
		t.Errorf("endless: err = %v, want ErrTooLarge", err)
	}
}

// endless is a reader that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// hostile returns documents crafted to crash or exhaust a feed parser,
// each at most about 10 MiB.
func hostile() []struct{ name, doc string } {
	item := `<item><title>t</title><link>https://a.example/</link></item>`
	lol := `<!ENTITY lol "lollollollollollollollollollol">`
	for i := 1; i <= 9; i++ {
		prev := "lol"
		if i > 1 {
			prev = "lol" + string(rune('0'+i-1))
		}
		lol += `<!ENTITY lol` + string(rune('0'+i)) + ` "` + strings.Repeat("&"+prev+";", 10) + `">`
	}
	return []struct{ name, doc string }{
		{"empty", ""},
		{"garbage", "\x00\x01\x02<<<>>>&&&\xff\xfe"},
		{"html page", "<!DOCTYPE html><html><head><title>x</title></head><body><p>hello</body></html>"},
		{"json feed", `{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","url":"https://a.example/"}]}`},
		{"truncated", `<rss version="2.0"><channel><item><title>cut`},
		{"unclosed everything", `<rss version="2.0"><channel>` + strings.Repeat(`<item><title>x<link>https://a.example/`, 100)},
		{"billion laughs", `<?xml version="1.0"?><!DOCTYPE rss [` + lol + `]><rss version="2.0"><channel><title>&lol9;</title>` +
			`<item><title>&lol9;</title><link>https://a.example/</link><description>&lol9;&lol9;</description><category>&lol9;</category></item></channel></rss>`},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel><item><title>&xxe;</title><link>https://a.example/</link></item></channel></rss>`},
		{"deep extension", `<rss version="2.0" xmlns:x="urn:x"><channel><item><link>https://a.example/</link>` + strings.Repeat("<x:a>", 1_000_000) + strings.Repeat("</x:a>", 1_000_000) + `</item></channel></rss>`},
		{"deep unclosed", `<rss version="2.0"><channel>` + strings.Repeat("<a>", 3_000_000)},
		{"many items", `<rss version="2.0"><channel>` + strings.Repeat("<item/>", 1_400_000) + `</channel></rss>`},
		{"many real items", `<rss version="2.0"><channel>` + strings.Repeat(item, 6_000) + `</channel></rss>`},
		{"many extension elements", `<rss version="2.0" xmlns:x="urn:x"><channel><item><link>https://a.example/</link>` + strings.Repeat("<x:a/>", 1_600_000) + `</item></channel></rss>`},
		{"deep html in CDATA", `<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://a.example/"><entry><link href="/1"/><content type="html"><![CDATA[` +
			strings.Repeat("<div>", 1_000_000) + `]]></content></entry></feed>`},
		{"deep html in description", `<rss version="2.0"><channel><item><link>https://a.example/</link><description><![CDATA[` +
			strings.Repeat("<b><img src=x>", 500_000) + `]]></description></item></channel></rss>`},
		{"huge title", `<rss version="2.0"><channel><item><link>https://a.example/</link><title>` + strings.Repeat("é &amp; ", 1_000_000) + `</title></item></channel></rss>`},
		{"many ampersands", `<rss version="2.0"><channel><item><link>https://a.example/</link><description>` + strings.Repeat("&amp;&", 1_000_000) + `;</description></item></channel></rss>`},
		{"many attributes", `<rss version="2.0"><channel><item ` + strings.Repeat(`a="b" `, 1_000_000) + `><link>https://a.example/</link></item></channel></rss>`},
		{"many valueless attributes", `<rss version="2.0"><channel><item ` + strings.Repeat(`a `, 3_000_000) + `><link>https://a.example/</link></item></channel></rss>`},
		{"utf-16 declared, utf-8 bytes", `<?xml version="1.0" encoding="UTF-16"?><rss version="2.0"><channel><item><link>https://a.example/</link></item></channel></rss>`},
	}
}

// TestParseHostile is not parallel: it measures allocations.
func TestParseHostile(t *testing.T) {
	for _, tt := range hostile() {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			items, err := feed.Parse(strings.NewReader(tt.doc), int64(len(tt.doc))+1)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: %d items, err=%v, %d MiB allocated, %v", len(tt.doc), len(items), err, alloc>>20, elapsed)
			if alloc > 400<<20 {
				t.Errorf("allocated %d MiB for a %d KiB document", alloc>>20, len(tt.doc)>>10)
			}
			for _, it := range items {
				if utf8.RuneCountInString(it.Title) > 501 || utf8.RuneCountInString(it.Summary) > 401 {
					t.Errorf("unbounded text: title %d runes, summary %d runes", utf8.RuneCountInString(it.Title), utf8.RuneCountInString(it.Summary))
				}
				if strings.Contains(it.Title, "root:") {
					t.Errorf("external entity resolved: %q", it.Title)
				}
			}
		})
	}
}

// longFeed is an RSS feed of n items of about 200 bytes each; item i links
// to https://a.example/i and has the pubDate date(i), none when "".
// extra is added to each item.
func longFeed(n int, date func(i int) string, extra string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:x="urn:x"><channel><title>Long</title><link>https://a.example/</link>` + "\n")
	for i := range n {
		fmt.Fprintf(&b, "<item><title>Article %d</title><link>https://a.example/%d</link><guid>https://a.example/%d</guid>", i, i, i)
		if d := date(i); d != "" {
			b.WriteString("<pubDate>" + d + "</pubDate>")
		}
		b.WriteString("<description>Un résumé assez court pour tenir.</description>" + extra + "</item>\n")
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

func TestParseLongFeed(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	newestFirst := func(i int) string { return t0.Add(-time.Duration(i) * time.Minute).Format(time.RFC1123Z) }
	oldestFirst := func(i int) string { return t0.Add(time.Duration(i) * time.Minute).Format(time.RFC1123) }
	undated := func(int) string { return "" }
	atom := func(i int) string { return t0.Add(time.Duration(i) * time.Minute).Format(time.RFC3339) }
	tests := []struct {
		name        string
		doc         string
		first, last int // URLs of the first and last items kept
		n           int // items kept, 0 for 5,000
	}{
		{"newest first", longFeed(20_000, newestFirst, ""), 0, 4_999, 0},
		{"oldest first", longFeed(20_000, oldestFirst, ""), 15_000, 19_999, 0},
		{"undated: feed order", longFeed(20_000, undated, ""), 0, 4_999, 0},
		{"RFC 3339 dates, oldest first", longFeed(6_000, atom, ""), 1_000, 5_999, 0},
		// Byte offsets of the items are those of the Latin-1 document.
		{"latin-1, oldest first", strings.NewReplacer(`encoding="UTF-8"`, `encoding="ISO-8859-1"`, "é", "\xe9").Replace(longFeed(6_000, oldestFirst, "")), 1_000, 5_999, 0},
		// 20 elements an item: the element bound keeps fewer items.
		{"many elements", longFeed(6_000, newestFirst, strings.Repeat("<x:a/>", 14)), 0, 4_998, 4_999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items := parseString(t, tt.doc)
			want := tt.n
			if want == 0 {
				want = 5_000
			}
			if len(items) != want {
				t.Fatalf("%d items (%d bytes), want %d", len(items), len(tt.doc), want)
			}
			if got := items[0].URL; got != fmt.Sprint("https://a.example/", tt.first) {
				t.Errorf("first item %s, want %d", got, tt.first)
			}
			if got := items[len(items)-1].URL; got != fmt.Sprint("https://a.example/", tt.last) {
				t.Errorf("last item %s, want %d", got, tt.last)
			}
			if it := items[len(items)-1]; it.Title != fmt.Sprint("Article ", tt.last) || it.Summary != "Un résumé assez court pour tenir." {
				t.Errorf("last item %+v", it)
			}
		})
	}
}

// TestParseRefusals: what cannot be cut down to a readable feed is refused
// with an error that says why.
func TestParseRefusals(t *testing.T) {
	t.Parallel()
	undated := func(int) string { return "" }
	outside := func(n int) string {
		// n elements in the channel, outside any item, then one item.
		return strings.Replace(longFeed(1, undated, ""), "<title>Long</title>", "<title>Long</title>"+strings.Repeat("<x:a/>", n), 1)
	}
	tests := []struct{ name, doc, says string }{
		{"too many items", strings.Replace(longFeed(1, undated, ""), "</channel>", strings.Repeat("<item/>", 100_001)+"</channel>", 1), "more than 100000 items"},
		{"too many elements in all", longFeed(5_000, undated, strings.Repeat("<x:a/>", 100)), "more than 500000 elements"},
		{"too many elements outside items", outside(100_001), "more than 100000 elements"},
		{"no item fits", longFeed(1, undated, strings.Repeat("<x:a/>", 100_001)), "more than 100000 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items, err := feed.Parse(strings.NewReader(tt.doc), int64(len(tt.doc)))
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("%d items, error %v; want an error saying %q", len(items), err, tt.says)
			}
		})
	}
}
