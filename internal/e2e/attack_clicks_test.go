package e2e_test

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// TestHammeringClientHeldNoLonger: a client fetching one tracked link
// without pause (any reader of a digest has its links) must not have its
// clicks held in memory for as long as it keeps going: held clicks are
// capped (200,000), past which every reader's click is dropped, and a
// flood of 13,000 a second filled them in 15 s and grew the daemon by
// 200 MB. A client with many fetches waiting is judged and written at the
// next round, so its clicks are counted while it still clicks.
func TestHammeringClientHeldNoLonger(t *testing.T) {
	e2etest.Parallel(t)
	c := setupClicks(t, false)
	link := c.links["alice@example.org"][0]
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", link, nil)
				req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
				resp, err := cl.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sent.Add(1)
				time.Sleep(time.Millisecond)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	// The flood goes on; its clicks must be written meanwhile, not when
	// it stops (or a minute later).
	deadline := time.Now().Add(12 * time.Second)
	for {
		var r clickRun
		c.do("GET", "/api/v1/digests/runs/"+c.run, nil, &r)
		if r.Clicks > 0 {
			t.Logf("%d clicks written while the client still clicks (%d sent)", r.Clicks, sent.Load())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("none of %d clicks of a client that keeps clicking written after 12 s: all held in memory", sent.Load())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
