// Package feed turns RSS 2.0, RSS 1.0 and Atom feeds into crieur articles: it
// parses feeds defensively (bounded size, depth and item count), maps feed
// categories to topics, fetches feeds with conditional GET, and polls them on
// an interval with back-off, so that several crieur instances sharing one
// database poll each feed once.
//
// It must not import store (the poller's Store is an interface declared
// here) nor anything that sends.
package feed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
)

// Item is one entry of a feed, cleaned up: plain-text title and summary,
// absolute http(s) URLs.
type Item struct {
	GUID       string
	URL        string // always an absolute http or https URL
	Title      string // plain text
	Summary    string // plain text, at most about 400 runes
	ImageURL   string // absolute http(s) URL or empty
	Author     string
	Published  time.Time // zero when the feed gave no usable date; the caller uses now
	Categories []string  // as written in the feed, entities decoded, trimmed
}

// Limits that keep a hostile feed from using unbounded memory or CPU. Real
// feeds are far below them: a WordPress feed has about 30 elements per item
// and a nesting depth under 10.
const (
	maxDepth      = 100
	maxElements   = 100_000 // read by gofeed, in the items kept and outside items
	maxItems      = 5_000   // kept; the oldest beyond are skipped
	maxScanItems  = 100_000 // in the document; more is refused
	maxScanElems  = 500_000 // in the document; more is refused
	maxDateLen    = 100     // bytes of an item's date read while scanning
	maxAttrs      = 100     // per element
	maxSummary    = 400     // runes
	maxTitle      = 500     // runes
	maxAuthor     = 200     // runes
	maxCategory   = 200     // runes
	maxCategories = 50
	maxURL        = 2048 // bytes
	maxGUID       = 512  // bytes; longer GUIDs are replaced by their SHA-256
)

// ErrTooLarge is returned (wrapped) when a feed is bigger than the allowed
// size.
var ErrTooLarge = errors.New("feed too large")

// ErrUnsupported is returned (wrapped) when the input is not an RSS or Atom
// document (HTML pages, JSON Feed, garbage).
var ErrUnsupported = errors.New("not an RSS or Atom feed")

// Parse reads an RSS 2.0, RSS 1.0 or Atom document of at most limit bytes
// from r and returns its usable items in feed order. Items without an
// absolute http(s) link (or a GUID that is one) are dropped; relative links
// are resolved against the feed's own link. A document declaring entities
// is refused (ErrDTD); an item whose text holds an entity left unexpanded
// (&lol9;, undefined) is dropped. Of a feed with more than 5,000
// items (or more than 100,000 elements), only the newest 5,000 (or as many
// as fit in 100,000 elements) are read: by date when every item has one,
// else the first ones, as feeds list the newest first. Input larger than
// limit, deeper than 100 elements, with more than 100,000 items or 500,000
// elements in all is rejected with an error, as is an element with more than
// 100 attributes. A document declaring a non-UTF-8 encoding (ISO-8859-1,
// windows-1252, …) is decoded; undeclared non-UTF-8 bytes are an error.
func Parse(r io.Reader, limit int64) ([]Item, error) {
	data, err := readLimited(r, limit)
	if err != nil {
		return nil, err
	}
	p, err := parseBytes(data, nil)
	return p.items, err
}

// readLimited reads all of r, failing with ErrTooLarge past limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("read feed: limit %d: %w", limit, ErrTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read feed: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read feed: more than %d bytes: %w", limit, ErrTooLarge)
	}
	return data, nil
}

// parsed is what parseBytes read of a document.
type parsed struct {
	items []Item
	// skipped counts the items left out because the feed held more than
	// maxItems (or maxElements) of them; refused those dropped for an
	// entity left unexpanded in their text.
	skipped, refused int
}

