package feed

import (
	"bytes"
	"encoding/xml"
	"errors"
	"html"
	"regexp"
)

// ErrDTD is returned (wrapped) for a document whose type declaration has an
// internal subset (<!DOCTYPE rss [ … ]>): that is where entities are
// declared, which no feed needs and every entity attack (billion laughs,
// external entities) uses. encoding/xml expands none of them, so their
// references would reach readers as written ("&lol9;"). A DOCTYPE naming
// an external DTD only (RSS 0.91's) is read as usual.
var ErrDTD = errors.New("document type declaration with an internal subset (entity declarations) refused")

// declaresEntities reports whether a directive (<!…>) read from a document
// declares entities or holds an internal subset.
func declaresEntities(d xml.Directive) bool {
	return bytes.Contains(d, []byte("ENTITY")) ||
		(bytes.HasPrefix(bytes.ToUpper(bytes.TrimSpace(d)), []byte("DOCTYPE")) && bytes.ContainsRune(d, '['))
}

// entityRef matches what is left of a named entity reference.
var entityRef = regexp.MustCompile(`&[A-Za-z_:][A-Za-z0-9_.:-]{0,63};`)

// unexpandedEntity reports whether the text of it still holds a reference
// to an entity that is not an HTML one: an undefined entity (&lol9;) that
// the parser left as written, since it expands none. A known HTML name
// left in the text ("&nbsp;" written &amp;nbsp;, as an article about HTML
// would) is the publisher's text and stays.
func unexpandedEntity(it Item) bool {
	texts := append([]string{it.Title, it.Summary, it.Author}, it.Categories...)
	for _, s := range texts {
		for _, ref := range entityRef.FindAllString(s, -1) {
			if html.UnescapeString(ref) == ref {
				return true
			}
		}
	}
	return false
}
