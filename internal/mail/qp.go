package mail

// qpLineMax is the longest encoded line (RFC 2045 6.7), soft break
// included.
const qpLineMax = 76

const upperHex = "0123456789ABCDEF"

// EncodeQP returns the quoted-printable encoding of s, byte for byte what
// mime/quotedprintable.Writer (text mode) writes for it before and after
// Close, several times faster: runs of plain bytes are copied a line at a
// time instead of byte by byte.
//
// When s ends with a line break and has no lone '\r', EncodeQP(s)
// followed by EncodeQP(t) is the encoding of s+t: the encoder starts every
// line afresh. That is what lets a part shared by many messages be encoded
// once (Message.TextHead). (The standard Writer takes a '\n' that follows
// '\r' and escaped bytes as the line feed of that '\r', so there the line
// goes on; composed text has no lone '\r'.)
func EncodeQP(s string) []byte {
	return AppendQP(make([]byte, 0, len(s)+len(s)/8+16), s)
}

// AppendQP appends the quoted-printable encoding of s to dst, as EncodeQP.
func AppendQP(dst []byte, s string) []byte {
	e := qpEncoder{out: dst, lineStart: len(dst)}
	e.write(s)
	e.checkLastByte()
	return e.out
}

// qpEncoder is mime/quotedprintable.Writer's state machine over an
// append-only slice: the current line is out[lineStart:].
type qpEncoder struct {
	out       []byte
	lineStart int
	cr        bool // the last line break seen was a lone '\r' so far
}

func qpPlain(b byte) bool {
	return (b >= '!' && b <= '~' && b != '=') || b == ' ' || b == '\t'
}

func (e *qpEncoder) write(s string) {
	for i := 0; i < len(s); {
		b := s[i]
		switch {
		case b == '\n' || b == '\r':
			i++
			if e.cr && b == '\n' {
				e.cr = false
				continue
			}
			e.cr = b == '\r'
			e.checkLastByte()
			e.crlf()
		case qpPlain(b):
			j := i + 1
			for j < len(s) && qpPlain(s[j]) {
				j++
			}
			e.plain(s[i:j])
			i = j
		default:
			// Like the standard Writer, an escaped byte leaves cr as it is.
			e.encode(b)
			i++
		}
	}
}

// plain copies a run of bytes that need no escape, breaking softly before
// a line would pass qpLineMax.
func (e *qpEncoder) plain(run string) {
	for len(run) > 0 {
		room := qpLineMax - 1 - (len(e.out) - e.lineStart)
		if room <= 0 {
			e.softBreak()
			room = qpLineMax - 1
		}
		n := min(room, len(run))
		e.out = append(e.out, run[:n]...)
		run = run[n:]
	}
	e.cr = false
}

func (e *qpEncoder) encode(b byte) {
	if qpLineMax-1-(len(e.out)-e.lineStart) < 3 {
		e.softBreak()
	}
	e.out = append(e.out, '=', upperHex[b>>4], upperHex[b&0x0f])
}

// checkLastByte escapes a space or tab ending the line, which a hard line
// break (or the end) would otherwise let a mail relay strip.
func (e *qpEncoder) checkLastByte() {
	if len(e.out) == e.lineStart {
		return
	}
	if b := e.out[len(e.out)-1]; b == ' ' || b == '\t' {
		e.out = e.out[:len(e.out)-1]
		e.encode(b)
	}
}

func (e *qpEncoder) softBreak() {
	e.out = append(e.out, '=', '\r', '\n')
	e.lineStart = len(e.out)
}

func (e *qpEncoder) crlf() {
	e.out = append(e.out, '\r', '\n')
	e.lineStart = len(e.out)
}