// parseBytes parses a whole feed document. base, when not nil, is where the
// document was fetched from; it resolves a relative or missing feed link.
func parseBytes(data []byte, base *url.URL) (parsed, error) {
	var out parsed
	kind := gofeed.DetectFeedType(bytes.NewReader(data[:min(len(data), 4096)]))
	if kind != gofeed.FeedTypeRSS && kind != gofeed.FeedTypeAtom {
		return out, fmt.Errorf("parse feed: %w", ErrUnsupported)
	}
	sh, err := scanShape(data)
	if err != nil {
		return out, fmt.Errorf("parse feed: %w", err)
	}
	data, out.skipped, err = sh.trim(data)
	if err != nil {
		return parsed{}, fmt.Errorf("parse feed: %w", err)
	}
	p := gofeed.NewParser()
	// The content image scan builds a full HTML tree of every item and walks
	// it recursively; firstImage does the same job with a streaming tokenizer.
	p.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	f, err := p.Parse(bytes.NewReader(data))
	if err != nil {
		return parsed{}, fmt.Errorf("parse feed: %w", err)
	}
	if link := absURL(base, f.Link); link != "" {
		base, _ = url.Parse(link)
	}
	out.items = make([]Item, 0, len(f.Items))
	for _, it := range f.Items {
		if it == nil {
			continue
		}
		item, ok := convert(it, base)
		switch {
		case !ok:
		case unexpandedEntity(item):
			out.refused++
		default:
			out.items = append(out.items, item)
		}
	}
	return out, nil
}

// crowdedTag reports whether some tag of data seems to hold more than
// maxAttrs attributes. It counts the words of each tag outside quoted values
// (non-strict encoding/xml accepts attributes without values), so an
// attribute written `a = "b"` counts thrice; CDATA sections and comments are
// skipped.
func crowdedTag(data []byte) bool {
	const limit = 3 * maxAttrs
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			return false
		}
		i += j + 1
		rest := data[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("![CDATA[")):
			k := bytes.Index(rest, []byte("]]>"))
			if k < 0 {
				return false
			}
			i += k + 3
			continue
		case bytes.HasPrefix(rest, []byte("!--")):
			k := bytes.Index(rest, []byte("-->"))
			if k < 0 {
				return false
			}
			i += k + 3
			continue
		}
		words, space := 0, false
		var quote byte
	tag:
		for ; i < len(data); i++ {
			c := data[i]
			if quote != 0 {
				if c == quote {
					quote = 0
				}
				continue
			}
			switch c {
			case '"', '\'':
				quote = c
			case '>', '<':
				break tag
			case ' ', '\t', '\r', '\n':
				space = true
				continue
			}
			if space {
				words++
				if words > limit {
					return true
				}
			}
			space = false
		}
	}
	return false
}

// convert cleans one gofeed item; ok is false when it has no usable URL.
func convert(it *gofeed.Item, base *url.URL) (Item, bool) {
	guid := strings.TrimSpace(it.GUID)
	link := absURL(base, it.Link)
	if link == "" {
		for _, l := range it.Links {
			if link = absURL(base, l); link != "" {
				break
			}
		}
	}
	if link == "" && guid != "" {
		// RSS guids are permalinks unless isPermaLink="false"; gofeed does
		// not keep the attribute, so take the guid when it is a URL.
		link = absURL(nil, guid)
	}
	if link == "" {
		return Item{}, false
	}
	if len(guid) > maxGUID {
		sum := sha256.Sum256([]byte(guid))
		guid = "sha256:" + hex.EncodeToString(sum[:])
	}
	item := Item{
		GUID:     guid,
		URL:      link,
		Title:    truncate(PlainText(it.Title), maxTitle),
		ImageURL: imageURL(it, base),
	}
	summary := it.Description
	if strings.TrimSpace(summary) == "" {
		summary = it.Content
	}
	item.Summary = truncate(stripAppearedFirst(PlainText(summary)), maxSummary)
	for _, a := range it.Authors {
		if a != nil && strings.TrimSpace(a.Name) != "" {
			item.Author = truncate(PlainText(a.Name), maxAuthor)
			break
		}
	}
	switch {
	case it.PublishedParsed != nil:
		item.Published = it.PublishedParsed.UTC()
	case it.UpdatedParsed != nil:
		item.Published = it.UpdatedParsed.UTC()
	}
	seen := make(map[string]bool)
	for _, c := range it.Categories {
		c = truncate(PlainText(c), maxCategory)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		item.Categories = append(item.Categories, c)
		if len(item.Categories) == maxCategories {
			break
		}
	}
	return item, true
}

// absURL resolves ref against base and returns it when it is an absolute
// http(s) URL with a host, or "" otherwise.
func absURL(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" || len(ref) > maxURL || !utf8.ValidString(ref) {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	s := u.String()
	if len(s) > maxURL {
		return ""
	}
	return s
}
