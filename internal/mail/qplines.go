package mail

import (
	"crypto/sha256"
	"strings"
	"sync"
)

// QPLines quoted-printable-encodes text that many messages share, one line
// at a time, and keeps each distinct line's encoding once: the digests of
// readers who follow different topics share most of their lines (the
// layout, the articles), so a cache of whole encoded parts would hold each
// line many times. Each line is encoded on its own, which is what
// EncodeQP does to it within a longer text, since every line break starts
// a fresh encoded line.
//
// Lines are kept in two bounded generations (a line used again moves to
// the newer one); an encoding still used by a caller stays valid after it
// is dropped here. The zero QPLines is ready; it is safe for concurrent
// use.
type QPLines struct {
	mu        sync.Mutex
	cur, prev map[[sha256.Size]byte][]byte
}

// qpLinesGeneration is the number of lines per generation: a daily digest
// run of 8 topics in two languages has about 4,000 distinct lines.
const qpLinesGeneration = 8192

// Encode returns the encoding of s line by line: appended in order, the
// pieces are EncodeQP(s). s must end with a line break ('\n').
func (q *QPLines) Encode(s string) [][]byte {
	out := make([][]byte, 0, strings.Count(s, "\n"))
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(s) > 0 {
		n := strings.IndexByte(s, '\n') + 1
		if n == 0 {
			n = len(s) // no final line break: encoded whole, as the end of a part
		}
		line := s[:n]
		s = s[n:]
		// The hash keys the line without keeping its text twice.
		key := sha256.Sum256([]byte(line))
		enc, ok := q.cur[key]
		if !ok {
			if enc, ok = q.prev[key]; !ok {
				enc = EncodeQP(line)
			}
			if q.cur == nil || len(q.cur) >= qpLinesGeneration {
				q.prev, q.cur = q.cur, make(map[[sha256.Size]byte][]byte, qpLinesGeneration)
			}
			q.cur[key] = enc
		}
		out = append(out, enc)
	}
	return out
}
