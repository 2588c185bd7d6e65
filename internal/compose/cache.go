package compose

import (
	htmltemplate "html/template"
	"sync"
)

// An article looks the same in every digest of a language that names the
// same topics, and a digest run sends it to thousands of readers: its rows
// are rendered once and kept here. html/template spends most of a digest's
// time escaping article fields, so this makes a digest several times
// cheaper.
//
// fragmentCache keeps two generations of at most fragmentCacheSize entries:
// when the current one is full it becomes the previous one, and entries
// found there move back to the current one. Memory stays bounded (about
// 6 MB per language at worst) however long the daemon runs.
type fragmentCache struct {
	mu        sync.Mutex
	cur, prev map[articleView]fragment
}

// fragmentCacheSize is the number of articles per generation: more than the
// articles of a weekly digest run.
const fragmentCacheSize = 1024

// fragment is one article rendered for the HTML and the text part.
type fragment struct {
	html htmltemplate.HTML
	text string
}

// get returns the fragment of a, if it is cached.
func (fc *fragmentCache) get(a articleView) (fragment, bool) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if f, ok := fc.cur[a]; ok {
		return f, true
	}
	if f, ok := fc.prev[a]; ok {
		fc.putLocked(a, f)
		return f, true
	}
	return fragment{}, false
}

// put caches the fragment of a.
func (fc *fragmentCache) put(a articleView, f fragment) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.putLocked(a, f)
}

// putLocked caches the fragment of a; fc.mu is held.
func (fc *fragmentCache) putLocked(a articleView, f fragment) {
	if fc.cur == nil || len(fc.cur) >= fragmentCacheSize {
		fc.prev, fc.cur = fc.cur, make(map[articleView]fragment, fragmentCacheSize)
	}
	fc.cur[a] = f
}
