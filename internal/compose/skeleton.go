package compose

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/crieur/crieur/internal/news"
)

// A digest run sends the same digest to every reader who follows the same
// topics in the same language: only their signed links differ. So a digest
// is rendered through the templates once per such shape, with stand-in
// links (holes), and each reader's copy is the skeleton with their links
// put in the holes: no template runs per reader, and the start of each
// part, up to the line before the first hole, is one string shared by all
// of them (Head), which the mail package quoted-printable-encodes once.
//
// A hole can only stand for a link whose bytes every escaper of the
// templates leaves alone (plainLink); any other link is rendered the slow
// way. TestDigestSkeletonMatchesTemplates compares the two for many
// readers.
//
// Per-reader links: the footer's two links are the only holes today. A
// tracked article link shared by every reader of a run (BASE/r/TOKEN per
// run and article) needs none: hand it in as the article's URL and it is
// part of the skeleton, rendered once. A per-reader one
// (CRIEUR_TRACK_READERS) is one more hole per article: number it after
// holeUnsubscribe, give the article the stand-in c.holeURL(n) as its URL
// when DigestShared renders the skeleton, and put the reader's link in
// readerHoles; a link that is not plainLink falls back to the templates.

// Holes of a digest skeleton.
const (
	holePreferences = iota
	holeUnsubscribe
	numHoles
)

// skeletonCacheSize is the number of digest shapes kept per generation
// (two generations, see fragmentCache): 8 topics read 2 to 4 at a time
// give 154 shapes per language. A shape holds about 17 KB once its heads
// are encoded.
const skeletonCacheSize = 256

// Head is the start of one part of a digest, up to and including a line
// break, shared by every reader of that digest. Only one form of it is
// kept: the one its caller derives (its quoted-printable encoding), so
// that a cached digest costs memory once.
type Head struct {
	once sync.Once
	s    string // until Memo
	memo [][]byte
}

// Memo returns f applied to the head's text, calling f only the first
// time: every later call returns that first result, whatever its f.
func (h *Head) Memo(f func(string) [][]byte) [][]byte {
	h.once.Do(func() {
		h.memo = f(h.s)
		h.s = ""
	})
	return h.memo
}

// skeleton is a digest rendered with holes for its reader's links.
type skeleton struct {
	subject, preheader string
	text, html         skeletonPart
}

// skeletonPart is one part: head, then pieces with hole holes[i] after
// pieces[i] (len(pieces) == len(holes)+1).
type skeletonPart struct {
	head   *Head // nil when the first line holds a hole
	pieces []string
	holes  []int
}

// DigestShared is Digest for a sender: the Email's TextHead and HTMLHead,
// when set, are the starts of its parts, shared with other readers of the
// same digest, and Text and HTML hold the rest.
func (c *Composer) DigestShared(d DigestData) (Email, error) {
	if len(d.Articles) == 0 {
		return Email{}, errors.New("compose digest: no articles")
	}
	prefs, err := requiredURL("preferences", d.PreferencesURL)
	if err != nil {
		return Email{}, fmt.Errorf("compose digest: %w", err)
	}
	unsub, err := requiredURL("unsubscribe", d.UnsubscribeURL)
	if err != nil {
		return Email{}, fmt.Errorf("compose digest: %w", err)
	}
	holes := readerHoles(prefs, unsub)
	for _, h := range holes {
		if !plainLink(h) {
			return c.renderDigest(d, prefs, unsub)
		}
	}
	l := c.language(d.Lang)
	key := c.shapeSum(d)
	sk, ok := l.digests.get(key)
	if !ok {
		e, err := c.renderDigest(d, c.holeURL(holePreferences), c.holeURL(holeUnsubscribe))
		if err != nil {
			return Email{}, err
		}
		sk = c.cut(e)
		if sk == nil {
			// A template changed a stand-in link (escaped or wrapped it):
			// this shape is rendered per reader.
			return c.renderDigest(d, prefs, unsub)
		}
		l.digests.put(key, sk)
	}
	return Email{Subject: sk.subject, Preheader: sk.preheader,
		Text: sk.text.fill(holes), HTML: sk.html.fill(holes),
		TextHead: sk.text.head, HTMLHead: sk.html.head}, nil
}

// readerHoles are what fills a skeleton's holes for one reader, in hole
// order. The hook for per-reader links: a hole added here is filled in
// every part where its stand-in appears.
func readerHoles(prefs, unsub string) [numHoles]string {
	return [numHoles]string{holePreferences: prefs, holeUnsubscribe: unsub}
}

// plainLink reports whether every escaper of the templates (HTML text and
// attributes, URL normalisation, plain text) leaves u as it is: letters,
// digits and -._~/: only, as crieur's signed links on an ordinary base URL
// are.
func plainLink(u string) bool {
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/:", c) >= 0) {
			return false
		}
	}
	return u != ""
}

