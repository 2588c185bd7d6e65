package push_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/push"
)

// tlsPair returns a client TLS connection wrapped as the HTTP/2 client
// uses it, and the server end.
func tlsPair(t *testing.T) (client net.Conn, server *tls.Conn) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"push.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := net.Pipe()
	server = tls.Server(c2, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	tc := tls.Client(c1, &tls.Config{ServerName: "push.test", InsecureSkipVerify: true}) //nolint:gosec // a test's own pipe
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	client = push.NewBatchConn(tc)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// Writes from many goroutines at once (the HTTP/2 framer's, one frame per
// Write under its write lock) reach the peer whole, in each writer's
// order, none lost or doubled, though they are written in groups.
func TestBatchConnKeepsEveryWriteWhole(t *testing.T) {
	client, server := tlsPair(t)
	const writers, each = 16, 300
	go func() {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					// A "frame": writer, sequence, a length that varies, the
					// bytes repeated so a torn frame shows.
					n := 1 + (w*7+i*13)%3000
					f := make([]byte, 8+n)
					binary.BigEndian.PutUint16(f[0:], uint16(w))
					binary.BigEndian.PutUint16(f[2:], uint16(i))
					binary.BigEndian.PutUint32(f[4:], uint32(n))
					for k := range n {
						f[8+k] = byte(w + i + k)
					}
					if _, err := client.Write(f); err != nil {
						t.Errorf("write: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
	}()
	next := make([]int, writers)
	for got := 0; got < writers*each; got++ {
		var h [8]byte
		if _, err := io.ReadFull(server, h[:]); err != nil {
			t.Fatalf("after %d frames: %v", got, err)
		}
		w, i, n := int(binary.BigEndian.Uint16(h[0:])), int(binary.BigEndian.Uint16(h[2:])), int(binary.BigEndian.Uint32(h[4:]))
		if w >= writers || i != next[w] || n != 1+(w*7+i*13)%3000 {
			t.Fatalf("frame %d: writer %d sequence %d length %d, want sequence %d", got, w, i, n, next[w])
		}
		next[w]++
		body := make([]byte, n)
		if _, err := io.ReadFull(server, body); err != nil {
			t.Fatal(err)
		}
		for k := range n {
			if body[k] != byte(w+i+k) {
				t.Fatalf("frame %d of writer %d torn at byte %d", i, w, k)
			}
		}
	}
}

// A write that fails (the peer went away) is reported by a later Write and
// closes the connection, so the HTTP/2 reader fails the streams in flight
// rather than waiting for answers that cannot come.
func TestBatchConnReportsAFailedWrite(t *testing.T) {
	client, server := tlsPair(t)
	server.NetConn().Close()
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = client.Write(bytes.Repeat([]byte{1}, 100))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = client.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read after a failed write: %v, want the connection closed", err)
	}
}
