package e2e_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// TestClicksDuringFanout measures what readers' clicks cost a running
// push fan-out: an alert to CRIEUR_FANOUT_BROWSERS browsers (a push stub
// that answers 201 without decrypting) is timed alone, then while clicks
// arrive at CRIEUR_FANOUT_CLICKS a second, three times each. It is a
// measurement for the README and runs only when CRIEUR_FANOUT_BROWSERS is
// set (it loads both cores for a minute); it checks every alert delivered
// and every click counted.
func TestClicksDuringFanout(t *testing.T) {
	browsers, _ := strconv.Atoi(os.Getenv("CRIEUR_FANOUT_BROWSERS"))
	if browsers <= 0 {
		t.Skip("a measurement: set CRIEUR_FANOUT_BROWSERS (and CRIEUR_FANOUT_CLICKS, default 10000) to run it")
	}
	rate, _ := strconv.Atoi(os.Getenv("CRIEUR_FANOUT_CLICKS"))
	if rate <= 0 {
		rate = 10_000
	}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	defer sink.Close()

	const secret = "a-test-secret-of-at-least-32-characters!"
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	env["CRIEUR_PUSH_ALLOW_PRIVATE"] = "true"
	env["CRIEUR_SECRET_KEY"] = secret
	env["CRIEUR_PUSH_CONCURRENCY"] = "64"
	e2etest.CLI(t, env, "", "topic", "add", "monde", "Monde")
	token := e2etest.Token(t, env, "bench", "admin")
	p := e2etest.Start(t, env, dir)
	b := pushtest.NewBrowser()
	var eps []string
	for i := range browsers {
		eps = append(eps, sink.URL+"/p/"+strconv.Itoa(i))
	}
	e2etest.SubscribePush(t, p, token, b.P256dh, b.Auth, eps, []string{"monde"})

	// A tracked link signed as the daemon signs it (the key derives from
	// CRIEUR_SECRET_KEY as internal/daemon does).
	var art, run struct{ ID string }
	if st := p.Do(t, "POST", "/api/v1/articles", token, map[string]any{"url": "https://journal.example/a", "title": "A", "summary": "s",
		"topics": []string{"monde"}, "published_at": time.Now().UTC().Format(time.RFC3339)}, &art); st != 201 {
		t.Fatalf("article: %d", st)
	}
	if st := p.Do(t, "POST", "/api/v1/digests/daily/run", token, nil, &run); st != 202 {
		t.Fatalf("run: %d", st)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("click-links"))
	tk, err := click.NewTokens(m.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	runID, _ := strconv.ParseInt(run.ID, 10, 64)
	artID, _ := strconv.ParseInt(art.ID, 10, 64)
	link := p.URL + "/r/" + tk.Sign(click.Link{Kind: click.KindRun, Scope: runID, Article: artID})

	fanout := func() time.Duration {
		var a struct{ ID string }
		t0 := time.Now()
		if st := p.Do(t, "POST", "/api/v1/alerts", token, map[string]any{"title": "T", "body": "B", "url": "https://journal.example/a",
			"topics": []string{"monde"}}, &a); st != 202 {
			t.Fatalf("alert: %d", st)
		}
		var s struct {
			State     string
			Delivered int
		}
		e2etest.WaitFor(t, 5*time.Minute, "alert "+a.ID+" done", func() bool {
			p.Do(t, "GET", "/api/v1/alerts/"+a.ID, token, nil, &s)
			return s.State == "done"
		})
		if s.Delivered != browsers {
			t.Fatalf("alert %s delivered %d of %d", a.ID, s.Delivered, browsers)
		}
		return time.Since(t0)
	}
	var clicked atomic.Int64
	clicks := func(ctx context.Context) {
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		defer tr.CloseIdleConnections()
		cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		const workers = 64
		every := time.Duration(workers) * time.Second / time.Duration(rate)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				tick := time.NewTicker(every)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					req, _ := http.NewRequest("GET", link, nil)
					req.Header.Set("User-Agent", "Mozilla/5.0 Firefox/128.0")
					resp, err := cl.Do(req)
					if err != nil {
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusFound {
						clicked.Add(1)
					}
				}
			})
		}
		wg.Wait()
	}
	fanout() // warm: statements prepared, connections open
	var alone, loaded []time.Duration
	var cpuAlone, cpuLoaded time.Duration
	for range 3 {
		c0 := cpuTime(t, p.PID())
		alone = append(alone, fanout())
		cpuAlone += cpuTime(t, p.PID()) - c0
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		before := clicked.Load()
		c0, t0 := cpuTime(t, p.PID()), time.Now()
		go func() { clicks(ctx); close(done) }()
		loaded = append(loaded, fanout())
		cancel()
		<-done
		cpuLoaded += cpuTime(t, p.PID()) - c0
		t.Logf("with clicks: %d clicks in %v (%.0f/s)", clicked.Load()-before, time.Since(t0).Round(time.Millisecond),
			float64(clicked.Load()-before)/time.Since(t0).Seconds())
	}
	slices.Sort(alone)
	slices.Sort(loaded)
	t.Logf("fan-out to %d browsers: median %v alone %v, %v with clicks %v: %+.1f%%; crieur CPU %v alone, %v with clicks (3 runs each)",
		browsers, alone[1].Round(time.Millisecond), alone, loaded[1].Round(time.Millisecond), loaded,
		100*(float64(loaded[1])/float64(alone[1])-1), cpuAlone, cpuLoaded)
	var r clickRun
	e2etest.WaitFor(t, 30*time.Second, "every click counted", func() bool {
		r = clickRun{}
		p.Do(t, "GET", "/api/v1/digests/runs/"+run.ID, token, nil, &r)
		return int64(r.Clicks) >= clicked.Load()
	})
	if int64(r.Clicks) != clicked.Load() {
		t.Errorf("run counted %d clicks, %d answered", r.Clicks, clicked.Load())
	}
}
