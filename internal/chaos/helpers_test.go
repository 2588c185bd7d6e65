package chaos_test

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/chaos"
	"github.com/crieur/crieur/internal/e2e/e2etest"
)

func TestTally(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		received, expected []string
		d, dup, lost       int
	}{
		{"none", nil, []string{"a", "b"}, 0, 0, 2},
		{"exact", []string{"b", "a"}, []string{"a", "b"}, 2, 0, 0},
		{"twice", []string{"a", "a", "a", "b"}, []string{"a", "b"}, 2, 2, 0},
		{"unexpected ignored", []string{"x", "a"}, []string{"a", "b"}, 1, 0, 1},
	} {
		d, dup, lost := chaos.Tally(tc.received, tc.expected)
		if d != tc.d || dup != tc.dup || lost != tc.lost {
			t.Errorf("%s: Tally = %d, %d, %d; want %d, %d, %d", tc.name, d, dup, lost, tc.d, tc.dup, tc.lost)
		}
	}
}

func TestTableWriteFile(t *testing.T) {
	t.Parallel()
	var tb chaos.Table
	tb.Add(chaos.Row{Scenario: "b", Expected: 2, Delivered: 2, Bound: -1, Status: "ok", Note: "a|b"})
	tb.Add(chaos.Row{Scenario: "a", Expected: 1, Delivered: 1, Bound: 7, Recovery: 1500 * time.Millisecond, Status: "ok"})
	path := filepath.Join(t.TempDir(), "report.md")
	if err := tb.WriteFile(path, "chaos"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{"# chaos\n", "| a | 1 | 1 | 0 | 0 | 7 | 1.5s | — | ok |  |\n", "| b | 2 | 2 | 0 | 0 | 0 | — | — | ok | a/b |\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "| a |") > strings.Index(got, "| b |") {
		t.Errorf("rows not sorted:\n%s", got)
	}
}

// TestForwarder checks that a forwarder refuses nothing while up, copies
// both ways, and cuts its connections when closed.
func TestForwarder(t *testing.T) {
	t.Parallel()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					c.Write([]byte("echo " + sc.Text() + "\n"))
				}
			}()
		}
	}()
	addr := e2etest.FreeAddr(t)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("dial succeeded before the forwarder started")
	}
	fw, err := chaos.Forward(addr, echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("bonjour\n"))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || line != "echo bonjour\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("connection still open after Close")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("dial succeeded after Close")
	}
}
