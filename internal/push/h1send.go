package push

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/crieur/crieur/internal/netguard"
)

// reqBufs holds the buffers requests to HTTP/1.1 services are laid out
// in: header and encrypted body, written in one piece.
var reqBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// aLongTimeAgo is a deadline that makes a blocked read or write return.
var aLongTimeAgo = time.Unix(1, 0)

// sendH1 sends through the transport's HTTP/1.1 pool. It reports false,
// having sent nothing, for an endpoint it leaves to net/http (a host name
// that is not ASCII, which net/http converts).
func (s *Sender) sendH1(ctx context.Context, sub Subscription, m Message) (Result, bool) {
	u, err := url.Parse(sub.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || !httpguts.ValidHostHeader(u.Host) || !ascii(u.Host) {
		return Result{}, false
	}
	bp := reqBufs.Get().(*[]byte)
	defer reqBufs.Put(bp)
	req, err := s.appendH1Request((*bp)[:0], u, sub, m)
	if cap(req) <= 64<<10 {
		*bp = req[:0] // keep the grown buffer for the next request
	}
	if err != nil {
		return Result{Outcome: Failed, Err: err}, true
	}
	if err := ctx.Err(); err != nil {
		return Result{Outcome: Retry, Err: fmt.Errorf("push: %w", err)}, true
	}
	deadline := time.Now().Add(s.timeout)
	ctxDeadline, ctxBound := ctx.Deadline()
	if ctxBound && ctxDeadline.Before(deadline) {
		deadline = ctxDeadline
	} else {
		ctxBound = false
	}
	port := u.Port()
	switch {
	case port != "":
	case u.Scheme == "https":
		port = "443"
	default:
		port = "80"
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	c, err := s.tr.fast.get(ctx, u.Scheme+"://"+addr, addr, u.Hostname(), u.Scheme == "https", deadline)
	if err != nil {
		if errors.Is(err, netguard.ErrNotAllowed) {
			return Result{Outcome: Failed, Err: fmt.Errorf("push: %w", err)}, true
		}
		return Result{Outcome: Retry, Err: fmt.Errorf("push: %w", s.ctxErr(ctx, ctxBound, err))}, true
	}
	_ = c.nc.SetDeadline(deadline)
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	}
	var head [errBodyLen]byte
	status, retryAfter, n, reuse, err := c.roundTrip(req, head[:])
	if stop != nil && !stop() {
		reuse = false // its deadline was cut short
	}
	if err != nil {
		c.close()
		return Result{Outcome: Retry, Err: fmt.Errorf("push: %w", s.ctxErr(ctx, ctxBound, err))}, true
	}
	if reuse {
		s.tr.fast.put(c)
	} else {
		c.close()
	}
	if status >= 200 && status < 300 {
		return Result{Outcome: Delivered, Status: status}, true
	}
	return classify(status, retryAfter, head[:n], s.now()), true
}

// ctxErr is what a failed request reports: the context's error when it
// ended the request (its deadline is the connection's when earlier than
// the Sender's timeout), else err.
func (s *Sender) ctxErr(ctx context.Context, ctxBound bool, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	var ne net.Error
	if ctxBound && errors.As(err, &ne) && ne.Timeout() {
		return context.DeadlineExceeded
	}
	return err
}

// appendH1Request lays out the request to u, in the bytes and header
// order net/http writes (request line, Host, User-Agent, Content-Length,
// then the other headers sorted), and its encrypted body.
func (s *Sender) appendH1Request(b []byte, u *url.URL, sub Subscription, m Message) ([]byte, error) {
	auth, err := s.vapid.header(u.Scheme + "://" + u.Host)
	if err != nil {
		return b, fmt.Errorf("push: %w", err)
	}
	padTo, err := paddedLen(len(m.Payload))
	if err != nil {
		return b, err
	}
	b = append(b, "POST "...)
	b = append(b, u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, u.Host...)
	b = append(b, "\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(headerLen+padTo+tagLen), 10)
	b = append(b, "\r\nAuthorization: "...)
	b = append(b, auth[0]...)
	b = append(b, "\r\nContent-Encoding: aes128gcm\r\nContent-Type: application/octet-stream\r\n"...)
	if m.Topic != "" {
		b = appendField(b, "Topic: ", m.Topic)
	}
	b = strconv.AppendInt(append(b, "Ttl: "...), int64(m.TTL/time.Second), 10)
	b = append(b, "\r\n"...)
	if m.Urgency != "" {
		b = appendField(b, "Urgency: ", m.Urgency)
	}
	b = append(b, "\r\n"...)
	head := len(b)
	out, err := s.body(b, sub, m)
	if err != nil {
		return b[:head], err
	}
	b = out
	if len(b)-head != headerLen+padTo+tagLen {
		return b, fmt.Errorf("push: body of %d bytes, announced %d", len(b)-head, headerLen+padTo+tagLen)
	}
	return b, nil
}

// appendField appends one header line; name ends with ": ".
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

func ascii(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
