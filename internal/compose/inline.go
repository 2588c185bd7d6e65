package compose

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vanng822/go-premailer/premailer"
)

// inlineCSS runs premailer over the source of an HTML template, once at
// start: the rules of its <style> block become style attributes, and the
// rules premailer cannot inline (@media) stay in a <style> block in <head>.
//
// premailer parses HTML, and a template is not quite HTML: the parser would
// move text found between table rows (a {{range}}) out of the table. So
// each template action is first replaced by a placeholder the parser
// leaves in place (a comment between tags, a plain word inside a tag), and
// put back afterwards.
func inlineCSS(src string) (string, error) {
	protected, actions, err := protect(src)
	if err != nil {
		return "", err
	}
	pm, err := premailer.NewPremailerFromString(protected, premailer.NewOptions())
	if err != nil {
		return "", fmt.Errorf("premailer: %w", err)
	}
	out, err := pm.Transform()
	if err != nil {
		return "", fmt.Errorf("premailer: %w", err)
	}
	return restore(out, actions)
}

// Placeholders for template actions. Inside a tag (an attribute value) a
// plain word; elsewhere a comment, which the HTML parser keeps where it is,
// even between table rows.
const (
	attrMark    = "XTPLACTION%dX"
	textMark    = "<!--tpl %d-->"
	rcdataMark  = "&lt;!--tpl %d--&gt;" // a comment in <title> comes back as escaped text
	leftoverMrk = "tpl "
)

// protect replaces each template action of src by a placeholder and
// returns the actions in order.
func protect(src string) (string, []string, error) {
	var (
		b       strings.Builder
		actions []string
		inTag   bool
		quote   byte
	)
	for i := 0; i < len(src); {
		if strings.HasPrefix(src[i:], "{{") {
			end, err := actionEnd(src, i)
			if err != nil {
				return "", nil, err
			}
			n := len(actions)
			actions = append(actions, src[i:end])
			if inTag {
				fmt.Fprintf(&b, attrMark, n)
			} else {
				fmt.Fprintf(&b, textMark, n)
			}
			i = end
			continue
		}
		c := src[i]
		switch {
		case inTag && quote != 0:
			if c == quote {
				quote = 0
			}
		case inTag:
			switch c {
			case '"', '\'':
				quote = c
			case '>':
				inTag = false
			}
		case c == '<' && i+1 < len(src) && isTagStart(src[i+1]):
			inTag = true
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), actions, nil
}

// isTagStart reports whether c, after '<', opens a tag.
func isTagStart(c byte) bool {
	return c == '/' || c == '!' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// actionEnd returns the index just past the action that starts at
// src[start:], a comment action included.
func actionEnd(src string, start int) (int, error) {
	body := src[start+2:]
	trimmed := strings.TrimLeft(strings.TrimPrefix(body, "-"), " \t\r\n")
	if strings.HasPrefix(trimmed, "/*") {
		c := strings.Index(body, "*/")
		if c < 0 {
			return 0, errors.New("unclosed template comment")
		}
		e := strings.Index(body[c:], "}}")
		if e < 0 {
			return 0, errors.New("unclosed template comment")
		}
		return start + 2 + c + e + 2, nil
	}
	e := strings.Index(body, "}}")
	if e < 0 {
		return 0, fmt.Errorf("unclosed template action at byte %d", start)
	}
	return start + 2 + e + 2, nil
}

// restore puts the actions back in place of their placeholders.
func restore(html string, actions []string) (string, error) {
	pairs := make([]string, 0, 6*len(actions))
	for i, a := range actions {
		n := strconv.Itoa(i)
		pairs = append(pairs,
			strings.Replace(textMark, "%d", n, 1), a,
			strings.Replace(rcdataMark, "%d", n, 1), a,
			strings.Replace(attrMark, "%d", n, 1), a,
		)
	}
	out := strings.NewReplacer(pairs...).Replace(html)
	if strings.Contains(out, "XTPLACTION") || strings.Contains(out, "!--"+leftoverMrk) {
		return "", errors.New("a template action was lost while inlining CSS")
	}
	return out, nil
}
