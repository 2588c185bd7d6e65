package mail_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// benchMessage is a ~7 KB multipart digest.
func benchMessage(tb testing.TB) []byte {
	tb.Helper()
	m := digest("reader@example.org")
	for len(m.Text)+len(m.HTML) < 6200 {
		m.Text += "\n" + strings.Repeat("Un paragraphe de plus pour atteindre la taille habituelle. ", 2)
		m.HTML += "<p>" + strings.Repeat("Un paragraphe de plus pour atteindre la taille habituelle. ", 2) + "</p>"
	}
	return mustBytes(tb, m)
}

// BenchmarkRawGoMail is go-mail alone (defaults: NOOP and RSET around each
// message) sending to a discarding sink: the baseline for the digest
// benchmark.
func BenchmarkRawGoMail(b *testing.B) {
	raw := benchMessage(b)
	for _, conns := range []int{1, 4} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			srv := mailtest.NewServer(b, mailtest.WithDiscard())
			b.SetBytes(int64(len(raw)))
			b.ResetTimer()
			rate, err := mailtest.RawGoMailThroughput(context.Background(), srv.URL(), conns, b.N, raw)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(rate, "msg/s")
		})
	}
}

// BenchmarkSender is crieur's path: NewSMTP → NewSender per connection →
// Send of pre-composed bytes (optionally DKIM-signed per message).
func BenchmarkSender(b *testing.B) {
	raw := benchMessage(b)
	for _, sign := range []bool{false, true} {
		for _, conns := range []int{1, 4} {
			b.Run(fmt.Sprintf("dkim=%t/conns=%d", sign, conns), func(b *testing.B) {
				var d *mail.DKIM
				if sign {
					d = newDKIM(b, false)
				}
				srv := mailtest.NewServer(b, mailtest.WithDiscard())
				tr, err := mail.NewSMTP(srv.URL(), mail.SMTPOptions{Timeout: 10 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				senders := make([]mail.Sender, conns)
				for i := range senders {
					if senders[i], err = tr.NewSender(context.Background()); err != nil {
						b.Fatal(err)
					}
					defer senders[i].Close()
				}
				b.SetBytes(int64(len(raw)))
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				errs := make(chan error, conns)
				for i, s := range senders {
					share := b.N / conns
					if i < b.N%conns {
						share++
					}
					wg.Go(func() {
						for range share {
							msg := raw
							if d != nil {
								var err error
								if msg, err = d.Sign(raw); err != nil {
									errs <- err
									return
								}
							}
							if err := s.Send(context.Background(), bounce, "reader@example.org", msg); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
			})
		}
	}
}

// BenchmarkCompose measures Message.Bytes for the digest.
func BenchmarkCompose(b *testing.B) {
	m := digest("reader@example.org")
	for b.Loop() {
		if _, err := m.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendPath compares, in one run, main's sending path before this
// change (go-mail's Client.Mail, Rcpt and Data, the body through its
// DotWriter: three round trips and a byte-at-a-time copy) with crieur's
// Sender against a sink that offers PIPELINING (go-smtp's default) and one
// that does not (only the one-pass body write then differs). The sink
// discards and runs in this process, so ns/op is sender and sink together.
func BenchmarkSendPath(b *testing.B) {
	raw := benchMessage(b)
	for _, conns := range []int{1, 4} {
		for _, path := range []string{"gomail-dotwriter", "crieur-nopipelining", "crieur-pipelining"} {
			b.Run(fmt.Sprintf("conns=%d/path=%s", conns, path), func(b *testing.B) {
				var opts []mailtest.Option
				if path == "crieur-nopipelining" {
					opts = append(opts, mailtest.WithoutPipelining())
				}
				srv := mailtest.NewServer(b, append(opts, mailtest.WithDiscard())...)
				send := make([]func() error, conns)
				for i := range send {
					if path == "gomail-dotwriter" {
						send[i] = goMailSend(b, srv.Addr(), raw)
						continue
					}
					tr, err := mail.NewSMTP(srv.URL(), mail.SMTPOptions{Timeout: 10 * time.Second})
					if err != nil {
						b.Fatal(err)
					}
					s, err := tr.NewSender(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = s.Close() })
					send[i] = func() error { return s.Send(context.Background(), bounce, "reader@example.org", raw) }
				}
				b.SetBytes(int64(len(raw)))
				cpu0 := processCPU(b)
				b.ResetTimer()
				var wg sync.WaitGroup
				errs := make(chan error, conns)
				for i, f := range send {
					share := b.N / conns
					if i < b.N%conns {
						share++
					}
					wg.Go(func() {
						for range share {
							if err := f(); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				// CPU time is steadier than wall time on a shared machine;
				// it counts the sink (in this process) too.
				b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				if n := srv.Count(); n != b.N {
					b.Fatalf("sink counted %d messages, want %d", n, b.N)
				}
			})
		}
	}
}

// goMailSend dials addr with go-mail as NewSMTP configures it (no NOOP, no
// RSET) and returns the per-message exchange main's Sender ran: MAIL, RCPT
// and DATA one round trip each, the body through go-mail's DataCloser.
func goMailSend(tb testing.TB, addr string, raw []byte) func() error {
	tb.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	client, err := gomail.NewClient(host, gomail.WithPort(p), gomail.WithTLSPolicy(gomail.NoTLS),
		gomail.WithoutNoop(), gomail.WithoutRset(), gomail.WithTimeout(10*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := client.DialToSMTPClientWithContext(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Quit() })
	return func() error {
		if err := c.Mail("<" + bounce + ">"); err != nil {
			return err
		}
		if err := c.Rcpt("<reader@example.org>"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write(raw); err != nil {
			return err
		}
		return w.Close()
	}
}

// processCPU returns the user and system CPU time this process has used.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
