package i18n_test

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/crieur/crieur/internal/i18n"
	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/templates"
)

func TestCatalog(t *testing.T) {
	t.Parallel()
	c, err := i18n.Load(templates.FS, []string{"date.long"})
	if err != nil {
		t.Fatal(err)
	}
	dec1 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct{ name, got, want string }{
		{"French date", c.Date(news.French, dec1), "1er décembre 2026"},
		{"English date", c.Date(news.English, dec1), "1 December 2026"},
		{"unknown language falls back to English", c.Date("de", dec1), "1 December 2026"},
		{"French: 0 is singular", c.TN(news.French, "email.digest.more", 0, "Le Journal"), "0 autre article à lire sur Le Journal"},
		{"English: 0 is plural", c.TN(news.English, "email.digest.more", 0, "The Paper"), "0 more articles on The Paper"},
		{"unknown key shows the key", c.T(news.French, "no.such.key"), "no.such.key"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if _, err := c.Language(news.French).Strict("no.such.key"); err == nil {
		t.Error("Strict accepted an unknown key")
	}
}

func TestLoadNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"i18n/en.json": {Data: []byte(`{"a": "%[1]s", "b": "B"}`)},
		"i18n/fr.json": {Data: []byte(`{"a": "%[1]d"}`)},
	}
	_, err := i18n.Load(fsys, []string{"c"})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{`"b" missing from i18n/fr.json`, `"c" missing from i18n/en.json`, `"a" takes`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
