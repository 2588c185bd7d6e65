package compose_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/crieur/crieur/internal/compose"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/templates"
)

// site is the publication every test renders for.
var site = compose.Site{
	Name:    "Le Crieur",
	URL:     "https://news.example.com",
	ListID:  "digest.news.example.com",
	LogoURL: "",
}

// setup returns a Composer over the real templates.
func setup(tb testing.TB) *compose.Composer {
	tb.Helper()
	c, err := compose.New(templates.FS, site)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// date is the fixed date of every rendered digest.
var date = time.Date(2026, time.November, 29, 7, 0, 0, 0, time.FixedZone("CET", 3600))

// topics are the publisher's sections.
func topics() []news.Topic {
	return []news.Topic{
		{ID: 1, Slug: "politique", Name: "Politique"},
		{ID: 2, Slug: "afrique", Name: "Afrique"},
		{ID: 3, Slug: "economie", Name: "Économie"},
	}
}

// articles returns n articles, newest first, each with a summary of about
// summaryLen characters.
func articles(n, summaryLen int) []news.Article {
	sections := []string{"politique", "afrique", "economie"}
	authors := []string{"Awa Diallo", "", "Jean-Marc Lefèvre"}
	out := make([]news.Article, n)
	for i := range out {
		summary := fmt.Sprintf("Résumé de l’article %d : les négociations reprennent à l’Assemblée après une semaine de tensions.", i+1)
		for len(summary) < summaryLen {
			summary += " Les élus de la majorité et de l’opposition se retrouvent mardi pour un nouveau tour de discussions."
		}
		if summaryLen > 0 && len(summary) > summaryLen {
			summary = strings.TrimSpace(summary[:summaryLen])
			for !isValidEnd(summary) {
				summary = summary[:len(summary)-1]
			}
		}
		a := news.Article{
			ID:          int64(i + 1),
			URL:         fmt.Sprintf("https://news.example.com/%s/2026/11/29/article-%d?utm_source=digest&utm_medium=email", sections[i%3], i+1),
			Title:       fmt.Sprintf("Titre numéro %d : un débat « historique » sur le budget", i+1),
			Summary:     summary,
			Author:      authors[i%3],
			Topics:      []string{sections[i%3]},
			PublishedAt: date.Add(-time.Duration(i) * time.Hour),
		}
		if i%2 == 0 {
			a.ImageURL = fmt.Sprintf("https://img.news.example.com/2026/11/%d.jpg", i+1)
		}
		out[i] = a
	}
	return out
}

// isValidEnd reports whether s does not end inside a UTF-8 sequence.
func isValidEnd(s string) bool {
	return s == "" || s[len(s)-1] < 0x80 || strings.ToValidUTF8(s, "\uFFFD") == s
}

// frenchDigest is a daily French digest of n articles.
func frenchDigest(n int) compose.DigestData {
	return compose.DigestData{
		Lang:           news.French,
		Frequency:      news.Daily,
		Articles:       articles(n, 160),
		More:           4,
		Topics:         topics()[:2],
		PreferencesURL: "https://news.example.com/preferences/tok.en-signe",
		UnsubscribeURL: "https://news.example.com/unsubscribe/tok.en-signe",
		Date:           date,
	}
}

// deleteKey removes a string from a catalog of m.
func deleteKey(tb testing.TB, m fstest.MapFS, name, key string) {
	tb.Helper()
	editCatalog(tb, m, name, func(cat map[string]string) { delete(cat, key) })
}

// setKey sets a string of a catalog of m.
func setKey(tb testing.TB, m fstest.MapFS, name, key, value string) {
	tb.Helper()
	editCatalog(tb, m, name, func(cat map[string]string) { cat[key] = value })
}

// editCatalog rewrites the catalog name of m through edit.
func editCatalog(tb testing.TB, m fstest.MapFS, name string, edit func(map[string]string)) {
	tb.Helper()
	var cat map[string]string
	if err := json.Unmarshal(m[name].Data, &cat); err != nil {
		tb.Fatal(err)
	}
	edit(cat)
	b, err := json.Marshal(cat)
	if err != nil {
		tb.Fatal(err)
	}
	m[name] = &fstest.MapFile{Data: b}
}
