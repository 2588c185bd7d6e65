package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/valyala/fasthttp"
)

// counters are a sink's figures since its last reset.
type counters struct {
	count, first, last, bytes atomic.Int64
	// The TLS push stub's: connections opened, most requests in flight at
	// once, and most on one connection (its HTTP/2 streams).
	conns, peakInFlight, peakStreams atomic.Int64
	usedConns                        atomic.Int64 // connections that carried a request

	mu     sync.Mutex
	sample []byte // one message close to the mean size (the SMTP sink)
}

// hit counts one message of size bytes.
func (c *counters) hit(size int) {
	now := time.Now().UnixNano()
	c.bytes.Add(int64(size))
	if c.count.Add(1) == 1 {
		c.first.Store(now)
	}
	c.last.Store(now)
}

// wantSample reports whether the next message should be offered to keep:
// the first 50 after a reset, then one in 97, so the sink's own cost stays
// small.
func (c *counters) wantSample() bool {
	n := c.count.Load() + 1
	return n <= 50 || n%97 == 0
}

// keep stores msg as the sample when it is closer to the mean size than
// the one kept.
func (c *counters) keep(msg []byte) {
	n, sum := c.count.Load(), c.bytes.Load()
	if n == 0 {
		return
	}
	mean := float64(sum) / float64(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sample == nil || math.Abs(float64(len(msg))-mean) < math.Abs(float64(len(c.sample))-mean) {
		c.sample = append(c.sample[:0], msg...)
	}
}

// serveControl serves GET /stats, GET /sample and POST /reset on 127.0.0.1:0 and
// returns its address.
func serveControl(c *counters) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(sinkStats{Count: c.count.Load(), FirstNS: c.first.Load(), LastNS: c.last.Load(),
			Bytes: c.bytes.Load(), CPUNS: int64(cpuTime()), Conns: c.conns.Load(), UsedConns: c.usedConns.Load(), PeakInFlight: c.peakInFlight.Load(),
			PeakStreams: c.peakStreams.Load()})
	})
	mux.HandleFunc("GET /sample", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, _ = w.Write(c.sample)
	})
	mux.HandleFunc("POST /reset", func(http.ResponseWriter, *http.Request) {
		c.count.Store(0)
		c.first.Store(0)
		c.last.Store(0)
		c.bytes.Store(0)
		c.conns.Store(0)
		c.usedConns.Store(0)
		c.peakInFlight.Store(0)
		c.peakStreams.Store(0)
		c.mu.Lock()
		c.sample = nil
		c.mu.Unlock()
	})
	go func() { _ = http.Serve(ln, mux) }()
	return ln.Addr().String(), nil
}

// runChild announces addr and ctrl on stdout and serves until stdin
// closes (the parent stopped it or died).
func runChild(addr, ctrl string) {
	fmt.Printf("addr=%s ctrl=%s\n", addr, ctrl)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// runSMTPSink is the -sink child: a go-smtp server on loopback that
// accepts every message, reads it and throws it away, counting its bytes
// and keeping one message of about the mean size (GET /sample).
func runSMTPSink() error {
	var c counters
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{c: &c}, nil }))
	srv.Domain = "sink.localhost"
	srv.MaxMessageBytes = 32 << 20
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = srv.Serve(ln) }()
	ctrl, err := serveControl(&c)
	if err != nil {
		return err
	}
	runChild(ln.Addr().String(), ctrl)
	return srv.Close()
}

type sinkSession struct{ c *counters }

func (s *sinkSession) Reset()                               {}
func (s *sinkSession) Logout() error                        { return nil }
func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	if s.c.wantSample() {
		var b bytes.Buffer
		if _, err := b.ReadFrom(r); err != nil {
			return err
		}
		s.c.hit(b.Len())
		s.c.keep(b.Bytes())
		return nil
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	s.c.hit(int(n))
	return nil
}

// runPushStub is the -push-stub child: a plain-HTTP push service on
// loopback answering 201 to every POST without checking or decrypting
// (as pushtest's CountOnly), after latency, recording when the first one
// arrived.
func runPushStub(latency time.Duration) error {
	var c counters
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// fasthttp rather than net/http: the stub shares this machine's cores
	// with the sender it measures, and a real push service does not. Its
	// CPU per request is a fraction of net/http's, so more of the machine
	// goes to the sender and the throughput figures say more about it.
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if !ctx.IsPost() {
				ctx.Error("POST only", fasthttp.StatusMethodNotAllowed)
				return
			}
			c.hit(len(ctx.PostBody())) // the push arrived; the answer takes latency
			if latency > 0 {
				time.Sleep(latency)
			}
			ctx.SetStatusCode(fasthttp.StatusCreated)
		},
		ReadTimeout:        10 * time.Second,
		MaxRequestBodySize: 64 << 10,
	}
	go func() { _ = srv.Serve(ln) }()
	ctrl, err := serveControl(&c)
	if err != nil {
		return err
	}
	runChild(ln.Addr().String(), ctrl)
	return srv.Shutdown()
}
