package e2e_test

import (
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// TestUnreadableReportQuotesNothing: a message at the bounce listener
// whose header cannot be read (many mailer daemons start their text
// with "<address>: …") is parked for an admin, and the line that broke
// the header, a reader's address, is neither logged nor shown in the
// parked list editors see on the health page. Before, the parse error
// quoted the line into the WARN log and into the parked reason.
func TestUnreadableReportQuotesNothing(t *testing.T) {
	e2etest.Parallel(t)
	listen := e2etest.FreeAddr(t)
	f := flowSetup(t, map[string]string{"CRIEUR_BOUNCE_DOMAIN": "bounces.test", "CRIEUR_BOUNCE_LISTEN": listen}, "monde")
	const victim = "lectrice.secrete@example.org"
	f.importCSV("readers.csv", []string{victim + ",monde,daily,fr,confirmed"})
	p := f.start()
	raw := "From: MAILER-DAEMON@mx.example\r\nSubject: failure\r\n" + victim + " user unknown\r\n\r\nThe mail could not be delivered.\r\n"
	var err error
	for range 50 { // the listener may still be starting
		if err = smtp.SendMail(listen, nil, "", []string{"b-whatever@bounces.test"}, []byte(raw)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("send to the bounce listener: %v", err)
	}
	e2etest.WaitFor(t, 10*time.Second, "the report to be parked", func() bool {
		return e2etest.Count(t, f.env, "SELECT count(*) FROM parked_reports") == 1
	})
	ed := login(t, p, "redaction@journal.example", "editor")
	resp, body := ed.get("/admin/health")
	if resp.StatusCode != 200 || !strings.Contains(body, `id="parked"`) {
		t.Fatalf("editor's health page: %d, no parked report listed", resp.StatusCode)
	}
	if strings.Contains(body, "secrete") {
		t.Errorf("the editor's health page shows the reader's address from an unreadable report")
	}
	if reasons := e2etest.Column(t, f.env, "SELECT reason FROM parked_reports"); len(reasons) != 1 || strings.Contains(reasons[0], "secrete") {
		t.Errorf("parked reason %q quotes the report", reasons)
	}
	time.Sleep(200 * time.Millisecond) // let the log line land
	if strings.Contains(p.Logs(), "secrete") {
		t.Errorf("the daemon's log quotes the reader's address from an unreadable report:\n%s", e2etest.Tail(p.Logs(), 2000))
	}
}

// TestBounceListenerOneClientCannotTakeEverySlot: a client opening 40
// connections to the bounce listener and saying nothing gets 8 served
// and the rest answered 421 at once, and an MTA on another address is
// still greeted. Before, the client's first 32 took every slot (each
// kept up to the 10 min session limit by a NOOP now and then) and the
// MTA waited, unanswered, in the backlog.
func TestBounceListenerOneClientCannotTakeEverySlot(t *testing.T) {
	e2etest.Parallel(t)
	listen := e2etest.FreeAddr(t)
	f := flowSetup(t, map[string]string{"CRIEUR_BOUNCE_DOMAIN": "bounces.test", "CRIEUR_BOUNCE_LISTEN": listen}, "monde")
	f.start()
	dial := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		for range 50 { // the listener may still be starting
			c, err := d.Dial("tcp", listen)
			if err == nil {
				return c
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("dial %s from %s", listen, from)
		return nil
	}
	greeting := func(c net.Conn, within time.Duration) string {
		c.SetReadDeadline(time.Now().Add(within))
		b := make([]byte, 128)
		n, _ := c.Read(b)
		return string(b[:n])
	}
	var held, refused int
	for range 40 {
		c := dial("127.0.0.1")
		defer c.Close()
		switch g := greeting(c, 300*time.Millisecond); {
		case strings.HasPrefix(g, "220 "):
			held++
		case strings.HasPrefix(g, "421 "):
			refused++
		}
	}
	if held > 8 || refused < 40-8 {
		t.Errorf("one client: %d connections greeted, %d refused; want at most 8 greeted, the rest refused", held, refused)
	}
	mta := dial("127.0.0.2")
	defer mta.Close()
	if g := greeting(mta, 3*time.Second); !strings.HasPrefix(g, "220 ") {
		t.Errorf("another client's greeting %q, want 220 while the first holds its connections", g)
	}
}
