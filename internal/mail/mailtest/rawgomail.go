package mailtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// RawGoMailThroughput measures go-mail on its own: it parses msg (an RFC 5322
// message) into a go-mail Msg once per connection, opens conns connections
// to the tls=none SMTP server at rawURL with go-mail's defaults (NOOP before
// and RSET after each message), sends n messages in total spread over them,
// and returns messages per second. It is the baseline crieur's own sending
// path is compared with.
func RawGoMailThroughput(ctx context.Context, rawURL string, conns, n int, msg []byte) (float64, error) {
	if conns < 1 || n < 1 {
		return 0, errors.New("raw go-mail: conns and n must be positive")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, errors.New("raw go-mail: cannot parse URL")
	}
	if t := u.Query().Get("tls"); t != "none" {
		return 0, fmt.Errorf("raw go-mail: only tls=none is supported, got %q", t)
	}
	host, portStr, err := net.SplitHostPort(u.Host)
	if err != nil {
		return 0, fmt.Errorf("raw go-mail: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return 0, fmt.Errorf("raw go-mail: port: %w", err)
	}
	client, err := gomail.NewClient(host, gomail.WithPort(port), gomail.WithTLSPolicy(gomail.NoTLS),
		gomail.WithHELO("localhost"), gomail.WithTimeout(30*time.Second))
	if err != nil {
		return 0, fmt.Errorf("raw go-mail: client: %w", err)
	}
	msgs := make([]*gomail.Msg, conns)
	for i := range msgs {
		if msgs[i], err = gomail.EMLToMsgFromReader(bytes.NewReader(msg)); err != nil {
			return 0, fmt.Errorf("raw go-mail: parse message: %w", err)
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start := time.Now()
	for i := range conns {
		share := n / conns
		if i < n%conns {
			share++
		}
		wg.Go(func() {
			c, err := client.DialToSMTPClientWithContext(ctx)
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("dial: %w", err))
				mu.Unlock()
				return
			}
			defer func() { _ = client.CloseWithSMTPClient(c) }()
			for range share {
				if err := client.SendWithSMTPClient(c, msgs[i]); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("raw go-mail: %w", err)
	}
	return float64(n) / elapsed.Seconds(), nil
}
