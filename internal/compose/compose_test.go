package compose_test

import (
	"errors"
	"flag"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"unicode"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/templates"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestGolden(t *testing.T) {
	t.Parallel()
	c := setup(t)
	weekly := frenchDigest(3)
	weekly.Lang, weekly.Frequency, weekly.More = news.English, news.Weekly, 1
	weekly.Topics = topics()
	tests := []struct {
		name   string
		render func() (compose.Email, error)
	}{
		{"digest_fr", func() (compose.Email, error) { return c.Digest(frenchDigest(3)) }},
		{"digest_en", func() (compose.Email, error) { return c.Digest(weekly) }},
		{"confirm_fr", func() (compose.Email, error) {
			return c.Confirm(compose.ConfirmData{Lang: news.French, ConfirmURL: "https://news.example.com/confirm/tok", Topics: topics()[:2], Frequency: news.Daily, PreferencesURL: "https://news.example.com/preferences/tok"})
		}},
		{"confirm_en", func() (compose.Email, error) {
			return c.Confirm(compose.ConfirmData{Lang: news.English, ConfirmURL: "https://news.example.com/confirm/tok", Topics: topics(), Frequency: news.Weekly})
		}},
		{"alert_fr", func() (compose.Email, error) {
			return c.Alert(compose.AlertData{Lang: news.French, Title: "Séisme au large du Japon : alerte au tsunami levée",
				Body: "L’agence météorologique japonaise a levé l’alerte au tsunami.\n\nAucune victime n’est signalée à ce stade.",
				URL:  "https://news.example.com/monde/seisme-japon", ImageURL: "https://img.news.example.com/seisme.jpg",
				PreferencesURL: "https://news.example.com/preferences/tok", UnsubscribeURL: "https://news.example.com/unsubscribe/tok"})
		}},
		{"alert_en", func() (compose.Email, error) {
			return c.Alert(compose.AlertData{Lang: news.English, Title: "Earthquake off Japan: tsunami warning lifted",
				Body: "Japan's weather agency lifted its tsunami warning.", URL: "https://news.example.com/world/japan-quake",
				PreferencesURL: "https://news.example.com/preferences/tok", UnsubscribeURL: "https://news.example.com/unsubscribe/tok"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := tt.render()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".html", e.HTML)
			golden(t, tt.name+".txt", "Subject: "+e.Subject+"\nPreheader: "+e.Preheader+"\n\n"+e.Text)
		})
	}
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run go test -update and review the diff):\n%s", name, firstDiff(string(want), got))
	}
}

// firstDiff shows the first line where want and got differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + "\nwant: " + wl + "\n got: " + gl
		}
	}
	return ""
}

