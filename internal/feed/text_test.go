package feed_test

import (
	"testing"

	"github.com/crieur/crieur/internal/feed"
)

func TestPlainText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		// What WordPress's REST API sends.
		{"L&apos;État &amp; moi", "L'État & moi"},
		{"<p>Le <strong>gouvernement</strong> a présenté&nbsp;son budget&hellip;</p>", "Le gouvernement a présenté\u00a0son budget…"},
		{"<p>Un</p><p>deux</p>\n\n<ul><li>trois</li></ul>", "Un deux trois"},
		{"Titre<script>alert(1)</script> propre", "Titre propre"},
		{"  espaces \t et\n lignes  ", "espaces et lignes"},
		{"Tom &amp;amp; Jerry", "Tom &amp; Jerry"}, // decoded once
		// Plain text that holds a "<" or "&" which is not markup.
		{"Tom & Jerry <3", "Tom & Jerry <3"},
		{"AT&T, R&D, Q&A", "AT&T, R&D, Q&A"},
		{"5 < 6 et 7 > 6", "5 < 6 et 7 > 6"},
		{"x<1 et y>2", "x<1 et y>2"},
		{"Si x <y alors", "Si x <y alors"},
		{"Jean Dupont <jean@journal.example>", "Jean Dupont <jean@journal.example>"},
		{"a <y z> b", "a <y z> b"},
		// Markup editors leave in content is still markup.
		{"Mot<o:p></o:p> suivant", "Mot suivant"},
		{"<my-widget data-x=1>texte</my-widget>", "texte"},
		{`Coupé <a href="https://a.exam`, "Coupé"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := feed.PlainText(tt.in); got != tt.want {
			t.Errorf("PlainText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
