package compose

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// oneLine trims s and turns every run of white space, line breaks and
// control characters included, into one space, so that a subject or a
// title cannot carry a line break into a header or a layout. No-break
// spaces are kept: French typography needs them.
func oneLine(s string) string {
	if isOneLine(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			continue
		case breaking(r):
			pending = b.Len() > 0
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isOneLine reports whether oneLine(s) == s, without allocating.
func isOneLine(s string) bool {
	space := true // so that a leading space is caught
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch {
			case c == ' ':
				if space {
					return false
				}
				space = true
			case c < ' ' || c == 0x7f:
				return false
			default:
				space = false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || breaking(r) {
			return false
		}
		space = false
		i += size
	}
	return s == "" || !space
}

// breaking reports whether r is white space or a control character other
// than a no-break space.
func breaking(r rune) bool {
	return r != '\u00a0' && r != '\u202f' && (unicode.IsSpace(r) || unicode.IsControl(r))
}

// truncate cuts s to at most max runes, at a word boundary when it can,
// and ends it with "…" when it cut.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	cut, n := 0, 0
	for i := range s {
		if n == max {
			cut = i
			break
		}
		n++
	}
	if sp := strings.LastIndexByte(s[:cut], ' '); sp > cut/2 {
		cut = sp
	}
	return strings.TrimRight(s[:cut], " ,;:·") + "…"
}

// wrapWidth is the length of the lines of the text parts.
const wrapWidth = 72

// wrap breaks s into lines of at most wrapWidth characters, at spaces (a
// longer word, such as a URL, stays whole), and indents every line after
// the first by indent spaces. No-break spaces do not break.
func wrap(s string, indent int) string {
	if utf8.RuneCountInString(s)+indent <= wrapWidth {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/wrapWidth*(indent+1))
	col := indent
	first := true
	for word := range strings.SplitSeq(s, " ") {
		if word == "" {
			continue
		}
		n := utf8.RuneCountInString(word)
		switch {
		case first:
			first = false
		case col+1+n > wrapWidth:
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", indent))
			col = indent
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += n
	}
	return b.String()
}
