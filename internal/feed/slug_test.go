package feed_test

import (
	"slices"
	"testing"

	"github.com/crieur/crieur/internal/feed"
	"github.com/crieur/crieur/internal/news"
)

func TestSlug(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Économie", "economie"},
		{"ÉCONOMIE", "economie"},
		{"economie", "economie"},
		{"Afrique ", "afrique"},
		{"  Afrique\t\n", "afrique"},
		{"Politique étrangère", "politique-etrangere"},
		{"Politique  —  étrangère", "politique-etrangere"},
		{"Sciences & Tech", "sciences-tech"},
		{"Sciences &amp; Tech", "sciences-amp-tech"}, // Slug sees text, not HTML
		{"Cœur d’Afrique", "coeur-d-afrique"},
		{"Noël", "noel"},
		{"Ça bouge", "ca-bouge"},
		{"Straße", "strasse"},
		{"Côte d'Ivoire", "cote-d-ivoire"},
		{"COVID-19", "covid-19"},
		{"--a--b--", "a-b"},
		{"ﬁnance", "finance"}, // ligature, NFKD
		{"Ｆｏｏｔ", "foot"},      // full width
		{"Sport²", "sport2"},
		{"", ""},
		{"   ", ""},
		{"«\u00a0»", ""},
		{"الاقتصاد", ""},
		{"\xff\xfeabc", "abc"},
	}
	for _, tt := range tests {
		if got := feed.Slug(tt.in); got != tt.want {
			t.Errorf("Slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMapTopics(t *testing.T) {
	t.Parallel()
	topics := []news.Topic{
		{Slug: "economie", Name: "Économie"},
		{Slug: "afrique", Name: "Afrique"},
		{Slug: "politique", Name: "Politique"},
		{Slug: "monde", Name: "Politique étrangère"},
		{Slug: "tech", Name: "Sciences & Tech"},
		{Slug: "", Name: "Sans slug"},
	}
	tests := []struct {
		name       string
		categories []string
		want       []string
	}{
		{"none", nil, []string{}},
		{"unknown", []string{"Culture", "Non classé"}, []string{}},
		{"by name", []string{"Économie"}, []string{"economie"}},
		{"by slug", []string{"economie"}, []string{"economie"}},
		{"case and accents", []string{"ÉCONOMIE", "AFRIQUE "}, []string{"economie", "afrique"}},
		{"slug differs from name", []string{"Politique étrangère"}, []string{"monde"}},
		{"slug itself", []string{"Monde"}, []string{"monde"}},
		{"ampersand", []string{"sciences & tech"}, []string{"tech"}},
		{"order of categories", []string{"Afrique", "Politique", "Économie"}, []string{"afrique", "politique", "economie"}},
		{"deduplicated", []string{"Afrique", "afrique", "AFRIQUE", "Économie", "economie"}, []string{"afrique", "economie"}},
		{"empty category", []string{"", " ", "—"}, []string{}},
		{"topic without slug never matches", []string{"Sans slug"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := feed.MapTopics(tt.categories, topics)
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("MapTopics(%q) = %#v, want %q", tt.categories, got, tt.want)
			}
		})
	}
	if got := feed.MapTopics([]string{"Afrique"}, nil); got == nil || len(got) != 0 {
		t.Errorf("no topics: %#v", got)
	}
}
