package smtpin

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// tooMany is the greeting of a client over its share of connections: a
// temporary refusal, which an MTA retries later.
const tooMany = "421 4.7.0 Too many connections from your address, try again later\r\n"

// perClientListener refuses a client's connection beyond max open at once.
type perClientListener struct {
	net.Listener
	max int
	log *slog.Logger

	mu   sync.Mutex
	open map[netip.Prefix]int
}

// clientKey is the address a connection is counted under: an IPv4
// address, or an IPv6 address's /64 (one host usually holds a whole /64).
func clientKey(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p
	}
	return netip.PrefixFrom(ip, 32)
}

func (l *perClientListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		l.mu.Lock()
		over := l.open[key] >= l.max
		if !over {
			l.open[key]++
		}
		l.mu.Unlock()
		if !over {
			return &clientConn{Conn: c, release: func() { l.release(key) }}, nil
		}
		l.log.Debug("bounce listener: client over its connections; refused", "max", l.max)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write([]byte(tooMany))
		c.Close()
	}
}

func (l *perClientListener) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// clientConn gives its client's count back once, when closed.
type clientConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *clientConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
