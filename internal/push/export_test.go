package push

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
)

// EncryptWith exposes the encryption with a chosen ephemeral key, salt and
// padding, for the RFC 8291 test vector.
var EncryptWith = encrypt

// PaddedLen exposes the padding buckets.
var PaddedLen = paddedLen

// TrustRoots makes a client from NewHTTPClient trust pool, as a test's
// TLS server needs.
func TrustRoots(c *http.Client, pool *x509.CertPool) {
	t := c.Transport.(*transport)
	t.h1.TLSClientConfig = &tls.Config{RootCAs: pool}
	t.h2.TLSClientConfig = &tls.Config{RootCAs: pool}
}

// NewBatchConn exposes the write-combining connection the HTTP/2 client
// runs on.
func NewBatchConn(tc *tls.Conn) net.Conn { return newBatchConn(tc) }

// ReadAnswer runs the HTTP/1.1 pool's request on a connection that
// answers raw, and returns what it made of the answer.
func ReadAnswer(raw []byte) (status int, retryAfter string, head []byte, reuse bool, err error) {
	c := &h1Conn{nc: scriptedConn{Reader: bytes.NewReader(raw)}}
	c.br = bufio.NewReaderSize(c.nc, 4096)
	var buf [errBodyLen]byte
	status, retryAfter, n, reuse, err := c.roundTrip([]byte("POST / HTTP/1.1\r\n\r\n"), buf[:])
	return status, retryAfter, buf[:n], reuse, err
}

// scriptedConn reads a script and swallows writes.
type scriptedConn struct {
	net.Conn
	*bytes.Reader
}

func (c scriptedConn) Read(p []byte) (int, error)  { return c.Reader.Read(p) }
func (c scriptedConn) Write(p []byte) (int, error) { return len(p), nil }
