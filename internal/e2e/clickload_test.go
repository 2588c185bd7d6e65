package e2e_test

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// cpuTime is a process's user and system CPU time, from /proc.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// The fields after the command name, which may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// TestClickLoad sends a burst of clicks on one digest link to a real
// crieur serve over keep-alive connections and measures the daemon's CPU
// per redirect (under 1 ms) and the rate, then checks every click was
// counted, once. CRIEUR_CLICK_LOAD sets how many (default 20,000; the
// README's figures come from 200,000).
func TestClickLoad(t *testing.T) {
	e2etest.Parallel(t)
	c := setupClicks(t, false)
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("CRIEUR_CLICK_LOAD")); err == nil && v > 0 {
		n = v
	}
	link := c.links["alice@example.org"][0]
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var sent, bad atomic.Int64
	pid := c.p.PID()
	cpu0, t0 := cpuTime(t, pid), time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for sent.Add(1) <= int64(n) {
				req, _ := http.NewRequest("GET", link, nil)
				req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
				resp, err := cl.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(t0), cpuTime(t, pid)-cpu0
	if bad.Load() > 0 {
		t.Fatalf("%d of %d clicks not answered 302", bad.Load(), n)
	}
	perClick := cpu / time.Duration(n)
	t.Logf("%d clicks in %v: %.0f clicks/s; crieur CPU %v, %v per redirect (the load generator shares the machine)",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), cpu, perClick)
	if perClick >= time.Millisecond {
		t.Errorf("%v of CPU per redirect, want well under 1 ms", perClick)
	}
	// Every click counted once: one reader (one client), no scanner.
	var r clickRun
	e2etest.WaitFor(t, 30*time.Second, "every click counted", func() bool {
		r = clickRun{}
		c.do("GET", "/api/v1/digests/runs/"+c.run, nil, &r)
		return r.Clicks >= n
	})
	if r.Clicks != n || r.ScannerClicks != 0 || r.Clickers != 1 {
		t.Errorf("run %+v, want %d clicks by 1 clicker, none a scanner's", r, n)
	}
}
