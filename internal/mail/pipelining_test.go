package mail_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crieur/crieur/internal/mail"
	"github.com/crieur/crieur/internal/mail/mailtest"
)

// modes runs f with a sink that offers PIPELINING and with one that does
// not; opts are the sink's other options.
func modes(t *testing.T, f func(t *testing.T, pipelining bool, opts ...mailtest.Option)) {
	t.Helper()
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%t", pipelining), func(t *testing.T) {
			t.Parallel()
			var opts []mailtest.Option
			if !pipelining {
				opts = append(opts, mailtest.WithoutPipelining())
			}
			f(t, pipelining, opts...)
		})
	}
}

// TestSMTPPipelining: MAIL, RCPT and DATA leave together when the server
// offers PIPELINING (RFC 2920), one at a time when it does not, and the
// messages arrive intact either way.
func TestSMTPPipelining(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, pipelining bool, opts ...mailtest.Option) {
		srv, s := setup(t, opts...)
		for i := range 3 {
			if err := send(t, s, fmt.Sprintf("r%d@example.org", i)); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		msgs := srv.Wait(3, 5*time.Second)
		want := 0
		if pipelining {
			want = 3
		}
		if n := srv.PipelinedTransactions(); n != want {
			t.Errorf("pipelined transactions = %d, want %d", n, want)
		}
		for i, m := range msgs {
			if m.To[0] != fmt.Sprintf("r%d@example.org", i) || m.Text() != digest("x@example.org").Text {
				t.Errorf("message %d to %v, text %q", i, m.To, m.Text())
			}
		}
		if n := srv.Connections(); n != 1 {
			t.Errorf("connections = %d, want 1", n)
		}
	})
}

// TestSMTPRejectedRcptSendsNoBody: a refused recipient is a Recipient
// failure; the body never goes out (with PIPELINING the server answers
// DATA with 5xx, having no recipient); the connection stays usable.
func TestSMTPRejectedRcptSendsNoBody(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, pipelining bool, opts ...mailtest.Option) {
		var log lockedBuffer
		opts = append(opts, mailtest.WithProtocolLog(&log), mailtest.WithRcptHook(func(rcpt string, n int) *smtp.SMTPError {
			switch {
			case strings.HasPrefix(rcpt, "gone@"):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
			case strings.HasPrefix(rcpt, "full@"):
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
			}
			return nil
		}))
		srv, s := setup(t, opts...)
		se := wantKind(t, send(t, s, "gone@example.org"), mail.Recipient, 550)
		if se.Stage != "rcpt" || se.Enhanced != "5.1.1" {
			t.Errorf("stage %q enhanced %q", se.Stage, se.Enhanced)
		}
		se = wantKind(t, send(t, s, "full@example.org"), mail.Temporary, 452)
		if se.Stage != "rcpt" {
			t.Errorf("stage %q", se.Stage)
		}
		if err := send(t, s, "ok@example.org"); err != nil {
			t.Fatalf("next message on the same Sender: %v", err)
		}
		msgs := srv.Wait(1, 5*time.Second)
		if len(msgs) != 1 || msgs[0].To[0] != "ok@example.org" || srv.Connections() != 1 {
			t.Errorf("%d messages to %v, %d connections", len(msgs), msgs[0].To, srv.Connections())
		}
		conv := log.String()
		for _, rcpt := range []string{"gone@example.org", "full@example.org"} {
			if strings.Contains(conv, "To: "+rcpt) {
				t.Errorf("the body for %s went out:\n%s", rcpt, conv)
			}
		}
		if !strings.Contains(conv, "To: ok@example.org") {
			t.Errorf("the conversation lacks the delivered body:\n%s", conv)
		}
	})
}

