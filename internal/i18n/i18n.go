// Package i18n owns crieur's message catalogue: the translated strings of
// i18n/LANG.json (one flat JSON object per language), loaded and checked
// once at start, and the language rules that go with them (plurals, long
// and short dates). Emails (compose) and pages (web) both look their
// strings up here, so a reader sees the same words in both.
//
// It imports only news: no templates are rendered and no I/O is done
// after Load.
package i18n

import (
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"time"

	"github.com/crieur/crieur/internal/news"
)

// Languages are the languages crieur has strings for, English first: it is
// the fallback.
func Languages() []news.Lang { return []news.Lang{news.English, news.French} }

// Catalog holds the strings of every language. Build it with Load; it is
// read-only after, so safe for concurrent use.
type Catalog struct {
	langs map[news.Lang]*Language
	// fallback is English, used for any other language.
	fallback *Language
}

// Language is the strings of one language.
type Language struct {
	lang news.Lang
	cat  catalog
}

// Load reads i18n/LANG.json of fsys for each of Languages and checks them:
// every language has every key the others have and every key in required,
// and a string takes the same arguments in every language. Errors name the
// file and the key.
func Load(fsys fs.FS, required []string) (*Catalog, error) {
	cats, err := loadCatalogs(fsys, Languages())
	if err != nil {
		return nil, err
	}
	if err := checkCatalogs(cats, required); err != nil {
		return nil, err
	}
	c := &Catalog{langs: make(map[news.Lang]*Language, len(cats))}
	for lang, cat := range cats {
		c.langs[lang] = &Language{lang: lang, cat: cat}
	}
	c.fallback = c.langs[news.English]
	return c, nil
}

// Language returns the strings of lang, English for an unknown language.
func (c *Catalog) Language(lang news.Lang) *Language {
	if l, ok := c.langs[lang]; ok {
		return l
	}
	return c.fallback
}

// catalog maps a key such as "email.digest.subject_daily" to its string in
// one language. A string takes fmt verbs; translations number them
// (%[1]s) so that each language can put them in its own order.
type catalog map[string]string

// Lang is the language l holds.
func (l *Language) Lang() news.Lang { return l.lang }

// Has reports whether l has a string for key.
func (l *Language) Has(key string) bool {
	_, ok := l.cat[key]
	return ok
}

// loadCatalogs reads i18n/LANG.json for each language: one flat JSON
// object of strings.
func loadCatalogs(fsys fs.FS, langs []news.Lang) (map[news.Lang]catalog, error) {
	cats := make(map[news.Lang]catalog, len(langs))
	for _, lang := range langs {
		name := "i18n/" + string(lang) + ".json"
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("i18n: read strings: %w", err)
		}
		var cat catalog
		if err := json.Unmarshal(b, &cat); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		cats[lang] = cat
	}
	return cats, nil
}

