package push

import (
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
