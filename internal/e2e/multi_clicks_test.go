package e2e_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/click"
	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// TestClicksSeveralInstances: three `crieur serve` on one PostgreSQL take
// the clicks of one link in turn, at once; the run counts every click
// once and its one clicker once (the clickers' salt is shared through the
// database). A browser's "shown" report sent to all three at once counts
// once.
func TestClicksSeveralInstances(t *testing.T) {
	e2etest.Parallel(t)
	c := newCluster(t, 3)
	p := c.procs[0]
	var art, run struct{ ID string }
	if st := p.Do(t, "POST", "/api/v1/articles", c.token, map[string]any{"url": "https://journal.example/a", "title": "A", "summary": "s",
		"topics": []string{"monde"}, "published_at": time.Now().UTC().Format(time.RFC3339)}, &art); st != 201 {
		t.Fatalf("article: %d", st)
	}
	if st := p.Do(t, "POST", "/api/v1/digests/daily/run", c.token, nil, &run); st != 202 {
		t.Fatalf("run: %d", st)
	}
	// Signed as the daemons sign it: the key derives from the shared
	// CRIEUR_SECRET_KEY.
	m := hmac.New(sha256.New, []byte(c.env["CRIEUR_SECRET_KEY"]))
	m.Write([]byte("click-links"))
	tk, err := click.NewTokens(m.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	runID, _ := strconv.ParseInt(run.ID, 10, 64)
	artID, _ := strconv.ParseInt(art.ID, 10, 64)
	path := "/r/" + tk.Sign(click.Link{Kind: click.KindRun, Scope: runID, Article: artID})
	const perInstance = 200
	var wg sync.WaitGroup
	errs := make(chan string, 3*perInstance)
	for _, proc := range c.procs {
		wg.Go(func() {
			cl := noRedirect()
			for range perInstance {
				req, _ := http.NewRequest("GET", proc.URL+path, nil)
				req.Header.Set("User-Agent", "Mozilla/5.0 Firefox/128.0")
				resp, err := cl.Do(req)
				if err != nil {
					errs <- err.Error()
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://journal.example/a" {
					errs <- fmt.Sprintf("%s: %d %q", proc.URL, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	var r clickRun
	e2etest.WaitFor(t, 30*time.Second, "every click counted", func() bool {
		r = clickRun{}
		p.Do(t, "GET", "/api/v1/digests/runs/"+run.ID, c.token, nil, &r)
		return r.Clicks >= 3*perInstance
	})
	if r.Clicks != 3*perInstance || r.ScannerClicks != 0 || r.Clickers != 1 {
		t.Errorf("run %+v, want %d clicks by 1 clicker", r, 3*perInstance)
	}

	// One browser, one alert, its "shown" sent to every instance at once.
	b := pushtest.NewBrowser()
	ep := c.push.Endpoint(b)
	if st := p.Do(t, "POST", "/api/v1/push/subscriptions", "", map[string]any{"subscription": map[string]any{"endpoint": ep,
		"keys": map[string]string{"p256dh": b.P256dh, "auth": b.Auth}}, "topics": []string{"monde"}}, nil); st != 201 {
		t.Fatalf("push subscription: %d", st)
	}
	var a struct{ ID string }
	if st := p.Do(t, "POST", "/api/v1/alerts", c.token, map[string]any{"title": "T", "body": "B", "url": "https://journal.example/a",
		"topics": []string{"monde"}}, &a); st != 202 {
		t.Fatalf("alert: %d", st)
	}
	// The browser reports what it was sent: only then do reports count.
	e2etest.WaitFor(t, 30*time.Second, "alert "+a.ID+" delivered", func() bool {
		var got struct{ Delivered int }
		p.Do(t, "GET", "/api/v1/alerts/"+a.ID, c.token, nil, &got)
		return got.Delivered == 1
	})
	for _, proc := range c.procs {
		for _, typ := range []string{"shown", "shown", "clicked"} {
			wg.Go(func() {
				body := fmt.Sprintf(`{"alert_id":%q,"type":%q,"endpoint":%q}`, a.ID, typ, ep)
				resp, err := http.Post(proc.URL+"/api/v1/push/events", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 204 {
					t.Errorf("push event: %d", resp.StatusCode)
				}
			})
		}
	}
	wg.Wait()
	var got struct{ Shown, Clicked int }
	if st := c.procs[2].Do(t, "GET", "/api/v1/alerts/"+a.ID, c.token, nil, &got); st != 200 || got.Shown != 1 || got.Clicked != 1 {
		t.Errorf("alert: %d %+v, want shown 1, clicked 1", st, got)
	}
}
