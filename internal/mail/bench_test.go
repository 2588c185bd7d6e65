package mail_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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
