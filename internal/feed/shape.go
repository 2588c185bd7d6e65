package feed

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/html/charset"
)

// shape is what one pass over a document's raw tokens learned: where its
// items are, so that a feed with too many can be cut down to its newest
// before gofeed (which allocates a few kilobytes per item) reads it.
type shape struct {
	items []span // top-level items or entries, in document order
	other int    // elements outside them
}

// span is one item or entry of a document. It is small: a hostile
// document may hold maxScanItems of them.
type span struct {
	start, end int64 // byte offsets: from its start tag to after its end tag
	elements   int   // itself included
	published  int64 // Unix seconds, 0 when missing or unreadable
	updated    int64
}

// date is what orders the item, in Unix seconds: published, else updated
// (as convert does); 0 when it has neither.
func (s span) date() int64 {
	if s.published != 0 {
		return s.published
	}
	return s.updated
}

// scanShape walks the raw tokens once and rejects documents whose nesting
// depth, element count, item count or attribute count would make the scan
// or gofeed (which recurses into extension elements) use unbounded stack or
// memory, and documents that declare entities (ErrDTD). encoding/xml never
// expands DTD entities, so entity "billion laughs" cannot grow here or
// later; but its references would be left in the text as written.
func scanShape(data []byte) (*shape, error) {
	if crowdedTag(data) {
		// Caught before tokenizing: encoding/xml would allocate every
		// attribute of the element before we could count them.
		return nil, fmt.Errorf("element with more than %d attributes", maxAttrs)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false // as gofeed does
	d.CharsetReader = maskedCharset
	sh := &shape{}
	var (
		depth, elements int
		cur             *span // the item being read, or nil
		itemDepth       int   // depth of cur's start tag
		dateKind        string
		dateText        []byte
	)
	for {
		start := d.InputOffset()
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.Directive:
			if declaresEntities(t) {
				return nil, ErrDTD
			}
		case xml.StartElement:
			depth++
			elements++
			name := strings.ToLower(t.Name.Local)
			switch {
			case depth > maxDepth:
				return nil, fmt.Errorf("elements nested more than %d deep", maxDepth)
			case elements > maxScanElems:
				return nil, fmt.Errorf("more than %d elements", maxScanElems)
			case len(t.Attr) > maxAttrs:
				return nil, fmt.Errorf("element with more than %d attributes", maxAttrs)
			}
			switch {
			case cur == nil && (name == "item" || name == "entry"):
				if len(sh.items) == maxScanItems {
					return nil, fmt.Errorf("more than %d items", maxScanItems)
				}
				sh.items = append(sh.items, span{start: start, end: -1})
				cur, itemDepth = &sh.items[len(sh.items)-1], depth
				cur.elements++
			case cur != nil:
				cur.elements++
				if depth == itemDepth+1 {
					dateKind, dateText = dateElement(name), dateText[:0]
				}
			default:
				sh.other++
			}
		case xml.CharData:
			if dateKind != "" && len(dateText)+len(t) <= maxDateLen {
				dateText = append(dateText, t...)
			}
		case xml.EndElement:
			if cur != nil && depth == itemDepth+1 && dateKind != "" {
				if tm, ok := parseDate(string(dateText)); ok {
					if dateKind == "published" {
						cur.published = tm.Unix()
					} else {
						cur.updated = tm.Unix()
					}
				}
				dateKind = ""
			}
			if cur != nil && depth == itemDepth {
				cur.end, cur = d.InputOffset(), nil
			}
			if depth > 0 {
				depth--
			}
		}
	}
	if cur != nil {
		cur.end = int64(len(data)) // unclosed: gofeed decides
	}
	return sh, nil
}

// maskedCharset is the decoder's CharsetReader for the scan: it checks that
// the declared encoding is one gofeed can decode and replaces every
// non-ASCII byte by '?', so that the markup (ASCII in every encoding a feed
// uses) is read while byte offsets stay those of the document.
func maskedCharset(label string, r io.Reader) (io.Reader, error) {
	if enc, _ := charset.Lookup(label); enc == nil {
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	return maskReader{r}, nil
}

type maskReader struct{ r io.Reader }

func (m maskReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	for i, c := range p[:n] {
		if c >= 0x80 {
			p[i] = '?'
		}
	}
	return n, err
}

// dateElement says which date an item's child element holds: "published",
// "updated" or "" for none.
func dateElement(name string) string {
	switch name {
	case "pubdate", "published", "date", "issued":
		return "published"
	case "updated", "modified":
		return "updated"
	}
	return ""
}

// isoLayouts are Atom's dates (RFC 3339) and the ISO forms some RSS feeds
// use instead of RFC 822.
var isoLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

// parseDate reads an item date: ISO 8601 / RFC 3339, or RFC 822 and its
// variants as net/mail reads them (with or without weekday and seconds,
// numeric or named zones).
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 10 && s[4] == '-' {
		for _, l := range isoLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	}
	t, err := mail.ParseDate(s)
	return t, err == nil
}

// trim returns data with the items it cannot keep cut out, and how many
// those were. It keeps at most maxItems items, and no more than fit with
// the elements outside items in maxElements: the newest by date when every
// item has a date, else the first ones (feeds list the newest first). The
// items kept stay in document order. It fails when not even one item, or
// nothing but the channel, fits.
func (sh *shape) trim(data []byte) ([]byte, int, error) {
	total := sh.other
	for _, it := range sh.items {
		total += it.elements
	}
	if len(sh.items) <= maxItems && total <= maxElements {
		return data, 0, nil
	}
	if sh.other > maxElements {
		return nil, 0, fmt.Errorf("more than %d elements", maxElements)
	}
	order := make([]int, len(sh.items))
	dated := true
	for i, it := range sh.items {
		order[i] = i
		dated = dated && it.date() != 0
	}
	if dated {
		slices.SortStableFunc(order, func(a, b int) int {
			return cmp.Compare(sh.items[b].date(), sh.items[a].date()) // newest first
		})
	}
	keep := make([]bool, len(sh.items))
	kept, budget := 0, maxElements-sh.other
	for _, i := range order {
		if kept == maxItems || sh.items[i].elements > budget {
			break
		}
		keep[i] = true
		kept++
		budget -= sh.items[i].elements
	}
	if kept == 0 {
		return nil, 0, fmt.Errorf("more than %d elements", maxElements)
	}
	var b bytes.Buffer
	b.Grow(len(data))
	at := int64(0)
	for i, it := range sh.items {
		if keep[i] {
			continue
		}
		b.Write(data[at:it.start])
		at = it.end
	}
	b.Write(data[at:])
	return b.Bytes(), len(sh.items) - kept, nil
}