func TestDigestFrenchHasEveryTitleAndURL(t *testing.T) {
	t.Parallel()
	c := setup(t)
	d := frenchDigest(25)
	e, err := c.Digest(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range d.Articles {
		if !strings.Contains(e.HTML, html.EscapeString(a.Title)) && !strings.Contains(e.HTML, a.Title) {
			t.Errorf("HTML lacks title %q", a.Title)
		}
		if !strings.Contains(e.Text, a.Title) {
			t.Errorf("text lacks title %q", a.Title)
		}
		// html/template writes & in an attribute as &amp;.
		if !strings.Contains(e.HTML, `href="`+strings.ReplaceAll(a.URL, "&", "&amp;")+`"`) {
			t.Errorf("HTML lacks a link to %s", a.URL)
		}
		if !strings.Contains(e.Text, a.URL) {
			t.Errorf("text lacks URL %s", a.URL)
		}
	}
	for _, want := range []string{
		"Votre sélection du jour — 29 novembre 2026",
		"4 autres articles à lire sur Le Crieur",
		"Gérer mes préférences", "Se désabonner",
		"Vous recevez cet email parce que vous avez demandé la sélection quotidienne",
		"Politique, Afrique",
	} {
		if !strings.Contains(e.HTML, want) || !strings.Contains(flat(e.Text), want) {
			t.Errorf("HTML or text lacks %q", want)
		}
	}
	for _, link := range []string{d.PreferencesURL, d.UnsubscribeURL} {
		if !strings.Contains(e.HTML, `href="`+link+`"`) || !strings.Contains(e.Text, link) {
			t.Errorf("HTML or text lacks the link %s", link)
		}
	}
	if !strings.Contains(e.HTML, `href="https://news.example.com"`) {
		t.Error(`the "more" line does not link to the site`)
	}
}

func TestDigestImagesAndMeta(t *testing.T) {
	t.Parallel()
	c := setup(t)
	d := frenchDigest(2)
	e, err := c.Digest(d)
	if err != nil {
		t.Fatal(err)
	}
	img := `<img class="image" src="` + d.Articles[0].ImageURL + `" alt="` + html.EscapeString(d.Articles[0].Title) + `" width="552" height="311"`
	if !strings.Contains(e.HTML, img) {
		t.Errorf("HTML lacks %s", img)
	}
	if strings.Count(e.HTML, "<img") != 1 {
		t.Errorf("want one image (the second article has none), got %d", strings.Count(e.HTML, "<img"))
	}
	if !strings.Contains(e.HTML, "Politique · Par Awa Diallo") || !strings.Contains(e.Text, "Politique · Par Awa Diallo") {
		t.Error("topic and author line missing")
	}
	if !strings.Contains(e.HTML, `>Afrique</p>`) {
		t.Error("topic line without author missing")
	}
}

func TestDigestResponsive(t *testing.T) {
	t.Parallel()
	e, err := setup(t).Digest(frenchDigest(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1"/>`,
		`@media only screen and (max-width: 620px)`,
		`width: 100% !important`,
		`class="container" width="600"`,
		`role="presentation"`,
		`<div class="preheader" style="display:none;`,
	} {
		if !strings.Contains(e.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestDigestSize(t *testing.T) {
	t.Parallel()
	d := frenchDigest(25)
	d.Articles = articles(25, 400)
	for _, a := range d.Articles {
		a.ImageURL = "https://img.news.example.com/2026/11/une-image-assez-longue.jpg"
	}
	e, err := setup(t).Digest(d)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 60 << 10 // Gmail clips at ~102 KB
	t.Logf("25 articles of 400-char summaries: HTML %d bytes, text %d bytes", len(e.HTML), len(e.Text))
	if len(e.HTML) >= limit {
		t.Errorf("HTML is %d bytes, want < %d", len(e.HTML), limit)
	}
}

func TestDigestEscapesContent(t *testing.T) {
	t.Parallel()
	c := setup(t)
	d := frenchDigest(1)
	d.Articles[0].Title = `<script>alert(1)</script>`
	d.Articles[0].Summary = `"><img src=x onerror=alert(2)> & <b>gras</b>`
	d.Articles[0].Author = `<i>moi</i>`
	d.Topics[0].Name = `<svg onload=alert(3)>`
	e, err := c.Digest(d)
	if err != nil {
		t.Fatal(err)
	}
	lower := strings.ToLower(e.HTML)
	for _, bad := range []string{"<script", "<img src=x", "<b>", "<i>", "<svg"} {
		if strings.Contains(lower, bad) {
			t.Errorf("HTML contains unescaped %q", bad)
		}
	}
	if !strings.Contains(e.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the title is not shown as text")
	}
	if !strings.Contains(e.Text, "<script>alert(1)</script>") {
		t.Error("the text part should show the title as written")
	}
}

func TestDigestOnlyHTTPLinks(t *testing.T) {
	t.Parallel()
	c := setup(t)
	for _, u := range []string{"javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<script>x</script>", "vbscript:x", "//evil.example.com/x", "/relative"} {
		d := frenchDigest(1)
		d.Articles[0].URL = u
		d.Articles[0].ImageURL = u
		e, err := c.Digest(d)
		if err != nil {
			t.Fatal(err)
		}
		lower := strings.ToLower(e.HTML)
		if strings.Contains(lower, "javascript:") || strings.Contains(lower, "vbscript:") || strings.Contains(lower, "data:") || strings.Contains(lower, "evil.example.com") {
			t.Errorf("URL %q reached the HTML", u)
		}
		if strings.Contains(e.HTML, "<img") {
			t.Errorf("image URL %q became an image", u)
		}
		if !strings.Contains(e.HTML, ">"+html.EscapeString(d.Articles[0].Title)+"</h2>") {
			t.Errorf("URL %q: the title should show, unlinked", u)
		}
		if strings.Contains(strings.ToLower(e.Text), strings.ToLower(strings.TrimSpace(u))) {
			t.Errorf("URL %q reached the text part", u)
		}
	}
}

func TestDigestSubject(t *testing.T) {
	t.Parallel()
	c := setup(t)
	const nbsp = "\u00a0"
	many := append(topics(), news.Topic{Slug: "sport", Name: "Sport"})
	tests := []struct {
		name      string
		lang      news.Lang
		freq      news.Frequency
		topics    []news.Topic
		articles  []string // topic slug of each article
		want      string
		heading   string
		dayOfWeek int
	}{
		{"fr daily", news.French, news.Daily, topics(), []string{"politique", "afrique"}, "Politique, Afrique" + nbsp + ": l’essentiel du 29 novembre", "Votre sélection du jour — 29 novembre 2026", 0},
		{"fr reader order", news.French, news.Daily, topics(), []string{"afrique", "politique", "afrique"}, "Politique, Afrique" + nbsp + ": l’essentiel du 29 novembre", "", 0},
		{"fr weekly", news.French, news.Weekly, topics(), []string{"economie"}, "Économie" + nbsp + ": l’essentiel de la semaine (29 novembre)", "Votre sélection de la semaine — 29 novembre 2026", 0},
		{"en daily", news.English, news.Daily, topics(), []string{"afrique"}, "Afrique: the essentials for 29 November", "Your daily digest — 29 November 2026", 0},
		{"en weekly", news.English, news.Weekly, topics(), []string{"afrique"}, "Afrique: the week in brief (29 November)", "Your weekly digest — 29 November 2026", 0},
		{"too many topics", news.French, news.Daily, many, []string{"politique", "afrique", "economie", "sport"}, "L’essentiel du 29 novembre", "", 0},
		{"unknown topics", news.English, news.Daily, nil, []string{"x"}, "The essentials for 29 November", "", 0},
		{"unknown language", "de", news.Daily, topics(), []string{"afrique"}, "Afrique: the essentials for 29 November", "", 0},
		{"first of the month", news.French, news.Daily, topics(), []string{"afrique"}, "Afrique" + nbsp + ": l’essentiel du 1er décembre", "Votre sélection du jour — 1er décembre 2026", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := frenchDigest(len(tt.articles))
			d.Lang, d.Frequency, d.Topics = tt.lang, tt.freq, tt.topics
			d.Date = date.AddDate(0, 0, tt.dayOfWeek)
			for i, slug := range tt.articles {
				d.Articles[i].Topics = []string{slug}
			}
			e, err := c.Digest(d)
			if err != nil {
				t.Fatal(err)
			}
			if e.Subject != tt.want {
				t.Errorf("subject = %q, want %q", e.Subject, tt.want)
			}
			if tt.heading != "" && !strings.Contains(e.HTML, tt.heading) {
				t.Errorf("HTML lacks heading %q", tt.heading)
			}
			plain(t, e.Subject)
		})
	}
}

// plain fails when a subject looks like spam: shouting, "!!", line breaks.
func plain(t *testing.T, subject string) {
	t.Helper()
	if strings.ContainsAny(subject, "!\r\n") {
		t.Errorf("subject %q has ! or a line break", subject)
	}
	for w := range strings.FieldsSeq(subject) {
		upper := 0
		for _, r := range w {
			if unicode.IsUpper(r) {
				upper++
			}
		}
		if upper > 1 && upper == len([]rune(strings.Trim(w, ":,()"))) {
			t.Errorf("subject %q shouts %q", subject, w)
		}
	}
}

func TestConfirm(t *testing.T) {
	t.Parallel()
	c := setup(t)
	tests := []struct {
		lang  news.Lang
		freq  news.Frequency
		want  []string
		title string
	}{
		{news.French, news.Daily, []string{"Confirmer mon inscription", "chaque jour", "Politique, Afrique", "ignorez cet email", "rien ne vous sera envoyé", "copiez cette adresse"}, "Confirmez votre inscription à Le Crieur"},
		{news.English, news.Weekly, []string{"Confirm my subscription", "weekly", "Politique, Afrique", "ignore this email: nothing will be sent", "copy this address"}, "Confirm your subscription to Le Crieur"},
	}
	for _, tt := range tests {
		t.Run(string(tt.lang), func(t *testing.T) {
			t.Parallel()
			const link = "https://news.example.com/confirm/abc.def"
			e, err := c.Confirm(compose.ConfirmData{Lang: tt.lang, ConfirmURL: link, Topics: topics()[:2], Frequency: tt.freq})
			if err != nil {
				t.Fatal(err)
			}
			if e.Subject != tt.title {
				t.Errorf("subject = %q, want %q", e.Subject, tt.title)
			}
			plain(t, e.Subject)
			for _, w := range tt.want {
				if !strings.Contains(flat(e.HTML), w) || !strings.Contains(flat(e.Text), w) {
					t.Errorf("HTML or text lacks %q", w)
				}
			}
			if n := strings.Count(e.HTML, `href="`+link+`"`); n != 2 {
				t.Errorf("HTML links the confirmation URL %d times, want 2 (button and raw link)", n)
			}
			if !strings.Contains(e.HTML, ">"+link+"</a>") {
				t.Error("HTML does not show the raw link")
			}
			if !strings.Contains(e.Text, link) {
				t.Error("text lacks the link")
			}
			if strings.Contains(e.HTML, "unsubscribe") {
				t.Error("a confirmation has nothing to unsubscribe from")
			}
		})
	}
}

func TestAlert(t *testing.T) {
	t.Parallel()
	c := setup(t)
	d := compose.AlertData{Lang: news.French, Title: "Démission du Premier ministre", Body: "Le chef du gouvernement a remis sa démission.",
		URL: "https://news.example.com/politique/demission", PreferencesURL: "https://news.example.com/p/t", UnsubscribeURL: "https://news.example.com/u/t"}
	e, err := c.Alert(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Alerte\u00a0: Démission du Premier ministre"; e.Subject != want {
		t.Errorf("subject = %q, want %q", e.Subject, want)
	}
	d.Lang = news.English
	if e, err = c.Alert(d); err != nil {
		t.Fatal(err)
	}
	if want := "Breaking: Démission du Premier ministre"; e.Subject != want {
		t.Errorf("subject = %q, want %q", e.Subject, want)
	}
	for _, w := range []string{d.URL, d.PreferencesURL, d.UnsubscribeURL, d.Body, "Read the story"} {
		if !strings.Contains(e.HTML, w) || !strings.Contains(e.Text, w) {
			t.Errorf("HTML or text lacks %q", w)
		}
	}
	d.Title = "Une\r\nBcc: x@example.com"
	if e, err = c.Alert(d); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(e.Subject, "\r\n") {
		t.Errorf("subject %q carries a line break", e.Subject)
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	c := setup(t)
	noArticles := frenchDigest(1)
	noArticles.Articles = nil
	noUnsub := frenchDigest(1)
	noUnsub.UnsubscribeURL = ""
	jsPrefs := frenchDigest(1)
	jsPrefs.PreferencesURL = "javascript:alert(1)"
	okLinks := compose.AlertData{Title: "T", PreferencesURL: "https://x.example/p", UnsubscribeURL: "https://x.example/u"}
	noTitle := okLinks
	noTitle.Title = " \n "
	noAlertUnsub := okLinks
	noAlertUnsub.UnsubscribeURL = "mailto:x@example.com"
	tests := []struct {
		name string
		err  func() error
	}{
		{"digest without articles", func() error { _, err := c.Digest(noArticles); return err }},
		{"digest without unsubscribe link", func() error { _, err := c.Digest(noUnsub); return err }},
		{"digest with a javascript preferences link", func() error { _, err := c.Digest(jsPrefs); return err }},
		{"confirmation without link", func() error { _, err := c.Confirm(compose.ConfirmData{Lang: news.French}); return err }},
		{"confirmation with a javascript link", func() error {
			_, err := c.Confirm(compose.ConfirmData{ConfirmURL: "javascript:x"})
			return err
		}},
		{"alert without title", func() error { _, err := c.Alert(noTitle); return err }},
		{"alert with a mailto unsubscribe link", func() error { _, err := c.Alert(noAlertUnsub); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.err(); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestT(t *testing.T) {
	t.Parallel()
	c := setup(t)
	tests := []struct {
		lang news.Lang
		key  string
		args []any
		want string
	}{
		{news.French, "page.unsubscribe.button", nil, "Me désabonner"},
		{news.English, "page.unsubscribe.button", nil, "Unsubscribe me"},
		{"de", "page.unsubscribe.button", nil, "Unsubscribe me"},
		{news.French, "page.subscribe.title", []any{"Le Crieur"}, "Inscription à la newsletter — Le Crieur"},
		{news.French, "no.such.key", nil, "no.such.key"},
		{news.French, "lang.fr", nil, "Français"},
	}
	for _, tt := range tests {
		if got := c.T(tt.lang, tt.key, tt.args...); got != tt.want {
			t.Errorf("T(%s, %s) = %q, want %q", tt.lang, tt.key, got, tt.want)
		}
	}
	plural := []struct {
		lang news.Lang
		n    int
		want string
	}{
		{news.French, 0, "0 autre article à lire sur Le Crieur"},
		{news.French, 1, "1 autre article à lire sur Le Crieur"},
		{news.French, 2, "2 autres articles à lire sur Le Crieur"},
		{news.English, 0, "0 more articles on Le Crieur"},
		{news.English, 1, "1 more article on Le Crieur"},
	}
	for _, tt := range plural {
		if got := c.TN(tt.lang, "email.digest.more", tt.n, "Le Crieur"); got != tt.want {
			t.Errorf("TN(%s, %d) = %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
}

func TestDate(t *testing.T) {
	t.Parallel()
	c := setup(t)
	tests := []struct {
		lang news.Lang
		m    int
		d    int
		want string
	}{
		{news.French, 11, 29, "29 novembre 2026"},
		{news.French, 12, 1, "1er décembre 2026"},
		{news.French, 2, 3, "3 février 2026"},
		{news.French, 8, 15, "15 août 2026"},
		{news.English, 11, 29, "29 November 2026"},
		{news.English, 12, 1, "1 December 2026"},
	}
	for _, tt := range tests {
		d := date.AddDate(0, tt.m-11, tt.d-29)
		if got := c.Date(tt.lang, d); got != tt.want {
			t.Errorf("Date(%s, %s) = %q, want %q", tt.lang, d.Format("2006-01-02"), got, tt.want)
		}
	}
}

// TestTextSaysWhatHTMLSays keeps SpamAssassin's MPART_ALT_DIFF away: the
// words of the HTML part must all be in the text part.
func TestTextSaysWhatHTMLSays(t *testing.T) {
	t.Parallel()
	c := setup(t)
	confirm, err := c.Confirm(compose.ConfirmData{Lang: news.French, ConfirmURL: "https://news.example.com/confirm/t", Topics: topics(), PreferencesURL: "https://news.example.com/p/t"})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := c.Digest(frenchDigest(25))
	if err != nil {
		t.Fatal(err)
	}
	alert, err := c.Alert(compose.AlertData{Lang: news.English, Title: "Breaking", Body: "Some news.\n\nMore news.", URL: "https://x.example/a", PreferencesURL: "https://x.example/p", UnsubscribeURL: "https://x.example/u"})
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]compose.Email{"confirm": confirm, "digest": digest, "alert": alert} {
		htmlWords := words(visibleText(e.HTML))
		textWords := make(map[string]bool)
		for _, w := range words(e.Text) {
			textWords[w] = true
		}
		var missing []string
		for _, w := range htmlWords {
			if !textWords[w] {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: words of the HTML part missing from the text part: %q", name, missing)
		}
	}
}

var (
	tagRE   = regexp.MustCompile(`(?s)<head.*?</head>|<div class="preheader".*?</div>|<[^>]*>`)
	wordsRE = regexp.MustCompile(`[\p{L}\p{N}]+`)
)

// flat turns line breaks and no-break spaces into spaces, so that a
// wrapped text part or a French string can be searched.
func flat(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\n' || r == '\u00a0' }), " ")
}

// visibleText is the text a reader sees in an HTML part.
func visibleText(h string) string { return html.UnescapeString(tagRE.ReplaceAllString(h, " ")) }

// words splits s into lower-case words.
func words(s string) []string { return wordsRE.FindAllString(strings.ToLower(s), -1) }

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := setup(t)
	want, err := c.Digest(frenchDigest(5))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := c.Digest(frenchDigest(5))
				if err != nil || got != want {
					t.Errorf("concurrent render differs (err %v)", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestManyArticles renders more articles than the composer keeps rendered,
// then the first ones again: they must come out as a fresh composer
// renders them.
func TestManyArticles(t *testing.T) {
	t.Parallel()
	c := setup(t)
	first := frenchDigest(25)
	want, err := setup(t).Digest(first)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		d := frenchDigest(25)
		for j := range d.Articles {
			d.Articles[j].Title += " " + strconv.Itoa(i)
		}
		if _, err := c.Digest(d); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if got, err := c.Digest(first); err != nil || got != want {
				t.Fatalf("after %d digests the first renders differently (err %v)", i, err)
			}
		}
	}
	if got, err := c.Digest(first); err != nil || got != want {
		t.Fatalf("the first digest renders differently (err %v)", err)
	}
}

func TestNewFailsClearly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(fstest.MapFS)
		site   compose.Site
		want   string
	}{
		{"missing French string", func(m fstest.MapFS) { deleteKey(t, m, "i18n/fr.json", "email.confirm.button") }, site, `"email.confirm.button" missing from i18n/fr.json`},
		{"string only in French", func(m fstest.MapFS) { deleteKey(t, m, "i18n/en.json", "page.error.title") }, site, `"page.error.title" missing from i18n/en.json`},
		{"string used by Go missing everywhere", func(m fstest.MapFS) {
			deleteKey(t, m, "i18n/en.json", "email.digest.by")
			deleteKey(t, m, "i18n/fr.json", "email.digest.by")
		}, site, `"email.digest.by" missing`},
		{"string used by a template missing everywhere", func(m fstest.MapFS) {
			deleteKey(t, m, "i18n/en.json", "email.alert.read")
			deleteKey(t, m, "i18n/fr.json", "email.alert.read")
		}, site, `email/alert.html uses string "email.alert.read"`},
		{"arguments differ", func(m fstest.MapFS) {
			setKey(t, m, "i18n/fr.json", "email.digest.by", "Par %[1]s le %[2]s")
		}, site, `"email.digest.by" takes`},
		{"missing template", func(m fstest.MapFS) { delete(m, "email/alert.txt") }, site, "alert.txt"},
		{"missing language", func(m fstest.MapFS) { delete(m, "i18n/fr.json") }, site, "fr.json"},
		{"bad JSON", func(m fstest.MapFS) { m["i18n/en.json"] = &fstest.MapFile{Data: []byte("{")} }, site, "en.json"},
		{"bad template", func(m fstest.MapFS) {
			m["email/confirm.html"] = &fstest.MapFile{Data: []byte("<tr><td>{{.Nope</td></tr>")}
		}, site, "confirm"},
		{"unknown field", func(m fstest.MapFS) {
			m["email/confirm.html"] = &fstest.MapFile{Data: []byte("<tr><td>{{.Body.Nope}}</td></tr>")}
		}, site, "Nope"},
		{"layout without body", func(m fstest.MapFS) { m["email/layout.html"] = &fstest.MapFile{Data: []byte("<html></html>")} }, site, `{{template "body" .}}`},
		{"no site name", func(fstest.MapFS) {}, compose.Site{URL: "https://x.example"}, "site name"},
		{"javascript site URL", func(fstest.MapFS) {}, compose.Site{Name: "X", URL: "javascript:x"}, "site URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := copyFS(t)
			tt.change(m)
			_, err := compose.New(m, tt.site)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
	t.Run("wrapped fs error", func(t *testing.T) {
		t.Parallel()
		m := copyFS(t)
		delete(m, "email/digest.html")
		if _, err := compose.New(m, site); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
	})
}

// copyFS copies templates.FS into a MapFS a test can change.
func copyFS(tb testing.TB) fstest.MapFS {
	tb.Helper()
	m := fstest.MapFS{}
	for _, dir := range []string{"email", "i18n"} {
		entries, err := templates.FS.ReadDir(dir)
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range entries {
			b, err := templates.FS.ReadFile(dir + "/" + e.Name())
			if err != nil {
				tb.Fatal(err)
			}
			m[dir+"/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	return m
}