// newHoleMark returns the random start of the stand-in links.
func newHoleMark() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("compose: crypto/rand: %v", err)) // never fails on Linux since Go 1.24
	}
	return "https://crieur.invalid/" + hex.EncodeToString(b[:]) + "/"
}

// holeURL is the stand-in of hole h: a plain link, ended by 'z' so that
// no stand-in is the start of another.
func (c *Composer) holeURL(h int) string { return c.holeMark + strconv.Itoa(h) + "z" }

// cut splits a digest rendered with stand-in links into its skeleton, or
// returns nil when a stand-in is not found whole where its mark is.
func (c *Composer) cut(e Email) *skeleton {
	sk := &skeleton{subject: e.Subject, preheader: e.Preheader}
	var ok bool
	if sk.text, ok = c.cutPart(e.Text); !ok {
		return nil
	}
	if sk.html, ok = c.cutPart(e.HTML); !ok {
		return nil
	}
	if strings.Contains(e.Subject, c.holeMark) || strings.Contains(e.Preheader, c.holeMark) {
		return nil
	}
	return sk
}

func (c *Composer) cutPart(s string) (skeletonPart, bool) {
	var p skeletonPart
	first := strings.Index(s, c.holeMark)
	if first < 0 {
		p.pieces = []string{s}
		return p, true
	}
	if nl := strings.LastIndexByte(s[:first], '\n'); nl >= 0 {
		p.head = &Head{s: s[:nl+1]}
		// The rest is copied out, so that once the head is encoded the
		// rendered part is not kept whole.
		s = strings.Clone(s[nl+1:])
	}
	for {
		i := strings.Index(s, c.holeMark)
		if i < 0 {
			p.pieces = append(p.pieces, s)
			return p, true
		}
		rest := s[i+len(c.holeMark):]
		z := strings.IndexByte(rest, 'z')
		if z <= 0 {
			return p, false
		}
		h, err := strconv.Atoi(rest[:z])
		if err != nil || h < 0 || h >= numHoles {
			return p, false
		}
		p.pieces = append(p.pieces, s[:i])
		p.holes = append(p.holes, h)
		s = rest[z+1:]
	}
}

// fill returns the part after its head with holes filled.
func (p *skeletonPart) fill(holes [numHoles]string) string {
	n := 0
	for _, s := range p.pieces {
		n += len(s)
	}
	for _, h := range p.holes {
		n += len(holes[h])
	}
	var b strings.Builder
	b.Grow(n)
	for i, s := range p.pieces {
		b.WriteString(s)
		if i < len(p.holes) {
			b.WriteString(holes[p.holes[i]])
		}
	}
	return b.String()
}

// shapeSum is the SHA-256 of shapeKey(d), the digest cache's key.
func (c *Composer) shapeSum(d DigestData) [sha256.Size]byte {
	p, _ := c.shapeKeys.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	*p = shapeKey((*p)[:0], d)
	sum := sha256.Sum256(*p)
	c.shapeKeys.Put(p)
	return sum
}

// shapeKey appends to b everything of d a digest's rendering reads, its
// links aside, so that two digests with the same key differ only by their
// links. Each value is prefixed with its length: no two different digests
// spell the same key. The cache keeps its SHA-256 only (32 bytes, not 2 KB).
func shapeKey(b []byte, d DigestData) []byte {
	field := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	y, m, day := d.Date.Date()
	field(fmt.Sprint(y, int(m), day, d.Frequency == news.Weekly, d.More))
	field(strconv.Itoa(len(d.Topics)))
	for _, t := range d.Topics {
		field(t.Slug)
		field(t.Name)
	}
	field(strconv.Itoa(len(d.Articles)))
	for _, a := range d.Articles {
		field(a.Title)
		field(a.Summary)
		field(a.URL)
		field(a.ImageURL)
		field(a.Author)
		field(strconv.Itoa(len(a.Topics)))
		for _, t := range a.Topics {
			field(t)
		}
	}
	return b
}

// skeletonCache keeps digest skeletons in two bounded generations, as
// fragmentCache keeps articles.
type skeletonCache struct {
	mu        sync.Mutex
	cur, prev map[[sha256.Size]byte]*skeleton
}

func (sc *skeletonCache) get(key [sha256.Size]byte) (*skeleton, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if s, ok := sc.cur[key]; ok {
		return s, true
	}
	if s, ok := sc.prev[key]; ok {
		sc.putLocked(key, s)
		return s, true
	}
	return nil, false
}

func (sc *skeletonCache) put(key [sha256.Size]byte, s *skeleton) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.putLocked(key, s)
}

func (sc *skeletonCache) putLocked(key [sha256.Size]byte, s *skeleton) {
	if sc.cur == nil || len(sc.cur) >= skeletonCacheSize {
		sc.prev, sc.cur = sc.cur, make(map[[sha256.Size]byte]*skeleton, skeletonCacheSize)
	}
	sc.cur[key] = s
}