// checkCatalogs makes sure every language has every key the others have
// and every key in required, and that a string takes the same arguments
// in every language.
func checkCatalogs(cats map[news.Lang]catalog, required []string) error {
	all := make(map[string]bool)
	for _, cat := range cats {
		for k := range cat {
			all[k] = true
		}
	}
	for _, k := range required {
		all[k] = true
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	langs := make([]news.Lang, 0, len(cats))
	for l := range cats {
		langs = append(langs, l)
	}
	slices.Sort(langs)

	var problems []string
	for _, k := range keys {
		var sig string
		var sigLang news.Lang
		for _, l := range langs {
			s, ok := cats[l][k]
			if !ok {
				problems = append(problems, fmt.Sprintf("%q missing from i18n/%s.json", k, l))
				continue
			}
			got := verbs(s)
			if sigLang == "" {
				sig, sigLang = got, l
			} else if got != sig {
				problems = append(problems, fmt.Sprintf("%q takes %s in %s but %s in %s", k, sig, sigLang, got, l))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("i18n: strings: %s", strings.Join(problems, "; "))
	}
	return nil
}

// verbs describes the arguments a format string takes, such as
// "[1:s 2:d]", whatever their order in the string.
func verbs(format string) string {
	var used []string
	arg := 1
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			continue
		}
		// Flags, width and precision are not arguments here.
		for i < len(format) && strings.IndexByte("+-# 0123456789.", format[i]) >= 0 {
			i++
		}
		if i < len(format) && format[i] == '[' {
			end := strings.IndexByte(format[i:], ']')
			if end < 0 {
				return "bad"
			}
			n, err := strconv.Atoi(format[i+1 : i+end])
			if err != nil {
				return "bad"
			}
			arg = n
			i += end + 1
		}
		if i >= len(format) {
			return "bad"
		}
		used = append(used, fmt.Sprintf("%d:%c", arg, format[i]))
		arg++
	}
	slices.Sort(used)
	used = slices.Compact(used)
	return "[" + strings.Join(used, " ") + "]"
}

// T returns the string key in lang, formatted with args as by fmt.Sprintf
// when there are any. An unknown language falls back to English, a key
// missing in lang to its English string, and an unknown key to the key
// itself, so a page never shows an empty label. Keys are namespaced:
// "email.…" for emails, "page.…" for the reader pages, "date.…",
// "lang.…" and "frequency.…" for both.
func (c *Catalog) T(lang news.Lang, key string, args ...any) string {
	s, ok := c.Language(lang).cat[key]
	if !ok {
		if s, ok = c.fallback.cat[key]; !ok {
			return key
		}
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// TN is T for a string that depends on a count n: it looks up key+".one"
// or key+".other" (in French, 0 and 1 take ".one"; in English only 1 does)
// and formats it with n as the first argument, then args.
func (c *Catalog) TN(lang news.Lang, key string, n int, args ...any) string {
	l := c.Language(lang)
	return c.T(l.lang, l.PluralKey(key, n), append([]any{n}, args...)...)
}

// PluralKey returns key+".one" or key+".other" for a count n in l.
func (l *Language) PluralKey(key string, n int) string {
	one := n == 1
	if l.lang == news.French {
		one = n == 0 || n == 1
	}
	if one {
		return key + ".one"
	}
	return key + ".other"
}

// Date writes t as a long date in lang, with month names from i18n/:
// "29 novembre 2026", "1er décembre 2026", "29 November 2026".
func (c *Catalog) Date(lang news.Lang, t time.Time) string {
	return c.Language(lang).Date(t, true)
}

// Date writes t as "29 novembre 2026" (long) or "29 novembre".
func (l *Language) Date(t time.Time, long bool) string {
	day := strconv.Itoa(t.Day())
	if t.Day() == 1 {
		day = l.cat["date.day_1"]
	}
	month := l.cat["date.month."+strconv.Itoa(int(t.Month()))]
	if long {
		return fmt.Sprintf(l.cat["date.long"], day, month, t.Year())
	}
	return fmt.Sprintf(l.cat["date.short"], day, month)
}

// S returns the string key in l, formatted with args when there are any.
// The caller passes only keys it gave Load as required.
func (l *Language) S(key string, args ...any) string {
	if len(args) == 0 {
		return l.cat[key]
	}
	return fmt.Sprintf(l.cat[key], args...)
}

// Strict is the templates' "t": like S, but an unknown key is an error,
// so a template can never show a raw key.
func (l *Language) Strict(key string, args ...any) (string, error) {
	s, ok := l.cat[key]
	if !ok {
		return "", fmt.Errorf("no string %q in %s", key, l.lang)
	}
	if len(args) == 0 {
		return s, nil
	}
	return fmt.Sprintf(s, args...), nil
}

// HTMLKeys lists the string keys the templates of t look up with
// literal keys: {{t "key" …}}.
func HTMLKeys(t *htmltemplate.Template) []string {
	var keys []string
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			keys = appendKeys(keys, tt.Tree.Root)
		}
	}
	return keys
}

// TextKeys is HTMLKeys for text templates.
func TextKeys(t *texttemplate.Template) []string {
	var keys []string
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			keys = appendKeys(keys, tt.Tree.Root)
		}
	}
	return keys
}

// appendKeys walks a template's parse tree for calls of t with a literal
// key.
func appendKeys(keys []string, n parse.Node) []string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return keys
		}
		for _, c := range n.Nodes {
			keys = appendKeys(keys, c)
		}
	case *parse.ActionNode:
		keys = appendKeys(keys, n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return keys
		}
		for _, c := range n.Cmds {
			keys = appendKeys(keys, c)
		}
	case *parse.CommandNode:
		if len(n.Args) >= 2 {
			if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "t" {
				if s, ok := n.Args[1].(*parse.StringNode); ok {
					keys = append(keys, s.Text)
				}
			}
		}
		for _, a := range n.Args {
			keys = appendKeys(keys, a)
		}
	case *parse.IfNode:
		keys = appendBranch(keys, &n.BranchNode)
	case *parse.RangeNode:
		keys = appendBranch(keys, &n.BranchNode)
	case *parse.WithNode:
		keys = appendBranch(keys, &n.BranchNode)
	case *parse.TemplateNode:
		keys = appendKeys(keys, n.Pipe)
	}
	return keys
}

// appendBranch walks the pipeline and both lists of an if, range or with.
func appendBranch(keys []string, b *parse.BranchNode) []string {
	keys = appendKeys(keys, b.Pipe)
	keys = appendKeys(keys, b.List)
	return appendKeys(keys, b.ElseList)
}
