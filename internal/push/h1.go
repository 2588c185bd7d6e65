package push

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/crieur/crieur/internal/netguard"
)

// h1Pool sends push requests to HTTP/1.1 push services (plain http in
// development and in the loopback benchmarks, an https service whose TLS
// handshake did not choose h2) without net/http: the worker that sends a
// message writes its request, already laid out in one buffer, to a pooled
// connection and reads the answer itself.
//
// Why: through net/http each request is an http.Request and a header map,
// two goroutines per connection (writeLoop, readLoop) handing it over by
// channels, a response header map and a textproto parse: about a third of
// the daemon's CPU per push against a loopback HTTP/1.1 push service, as
// much as the RFC 8291 arithmetic. A push request is one POST with a
// known body and its answer needs only a status, a body length and
// Retry-After.
//
// It keeps net/http's rules where they matter: one request at a time per
// connection, a connection reused only after its answer was read to the
// end and when neither side asked to close it, an idle connection closed
// after idleTimeout and checked before each reuse (one non-blocking peek:
// the service may have closed it, or sent what nobody asked for, which
// net/http's idle reader would have caught), answers of any framing
// (Content-Length, chunked, until close).
type h1Pool struct {
	policy netguard.Policy
	// tlsConfig is the net/http transport's, read at each dial (tests set
	// its roots after the client is made).
	tlsConfig   func() *tls.Config
	maxIdle     int // per host
	idleTimeout time.Duration

	mu       sync.Mutex
	idle     map[string][]*h1Conn // by scheme://host:port, most recent last
	sweeping bool
}

// h1Conn is one connection of an h1Pool, used by one request at a time.
type h1Conn struct {
	key    string
	nc     net.Conn        // what requests go to: TCP, or TLS over it
	raw    syscall.RawConn // the TCP socket under nc, for alive; nil if none
	isTLS  bool
	br     *bufio.Reader
	idleAt time.Time
}

// maxHeaderBytes bounds an answer's header section; a longer one fails
// the request, as net/http's MaxResponseHeaderBytes does.
const maxHeaderBytes = 64 << 10

func newH1Pool(policy netguard.Policy, tlsConfig func() *tls.Config, maxIdle int, idleTimeout time.Duration) *h1Pool {
	return &h1Pool{policy: policy, tlsConfig: tlsConfig, maxIdle: max(maxIdle, 2), idleTimeout: idleTimeout, idle: map[string][]*h1Conn{}}
}

// get returns an idle connection to key, or dials addr (TLS when isTLS,
// with serverName) bounded by ctx and deadline.
func (p *h1Pool) get(ctx context.Context, key, addr, serverName string, isTLS bool, deadline time.Time) (*h1Conn, error) {
	now := time.Now()
	p.mu.Lock()
	for {
		list := p.idle[key]
		if len(list) == 0 {
			break
		}
		c := list[len(list)-1]
		list[len(list)-1] = nil
		p.idle[key] = list[:len(list)-1]
		p.mu.Unlock()
		if now.Sub(c.idleAt) < p.idleTimeout && c.alive() {
			return c, nil
		}
		c.close()
		p.mu.Lock()
	}
	p.mu.Unlock()
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return p.dial(ctx, key, addr, serverName, isTLS)
}

func (p *h1Pool) dial(ctx context.Context, key, addr, serverName string, isTLS bool) (*h1Conn, error) {
	nc, err := p.policy.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &h1Conn{key: key, nc: nc, isTLS: isTLS}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	if isTLS {
		cfg := &tls.Config{}
		if base := p.tlsConfig(); base != nil {
			cfg = base.Clone()
		}
		cfg.ServerName = serverName
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls %s: %w", addr, err)
		}
		c.nc = tc
	}
	c.br = bufio.NewReaderSize(c.nc, 4096)
	return c, nil
}

