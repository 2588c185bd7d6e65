package push

import (
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"sync"
	"time"
)

// batchConn sends what the HTTP/2 framer writes to a TLS connection in
// fewer, larger writes: Write only queues the bytes, and one goroutine
// writes everything queued since its last write as one piece (one TLS
// record up to 16 KB, one write system call).
//
// Why: x/net/http2 flushes a request's HEADERS frame and then its DATA
// frame, each flush a TLS record and a write(2), and every response frame
// it acknowledges likewise. With hundreds of requests in flight that is
// most of the sender's HTTP/2 cost, and as much again for the push
// service's reads. Frames queued while a write is under way go out
// together in the next one, so the busier the connection the larger the
// writes; on an idle connection a frame waits only for the writer
// goroutine to be scheduled (the requesting goroutine usually queues its
// DATA frame before that, so a request still leaves in one write).
//
// Write never reorders bytes. A failed write is returned by the next
// Write and closes the connection, so the framer's reader fails the
// streams in flight, as a failed direct write would have.
type batchConn struct {
	tc *tls.Conn

	mu      sync.Mutex
	room    sync.Cond // signalled when the writer takes the queue
	queued  []byte
	spare   []byte
	err     error
	closing bool

	kick chan struct{} // capacity 1: bytes were queued
	done chan struct{} // closed by Close
}

// maxQueued bounds the bytes queued and not yet written: past it Write
// waits for the writer, so a slow peer holds the framer back as a direct
// write would.
const maxQueued = 256 << 10

// errBatchConnClosed is returned by Write after Close.
var errBatchConnClosed = errors.New("push: connection closed")

func newBatchConn(tc *tls.Conn) *batchConn {
	c := &batchConn{tc: tc, kick: make(chan struct{}, 1), done: make(chan struct{})}
	c.room.L = &c.mu
	go c.writeLoop()
	return c
}

// Write queues p for the writer goroutine.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.err == nil && !c.closing && len(c.queued) > 0 && len(c.queued)+len(p) > maxQueued {
		c.room.Wait()
	}
	switch {
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return 0, err
	case c.closing:
		c.mu.Unlock()
		return 0, errBatchConnClosed
	}
	wasEmpty := len(c.queued) == 0
	c.queued = append(c.queued, p...)
	c.mu.Unlock()
	// A non-empty queue has a kick pending or is about to be taken by
	// the writer, which takes everything queued under the same lock.
	if wasEmpty {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// writeLoop writes the queue, whole, each time something was queued.
func (c *batchConn) writeLoop() {
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		// Let the goroutines already runnable queue their frames first:
		// under load one write then carries several requests (fewer
		// records and system calls on both sides); idle, this returns at
		// once.
		runtime.Gosched()
		c.mu.Lock()
		b := c.queued
		c.queued = c.spare[:0]
		c.spare = nil
		c.room.Broadcast()
		c.mu.Unlock()
		if len(b) == 0 {
			continue
		}
		_, err := c.tc.Write(b)
		c.mu.Lock()
		if cap(b) <= 2*maxQueued { // keep a buffer one large write grew only if it stays modest
			c.spare = b[:0]
		}
		if err != nil && c.err == nil {
			c.err = err
			c.room.Broadcast()
		}
		c.mu.Unlock()
		if err != nil {
			// The reader fails the streams in flight: the framer would
			// otherwise learn of the error only on its next write.
			_ = c.tc.NetConn().Close()
			return
		}
	}
}

// Close stops the writer (what is queued and unwritten is dropped: the
// HTTP/2 client closes a connection it has no more use for) and closes
// the TLS connection, or the network connection under it if the TLS
// close-notify cannot be written within 250 ms (a peer that stopped
// reading), as x/net/http2 does for its own *tls.Conn.
func (c *batchConn) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	close(c.done)
	c.room.Broadcast()
	c.mu.Unlock()
	t := time.AfterFunc(250*time.Millisecond, func() { _ = c.tc.NetConn().Close() })
	defer t.Stop()
	return c.tc.Close()
}

// ConnectionState lets x/net/http2 fill in Response.TLS.
func (c *batchConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

func (c *batchConn) Read(p []byte) (int, error)         { return c.tc.Read(p) }
func (c *batchConn) LocalAddr() net.Addr                { return c.tc.LocalAddr() }
func (c *batchConn) RemoteAddr() net.Addr               { return c.tc.RemoteAddr() }
func (c *batchConn) SetDeadline(t time.Time) error      { return c.tc.SetDeadline(t) }
func (c *batchConn) SetReadDeadline(t time.Time) error  { return c.tc.SetReadDeadline(t) }
func (c *batchConn) SetWriteDeadline(t time.Time) error { return c.tc.SetWriteDeadline(t) }