// TestSMTPRecipientKindsBothModes: the reply codes keep their Kind whether
// or not the commands were pipelined.
func TestSMTPRecipientKindsBothModes(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, pipelining bool, opts ...mailtest.Option) {
		t.Run("421 at RCPT drops and redials", func(t *testing.T) {
			srv, s := setup(t, append(opts, mailtest.WithRcptHook(func(rcpt string, n int) *smtp.SMTPError {
				if n == 1 {
					return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Closing"}
				}
				return nil
			}))...)
			wantKind(t, send(t, s, "a@example.org"), mail.Temporary, 421)
			if err := send(t, s, "a@example.org"); err != nil {
				t.Fatal(err)
			}
			srv.Wait(1, 5*time.Second)
			if srv.Connections() != 2 {
				t.Errorf("connections = %d, want 2", srv.Connections())
			}
		})
		t.Run("5xx at MAIL is a Server failure", func(t *testing.T) {
			srv := mailtest.NewServer(t, append(opts, mailtest.WithAuth("u", "p"))...)
			tr, err := mail.NewSMTP("smtp://"+srv.Addr()+"?tls=none", mail.SMTPOptions{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			s, err := tr.NewSender(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for range 2 { // the connection stays in step after the first
				se := wantKind(t, send(t, s, "a@example.org"), mail.Server, 502)
				if se.Stage != "mail" {
					t.Errorf("stage %q", se.Stage)
				}
			}
			if srv.Connections() != 1 {
				t.Errorf("connections = %d, want 1", srv.Connections())
			}
		})
		t.Run("a 5.7.1 after the body is a refusal of the message, not of the address", func(t *testing.T) {
			srv, s := setup(t, append(opts, mailtest.WithDataHook(func(rcpt string, n int) *smtp.SMTPError {
				if n == 1 {
					return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Rejected"}
				}
				return nil
			}))...)
			se := wantKind(t, send(t, s, "a@example.org"), mail.Rejected, 554)
			if se.Stage != "end-of-data" {
				t.Errorf("stage %q", se.Stage)
			}
			if err := send(t, s, "a@example.org"); err != nil {
				t.Fatal(err)
			}
			srv.Wait(1, 5*time.Second)
		})
	})
}

// TestSMTPPipelinedDataAcceptedAfterRejectedRcpt: a server may answer 354
// to a pipelined DATA although it refused every recipient; RFC 2920 3.1
// then wants a lone dot, not the body. go-smtp never does this, so a
// scripted server plays it.
func TestSMTPPipelinedDataAcceptedAfterRejectedRcpt(t *testing.T) {
	t.Parallel()
	srv := newScripted(t)
	tr, err := mail.NewSMTP("smtp://"+srv.addr+"?tls=none", mail.SMTPOptions{Timeout: 5 * time.Second, HELO: "crieur.test"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tr.NewSender(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	se := wantKind(t, send(t, s, "gone@example.org"), mail.Recipient, 550)
	if se.Stage != "rcpt" {
		t.Errorf("stage %q", se.Stage)
	}
	if err := send(t, s, "ok@example.org"); err != nil {
		t.Fatalf("next message: %v", err)
	}
	_ = s.Close()
	datas, conns := srv.result()
	if conns != 1 || len(datas) != 2 {
		t.Fatalf("%d connections, %d DATA sections, want 1 and 2", conns, len(datas))
	}
	if datas[0] != "" {
		t.Errorf("the refused message's DATA carried %q, want nothing (a lone dot)", datas[0])
	}
	if !strings.Contains(datas[1], "To: ok@example.org") {
		t.Errorf("the second message's DATA lacks its header: %q", datas[1])
	}
}

// scripted is a small SMTP server that offers PIPELINING, refuses RCPT to
// gone@…, and answers DATA with 354 whatever came before.
type scripted struct {
	addr  string
	mu    sync.Mutex
	datas []string
	conns int
}

func newScripted(t *testing.T) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &scripted{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			srv.mu.Lock()
			srv.conns++
			srv.mu.Unlock()
			wg.Go(func() { srv.serve(c) })
		}
	})
	return srv
}

func (srv *scripted) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	reply := func(s string) { _, _ = w.WriteString(s + "\r\n"); _ = w.Flush() }
	reply("220 scripted ESMTP")
	rcpts := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimRight(line, "\r\n")); {
		case strings.HasPrefix(cmd, "EHLO"):
			reply("250-scripted\r\n250-PIPELINING\r\n250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM:"), cmd == "RSET", cmd == "NOOP":
			rcpts = 0
			reply("250 2.0.0 OK")
		case strings.HasPrefix(cmd, "RCPT TO:<GONE@"):
			reply("550 5.1.1 No such user")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			rcpts++
			reply("250 2.1.5 OK")
		case cmd == "DATA":
			reply("354 Go ahead")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(l)
			}
			srv.mu.Lock()
			srv.datas = append(srv.datas, data.String())
			srv.mu.Unlock()
			if rcpts == 0 {
				reply("554 5.5.1 No valid recipients")
			} else {
				reply("250 2.0.0 Queued")
			}
			rcpts = 0
		case cmd == "QUIT":
			reply("221 2.0.0 Bye")
			return
		default:
			reply("502 5.5.2 Unknown command")
		}
	}
}

func (srv *scripted) result() (datas []string, conns int) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return append([]string(nil), srv.datas...), srv.conns
}