// put returns c to the pool after a request whose answer was read whole.
func (p *h1Pool) put(c *h1Conn) {
	c.idleAt = time.Now()
	p.mu.Lock()
	list := p.idle[c.key]
	if len(list) >= p.maxIdle {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle[c.key] = append(list, c)
	sweep := !p.sweeping
	p.sweeping = true
	p.mu.Unlock()
	if sweep {
		time.AfterFunc(p.idleTimeout, p.sweep)
	}
}

// sweep closes the connections idle for longer than idleTimeout, and
// comes back while any stay idle.
func (p *h1Pool) sweep() {
	var old []*h1Conn
	p.mu.Lock()
	cutoff := time.Now().Add(-p.idleTimeout)
	left := 0
	for key, list := range p.idle {
		keep := list[:0]
		for _, c := range list {
			if c.idleAt.Before(cutoff) {
				old = append(old, c)
			} else {
				keep = append(keep, c)
			}
		}
		clear(list[len(keep):])
		if len(keep) == 0 {
			delete(p.idle, key)
		} else {
			p.idle[key] = keep
		}
		left += len(keep)
	}
	p.sweeping = left > 0
	p.mu.Unlock()
	for _, c := range old {
		c.close()
	}
	if left > 0 {
		time.AfterFunc(p.idleTimeout, p.sweep)
	}
}

// closeIdle closes every idle connection.
func (p *h1Pool) closeIdle() {
	p.mu.Lock()
	all := p.idle
	p.idle = map[string][]*h1Conn{}
	p.mu.Unlock()
	for _, list := range all {
		for _, c := range list {
			c.close()
		}
	}
}

func (c *h1Conn) close() { _ = c.nc.Close() }

// alive reports whether an idle connection can carry a request: the
// service has neither closed it nor sent anything since the last answer
// (an HTTP/1.1 server says nothing unasked but a 408 before it closes).
// Over TLS, bytes waiting may be a record that is not data (a session
// ticket): a short read tells.
func (c *h1Conn) alive() bool {
	if c.raw == nil {
		return false
	}
	state := peekSocket(c.raw)
	switch {
	case state == socketIdle:
		return true
	case state == socketReadable && c.isTLS:
		_ = c.nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := c.br.Peek(1)
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}
	return false
}

// roundTrip writes req (a whole request) and reads the answer: its
// status, Retry-After, the start of its body into head (n bytes), and
// whether the connection can carry another request.
func (c *h1Conn) roundTrip(req, head []byte) (status int, retryAfter string, n int, reuse bool, err error) {
	if _, err = c.nc.Write(req); err != nil {
		return 0, "", 0, false, err
	}
	var h respHeader
	for interim := 0; ; interim++ {
		// A service that sends interim answers without end would keep a
		// core busy until the deadline; net/http gives up after as many.
		if interim > maxInterim {
			return 0, "", 0, false, errTooManyInterim
		}
		if h, err = readRespHeader(c.br); err != nil {
			return 0, "", 0, false, err
		}
		// An interim answer (100 Continue, 103 Early Hints) precedes the
		// real one; 101 would switch protocols, which was not asked.
		if h.status < 100 || h.status > 199 || h.status == 101 {
			break
		}
	}
	status, retryAfter, reuse = h.status, h.retryAfter, h.keepAlive
	var body io.Reader
	switch {
	case status == 101:
		return status, "", 0, false, fmt.Errorf("unexpected 101 Switching Protocols")
	case status == 204 || status == 304:
		return status, retryAfter, 0, reuse, nil
	case h.chunked:
		body = httputil.NewChunkedReader(c.br)
	case h.length >= 0:
		body = io.LimitReader(c.br, h.length)
		if h.length > int64(len(head))+maxDrainBody {
			reuse = false // not worth reading to its end
		}
	default:
		// Delimited by the close: nothing after it on this connection.
		body, reuse = c.br, false
	}
	n, err = io.ReadFull(body, head)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
		if h.length >= 0 && int64(n) < h.length {
			return status, retryAfter, n, false, io.ErrUnexpectedEOF
		}
	} else if err == nil && reuse {
		var drained int64
		drained, err = io.CopyN(io.Discard, body, maxDrainBody+1)
		if err == io.EOF {
			err = nil
		}
		if drained > maxDrainBody {
			reuse = false
		}
	}
	if err != nil {
		return status, retryAfter, n, false, err
	}
	if reuse && h.chunked {
		// The chunked reader stops at the last chunk; the trailer section
		// and its empty line follow.
		if _, err := readRespHeaderLines(c.br, nil); err != nil {
			reuse = false
		}
	}
	if c.br.Buffered() > 0 {
		// Bytes past the answer: a second answer nobody asked for would
		// be taken for the next request's.
		reuse = false
	}
	return status, retryAfter, n, reuse, nil
}

