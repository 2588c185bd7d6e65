package feed_test

import (
	"errors"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/crieur/crieur/internal/feed"
)

// TestParseRefusesEntities: a document declaring entities is refused whole
// (ErrDTD); an item whose text holds an entity nobody expanded is dropped
// and its neighbours kept; a DOCTYPE naming only an external DTD, and HTML
// entity names the publisher wrote as text, are read as before.
func TestParseRefusesEntities(t *testing.T) {
	t.Parallel()
	for _, tt := range hostile() {
		if tt.name != "billion laughs" && tt.name != "external entity" {
			continue
		}
		items, err := feed.Parse(strings.NewReader(tt.doc), limit)
		if !errors.Is(err, feed.ErrDTD) || items != nil {
			t.Errorf("%s: %d items, err %v; want ErrDTD", tt.name, len(items), err)
		}
	}
	refused := []string{
		`<!DOCTYPE rss [<!ATTLIST item x CDATA "y">]>`,
		`<!doctype rss [ ]>`,
		`<!ENTITY lol "lol">`,
	}
	for _, head := range refused {
		doc := head + `<rss version="2.0"><channel><item><title>t</title><link>https://a.example/</link></item></channel></rss>`
		if _, err := feed.Parse(strings.NewReader(doc), limit); !errors.Is(err, feed.ErrDTD) {
			t.Errorf("%s: err %v, want ErrDTD", head, err)
		}
	}

	netscape := `<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">` +
		`<rss version="0.91"><channel><title>c</title><link>https://a.example/</link><item><title>Caf&#233; &amp; th&eacute;</title><link>https://a.example/1</link></item></channel></rss>`
	items, err := feed.Parse(strings.NewReader(netscape), limit)
	if err != nil || len(items) != 1 || items[0].Title != "Café & thé" {
		t.Errorf("RSS 0.91 with its external DTD: %+v %v", items, err)
	}

	mixed := `<rss version="2.0"><channel><title>c</title><link>https://a.example/</link>` +
		`<item><title>&lol9;</title><link>https://attacker.example/1</link><category>afrique</category></item>` +
		`<item><title>Titre</title><description>&lt;p&gt;&amp;xxe;&lt;/p&gt;</description><link>https://attacker.example/2</link></item>` +
		`<item><title>Bien</title><link>https://a.example/2</link><category>&undefined;</category></item>` +
		`<item><title>Écrire &amp;amp;nbsp; en HTML</title><description><![CDATA[<p>AT&T et Tom & Jerry</p>]]></description><link>https://a.example/3</link></item>` +
		`</channel></rss>`
	items, err = feed.Parse(strings.NewReader(mixed), limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].URL != "https://a.example/3" || items[0].Title != "Écrire &nbsp; en HTML" || items[0].Summary != "AT&T et Tom & Jerry" {
		t.Fatalf("items %+v, want only the last one", items)
	}
}

// leftEntity matches a named entity reference that HTML does not define.
var leftEntity = regexp.MustCompile(`&[A-Za-z_:][A-Za-z0-9_.:-]{0,63};`)

// unexpanded reports whether s holds an entity reference HTML does not
// define: what FuzzParse must never see in an item.
func unexpanded(s string) bool {
	for _, ref := range leftEntity.FindAllString(s, -1) {
		if html.UnescapeString(ref) == ref {
			return true
		}
	}
	return false
}
