package mail

import "bytes"

// dotEnd ends the DATA section: the body's last line always ends with CRLF
// before it, so on the wire this is the "CRLF . CRLF" of RFC 5321 4.1.1.4.
const dotEnd = ".\r\n"

// appendDotData appends to dst the DATA section for msg exactly as
// net/textproto's DotWriter (which go-mail's DataCloser wraps) puts it on
// the wire, terminating ".\r\n" included, and returns the extended slice:
//
//   - a line that starts with '.' gets one more '.' (RFC 5321 4.5.2);
//   - a bare LF becomes CRLF, so it ends a line;
//   - a bare CR is kept as it is, and the byte after it starts no line
//     (it is not dot-stuffed);
//   - a final line without CRLF gets one, then the ".\r\n".
//
// DotWriter does this a byte at a time through a bufio.Writer; here whole
// runs between line breaks are copied at once, and crieur's messages
// (CRLF only, quoted-printable bodies) take two IndexByte calls and one
// copy per line.
//
// The states and their transitions are DotWriter's, quirks included (a CR
// followed by CR LF becomes CR CR CR LF there, and here), so that what goes
// out is byte for byte what the go-mail path sent; the fuzz test holds the
// two together.
func appendDotData(dst, msg []byte) []byte {
	const (
		stBegin     = iota // nothing written yet
		stBeginLine        // just after a line break
		stCR               // just after a CR (a line break if LF follows)
		stData             // inside a line
	)
	state := stBegin
	// cr and lf are the positions of the next CR and LF at or after p
	// (len(msg) when there is none), each found with one vectorised scan
	// and looked for again only once p has passed it: every byte is
	// scanned at most twice, whatever the mix of line breaks.
	p, cr, lf := 0, -1, -1
	for p < len(msg) {
		switch state {
		case stBegin, stBeginLine:
			if msg[p] == '.' {
				dst = append(dst, '.')
			}
			state = stData
		case stCR:
			// After a CR the next byte is copied as it is, whatever it
			// is: an LF ends the line, anything else (even '.', even
			// another CR) continues it.
			c := msg[p]
			dst = append(dst, c)
			p++
			if c == '\n' {
				state = stBeginLine
			} else {
				state = stData
			}
			continue
		}
		// stData: copy up to the next CR or LF.
		if cr < p {
			cr = indexFrom(msg, p, '\r')
		}
		if lf < p {
			lf = indexFrom(msg, p, '\n')
		}
		i := min(cr, lf)
		dst = append(dst, msg[p:i]...)
		if i == len(msg) {
			p = i
			break
		}
		if msg[i] == '\r' {
			dst = append(dst, '\r')
			state = stCR
		} else {
			dst = append(dst, '\r', '\n')
			state = stBeginLine
		}
		p = i + 1
	}
	switch state {
	case stBegin, stData:
		dst = append(dst, '\r', '\n')
	case stCR:
		dst = append(dst, '\n')
	}
	return append(dst, dotEnd...)
}

// indexFrom returns the index of the first c in b at or after from, or
// len(b) when there is none.
func indexFrom(b []byte, from int, c byte) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return len(b)
}
