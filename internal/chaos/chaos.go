// Package chaos holds the pieces of crieur's fault-injection suite that are
// not tests: the table of figures every scenario adds a row to, the
// per-recipient tally that turns what a sink received into delivered,
// duplicated and lost counts, and a TCP forwarder that stands in for a mail
// server going down and coming back on the same address.
//
// The scenarios themselves are the package's tests (`make chaos`): each
// runs a real `crieur serve` against loopback SMTP and push services that
// misbehave on purpose, and checks the promise "nothing lost, nothing twice
// beyond what was on the wire at a crash".
//
// The package imports no crieur package; its tests drive the binary from
// outside through e2etest.
package chaos

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Row is one scenario's figures.
type Row struct {
	// Scenario names the fault, e.g. "smtp 4xx (10%)".
	Scenario string
	// Expected counts the messages that should arrive exactly once;
	// Delivered those that arrived at least once; Duplicated the extra
	// copies; Lost the expected messages that never arrived.
	Expected, Delivered, Duplicated, Lost int
	// Bound is the most duplicates the design allows (-1: the scenario
	// promises none, so the bound is 0 and is shown as such).
	Bound int
	// Recovery is the time from the end of the fault (the server back, the
	// process restarted, the disk writable) to the next message accepted;
	// zero when the fault never stops (shown as "—").
	Recovery time.Duration
	// Total is the time from the trigger (digest run, alert) to the last
	// expected message.
	Total time.Duration
	// Status is "ok", "FAIL", "KNOWN BUG" or "not run".
	Status string
	// Note says anything the numbers need to be read right.
	Note string
}

// Table collects rows from scenarios running in parallel.
type Table struct {
	mu   sync.Mutex
	rows []Row
}

// Add appends a row.
func (t *Table) Add(r Row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows = append(t.rows, r)
}

// Rows returns the rows sorted by scenario name.
func (t *Table) Rows() []Row {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]Row(nil), t.rows...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Scenario < out[j].Scenario })
	return out
}

// Markdown renders the table as GitHub-flavoured Markdown.
func (t *Table) Markdown() string {
	var b strings.Builder
	b.WriteString("| scenario | expected | delivered | duplicated | lost | dup bound | recovery | total | status | note |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, r := range t.Rows() {
		bound := "0"
		if r.Bound >= 0 {
			bound = fmt.Sprint(r.Bound)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %s | %s | %s | %s |\n",
			r.Scenario, r.Expected, r.Delivered, r.Duplicated, r.Lost, bound,
			dur(r.Recovery), dur(r.Total), r.Status, strings.ReplaceAll(r.Note, "|", "/"))
	}
	return b.String()
}

// WriteFile writes the Markdown table, with a heading naming the size, to
// path.
func (t *Table) WriteFile(path, heading string) error {
	data := "# " + heading + "\n\n" + t.Markdown()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		return fmt.Errorf("write chaos report: %w", err)
	}
	return nil
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < 10*time.Second:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

// Tally counts, for each expected key, whether it was received and how many
// extra copies came; keys received that were not expected are ignored.
func Tally(received, expected []string) (delivered, duplicated, lost int) {
	seen := make(map[string]int, len(received))
	for _, k := range received {
		seen[k]++
	}
	for _, k := range expected {
		switch c := seen[k]; c {
		case 0:
			lost++
		default:
			delivered++
			duplicated += c - 1
		}
	}
	return delivered, duplicated, lost
}

// Forwarder accepts TCP connections on a fixed address and copies each to a
// target: a server that is "down" until the forwarder starts, and "gone"
// again once it is closed.
type Forwarder struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Forward listens on addr (host:port) and forwards every connection to
// target.
func Forward(addr, target string) (*Forwarder, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("forward %s: %w", addr, err)
	}
	f := &Forwarder{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

func (f *Forwarder) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", f.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		if !f.track(c, up) {
			return
		}
		f.wg.Add(2)
		go f.pipe(c, up)
		go f.pipe(up, c)
	}
}

// track remembers a pair of connections so Close can cut them; it reports
// false (and closes both) once the forwarder is closed.
func (f *Forwarder) track(a, b net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		a.Close()
		b.Close()
		return false
	}
	f.conns[a], f.conns[b] = struct{}{}, struct{}{}
	return true
}

func (f *Forwarder) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	// One side ended: end both, as a server closing would.
	dst.Close()
	src.Close()
	f.mu.Lock()
	delete(f.conns, dst)
	delete(f.conns, src)
	f.mu.Unlock()
}

// Close stops listening and cuts every forwarded connection.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	err := f.ln.Close()
	f.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