// respHeader is what a push request needs of an answer's header section.
type respHeader struct {
	status     int
	length     int64 // -1 when absent
	chunked    bool
	keepAlive  bool
	retryAfter string
}

var errBadResponse = errors.New("malformed HTTP response")

// maxInterim is how many interim (1xx) answers may precede the real one.
const maxInterim = 5

var errTooManyInterim = errors.New("too many 1xx informational responses")

// readRespHeader reads a status line and its header section.
func readRespHeader(br *bufio.Reader) (respHeader, error) {
	h := respHeader{length: -1}
	line, err := readLine(br)
	if err != nil {
		return h, err
	}
	// "HTTP/1.1 201 Created": the reason phrase may be empty, even
	// without its space.
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return h, fmt.Errorf("%w: status line %q", errBadResponse, clip(line))
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return h, fmt.Errorf("%w: status line %q", errBadResponse, clip(line))
	}
	h.status = status
	h.keepAlive = line[7] == '1' // HTTP/1.0 closes unless it says otherwise
	seenLength := false
	_, err = readRespHeaderLines(br, func(name, value []byte) error {
		switch {
		case equalFold(name, "content-length"):
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 || (seenLength && v != h.length) {
				return fmt.Errorf("%w: Content-Length %q", errBadResponse, clip(value))
			}
			h.length, seenLength = v, true
		case equalFold(name, "transfer-encoding"):
			if !equalFold(value, "chunked") {
				return fmt.Errorf("%w: Transfer-Encoding %q", errBadResponse, clip(value))
			}
			h.chunked = true
		case equalFold(name, "connection"):
			for _, tok := range splitTokens(value) {
				switch {
				case equalFold(tok, "close"):
					h.keepAlive = false
				case equalFold(tok, "keep-alive") && line[7] == '0':
					h.keepAlive = true
				}
			}
		case equalFold(name, "retry-after"):
			h.retryAfter = string(value)
		}
		return nil
	})
	if h.chunked {
		h.length = -1 // chunked framing wins (RFC 9112 §6.3)
	}
	return h, err
}

// readRespHeaderLines reads header lines up to the empty one, calling f
// (when not nil) with each name and trimmed value; it returns the bytes
// read.
func readRespHeaderLines(br *bufio.Reader, f func(name, value []byte) error) (int, error) {
	total := 0
	for {
		line, err := readLine(br)
		if err != nil {
			return total, err
		}
		total += len(line) + 2
		if total > maxHeaderBytes {
			return total, fmt.Errorf("%w: header section over %d bytes", errBadResponse, maxHeaderBytes)
		}
		if len(line) == 0 {
			return total, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // an obsolete folded continuation: of no header read here
		}
		i := indexByte(line, ':')
		if i <= 0 {
			return total, fmt.Errorf("%w: header line %q", errBadResponse, clip(line))
		}
		if f != nil {
			if err := f(line[:i], trimOWS(line[i+1:])); err != nil {
				return total, err
			}
		}
	}
}

// readLine returns a line without its CRLF (or bare LF). A line longer
// than the reader's buffer is refused unless it is a header no push
// answer needs read whole: its start is returned and the rest skipped.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// Keep the start (the name); drop the rest of the line. The kept
		// slice stays valid only until the next read, so copy it.
		start := append([]byte(nil), line[:64]...)
		skipped := len(line)
		for err == bufio.ErrBufferFull && skipped <= maxHeaderBytes {
			line, err = br.ReadSlice('\n')
			skipped += len(line)
		}
		if err != nil {
			if err == bufio.ErrBufferFull {
				err = fmt.Errorf("%w: a line over %d bytes", errBadResponse, maxHeaderBytes)
			}
			return nil, err
		}
		return start, nil
	}
	if err != nil {
		if err == io.EOF && len(line) == 0 {
			return nil, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// equalFold reports whether b equals the lower-case ASCII s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// splitTokens splits a comma-separated header value.
func splitTokens(v []byte) [][]byte {
	var out [][]byte
	for len(v) > 0 {
		i := indexByte(v, ',')
		if i < 0 {
			i = len(v)
		}
		if t := trimOWS(v[:i]); len(t) > 0 {
			out = append(out, t)
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return out
}

// clip shortens what goes into an error message.
func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
