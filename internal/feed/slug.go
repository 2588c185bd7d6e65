package feed

import (
	"slices"
	"strings"
	"unicode"

	"github.com/crieur/crieur/internal/news"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Slug normalises s for comparing a feed category with a topic: lower case,
// accents removed, every run of other characters turned into one hyphen,
// no hyphen at either end. "Politique étrangère" gives "politique-etrangere",
// "Sciences & Tech" gives "sciences-tech". The result holds only [a-z0-9-]
// and Slug(Slug(s)) == Slug(s). Text with no Latin letter or digit gives "".
func Slug(s string) string {
	t := transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)))
	folded, _, err := transform.String(t, strings.ToLower(s))
	if err != nil {
		folded = strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(folded))
	dash := false
	for _, r := range folded {
		word := latin(unicode.ToLower(r))
		if word == "" {
			dash = true
			continue
		}
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteString(word)
	}
	return b.String()
}

// TopicIndex finds the topic a category names: one whose slug equals the
// category's Slug, or whose name's Slug does, so "ÉCONOMIE", "economie"
// and "Économie " all name the topic economie. Build it once for many
// lookups.
type TopicIndex struct {
	bySlug map[string]string // Slug of a slug or name → topic slug
}

// NewTopicIndex indexes topics.
func NewTopicIndex(topics []news.Topic) *TopicIndex {
	x := &TopicIndex{bySlug: make(map[string]string, 2*len(topics))}
	for _, t := range topics {
		if t.Slug == "" {
			continue
		}
		for _, k := range []string{t.Slug, Slug(t.Slug), Slug(t.Name)} {
			if _, taken := x.bySlug[k]; k != "" && !taken {
				x.bySlug[k] = t.Slug
			}
		}
	}
	return x
}

// Lookup returns the slug of the topic category names.
func (x *TopicIndex) Lookup(category string) (string, bool) {
	s := Slug(category)
	if s == "" {
		return "", false
	}
	slug, ok := x.bySlug[s]
	return slug, ok
}

// Map returns the slugs of the topics that categories name, in the order
// the categories come, each once. The result is never nil.
func (x *TopicIndex) Map(categories []string) []string {
	out := []string{}
	for _, c := range categories {
		if slug, ok := x.Lookup(c); ok && !slices.Contains(out, slug) {
			out = append(out, slug)
		}
	}
	return out
}

// MapTopics is NewTopicIndex(topics).Map(categories).
func MapTopics(categories []string, topics []news.Topic) []string {
	return NewTopicIndex(topics).Map(categories)
}

// latin returns r as ASCII when it is a Latin letter or digit, spelling out
// the letters that Unicode decomposition leaves whole, or "" otherwise.
func latin(r rune) string {
	switch {
	case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
		return string(r)
	}
	switch r {
	case 'œ':
		return "oe"
	case 'æ':
		return "ae"
	case 'ß':
		return "ss"
	case 'ø':
		return "o"
	case 'đ', 'ð':
		return "d"
	case 'ł':
		return "l"
	case 'þ':
		return "th"
	case 'ı':
		return "i"
	}
	return ""
}
