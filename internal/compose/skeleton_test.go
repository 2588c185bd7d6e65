package compose_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/news"
)

// A digest put together from its cached skeleton and the reader's links
// is the digest the templates render for that reader (Digest), byte for
// byte, for many readers: every language, both frequencies, any set of
// topics and articles, links plain or not (these take the templates' path).
func TestDigestSkeletonMatchesTemplates(t *testing.T) {
	t.Parallel()
	c := setup(t)
	all := articles(12, 160)
	all[3].Title = "Un titre avec\nun saut de ligne et <b>du HTML</b> & des « guillemets »"
	all[5].Summary = ""
	all[7].URL = "javascript:alert(1)"
	rng := rand.New(rand.NewPCG(7, 9))
	langs := []news.Lang{news.French, news.English, news.Lang("de")}
	bases := []string{"https://lettres.news.example.com", "https://news.example/x?a=1&b=2", "https://news.example/%C3%A9t%C3%A9"}
	shared := 0
	for i := range 600 {
		ts := topics()
		rng.Shuffle(len(ts), func(a, b int) { ts[a], ts[b] = ts[b], ts[a] })
		ts = ts[:rng.IntN(len(ts)+1)]
		arts := make([]news.Article, 0, 6)
		for _, k := range rng.Perm(len(all))[:1+rng.IntN(6)] {
			arts = append(arts, all[k])
		}
		base := bases[0]
		if i%10 == 9 {
			base = bases[rng.IntN(len(bases))]
		}
		d := compose.DigestData{
			Lang:           langs[rng.IntN(len(langs))],
			Frequency:      []news.Frequency{news.Daily, news.Weekly}[rng.IntN(2)],
			Articles:       arts,
			More:           rng.IntN(3),
			Topics:         ts,
			PreferencesURL: fmt.Sprintf("%s/preferences/AQ%dxYz-_%d", base, i, rng.Int64()),
			UnsubscribeURL: fmt.Sprintf("%s/unsubscribe/AQ%dxYz-_%d", base, i, rng.Int64()),
			Date:           date,
		}
		want, err := c.Digest(d) // the templates alone
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.DigestShared(d)
		if err != nil {
			t.Fatal(err)
		}
		text, html := got.Text, got.HTML
		if got.TextHead != nil {
			text = string(bytes.Join(got.TextHead.Memo(raw), nil)) + text
			shared++
		}
		if got.HTMLHead != nil {
			html = string(bytes.Join(got.HTMLHead.Memo(raw), nil)) + html
		}
		if text != want.Text || html != want.HTML || got.Subject != want.Subject || got.Preheader != want.Preheader {
			t.Fatalf("reader %d: skeleton digest differs from the templates'\n got %q\n%q\nwant %+v", i, text, html, want)
		}
	}
	if shared < 500 {
		t.Errorf("only %d of 600 digests shared a head: the skeletons are not used", shared)
	}
}

// A digest's links never reach another reader's copy: two readers of the
// same digest get their own links only.
func TestDigestSkeletonKeepsReadersApart(t *testing.T) {
	t.Parallel()
	c := setup(t)
	d := frenchDigest(3)
	a, b := d, d
	a.PreferencesURL, a.UnsubscribeURL = "https://news.example.com/preferences/AAA", "https://news.example.com/unsubscribe/AAA"
	b.PreferencesURL, b.UnsubscribeURL = "https://news.example.com/preferences/BBB", "https://news.example.com/unsubscribe/BBB"
	ea, err := c.DigestShared(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := c.DigestShared(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{ea.Text, ea.HTML} {
		if !strings.Contains(s, "/preferences/AAA") || !strings.Contains(s, "/unsubscribe/AAA") || strings.Contains(s, "BBB") || strings.Contains(s, "crieur.invalid") {
			t.Errorf("reader A's digest holds the wrong links:\n%s", s)
		}
	}
	for _, s := range []string{eb.Text, eb.HTML} {
		if !strings.Contains(s, "/preferences/BBB") || strings.Contains(s, "AAA") || strings.Contains(s, "crieur.invalid") {
			t.Errorf("reader B's digest holds the wrong links:\n%s", s)
		}
	}
}

// raw is the identity encoding, for Head.Memo.
func raw(s string) [][]byte { return [][]byte{[]byte(s)} }
