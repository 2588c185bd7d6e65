package e2e_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
	"github.com/crieur/crieur/internal/store/pgtest"
)

// TestMain lets the tests that wait for the clock run beside the busy
// ones (see e2etest.Parallel) and stops the throwaway PostgreSQL cluster
// when the tests end.
func TestMain(m *testing.M) {
	e2etest.LiftParallel()
	pgtest.Main(m)
}

// cluster is several `crieur serve` sharing one PostgreSQL database, one
// SMTP sink and one push service.
type cluster struct {
	dbURL string
	db    *sql.DB
	env   e2etest.Env
	procs []*e2etest.Proc
	smtp  *mailtest.Server
	push  *pushtest.Server
	token string
	dir   string
}

func newCluster(t *testing.T, instances int) *cluster {
	t.Helper()
	c := &cluster{dir: t.TempDir(), dbURL: pgtest.URL(t), smtp: mailtest.NewServer(t)}
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	c.push = pushtest.NewServer(t, pub)
	c.env = e2etest.NewEnv(c.dir)
	for k, v := range map[string]string{
		"CRIEUR_DATABASE_URL":      c.dbURL,
		"CRIEUR_SECRET_KEY":        "multi-instance-test-secret-key-0123456789",
		"CRIEUR_VAPID_PRIVATE_KEY": priv,
		"CRIEUR_VAPID_PUBLIC_KEY":  pub,
		"CRIEUR_SMTP_URL":          c.smtp.URL(),
		"CRIEUR_LEASE":             "3s",
		"CRIEUR_RETRY_BASE":        "200ms",
		"CRIEUR_LOG_LEVEL":         "info",
		// 64 in flight: at the default 512 one instance claims an
		// alert to a few thousand test browsers whole, and the tests
		// are about instances sharing the work.
		"CRIEUR_PUSH_CONCURRENCY": "64",
		// No cron run during the test.
		"CRIEUR_DIGEST_DAILY":  "0 0 1 1 *",
		"CRIEUR_DIGEST_WEEKLY": "0 0 1 1 *",
	} {
		c.env[k] = v
	}
	e2etest.CLI(t, c.env, "", "migrate")
	c.token = e2etest.Token(t, c.env, "e2e", "admin")
	e2etest.CLI(t, c.env, "", "topic", "add", "monde", "Monde")
	for range instances {
		c.procs = append(c.procs, e2etest.Start(t, c.env, c.dir))
	}
	c.db, err = sql.Open("pgx", c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.db.Close() })
	return c
}

// seedReaders imports n confirmed daily readers of "monde" by CSV.
func (c *cluster) seedReaders(t *testing.T, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("email,topics,frequency,lang,status\n")
	for i := range n {
		fmt.Fprintf(&b, "r%d@x.test,monde,daily,fr,confirmed\n", i)
	}
	f := filepath.Join(c.dir, "readers.csv")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	e2etest.CLI(t, c.env, "", "subscribers", "import", f)
	for i := range 3 {
		body := map[string]any{"guid": fmt.Sprint("g", i), "url": fmt.Sprintf("https://n.test/%d", i), "title": fmt.Sprint("Article ", i),
			"summary": "Résumé", "topics": []string{"monde"}, "published_at": time.Now().Add(-time.Hour).Format(time.RFC3339)}
		if st := c.procs[i%len(c.procs)].Do(t, "POST", "/api/v1/articles", c.token, body, nil); st != http.StatusCreated {
			t.Fatalf("POST article: %d", st)
		}
	}
}

// seedBrowsers subscribes n browsers through the instances, in parallel.
func (c *cluster) seedBrowsers(t *testing.T, n int) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := range 8 {
		p := c.procs[w%len(c.procs)]
		wg.Go(func() {
			for range next {
				sub := c.push.Subscription(pushtest.NewBrowser())
				body := map[string]any{"subscription": map[string]any{"endpoint": sub.Endpoint, "keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth}},
					"topics": []string{"monde"}, "lang": "fr"}
				if st := p.Do(t, "POST", "/api/v1/push/subscriptions", c.token, body, nil); st != http.StatusCreated {
					t.Errorf("POST push subscription: %d", st)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

type runStatus struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	Recipients   int64  `json:"recipients"`
	Sent         int64  `json:"sent"`
	Failed       int64  `json:"failed"`
	SkippedEmpty int64  `json:"skipped_empty"`
}

type alertStatus struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Targeted  int64  `json:"targeted"`
	Delivered int64  `json:"delivered"`
	Failed    int64  `json:"failed"`
	Expired   int64  `json:"expired"`
}

func sizeFromEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// attemptsOver1 runs q, which lists the recipients of rows claimed more
// than once: the only ones that may have gone out twice.
func (c *cluster) attemptsOver1(t *testing.T, q string) map[string]bool {
	t.Helper()
	rows, err := c.db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out[k] = true
	}
	return out
}

func (c *cluster) owners(t *testing.T, table string) map[string]int {
	t.Helper()
	q := `SELECT COALESCE(locked_by, ''), COUNT(*) FROM ` + table + ` WHERE state = 'sent' GROUP BY locked_by`
	if table == "push_windows" {
		// The instance that finished a window handled most of it, often all.
		q = `SELECT COALESCE(locked_by, ''), SUM(handled) FROM push_windows WHERE state = 'done' GROUP BY locked_by`
	}
	rows, err := c.db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			t.Fatal(err)
		}
		out[o] = n
	}
	return out
}

// checkMail checks that every reader got the digest once, except readers
// whose delivery was claimed again after a crash or a lost record.
func (c *cluster) checkMail(t *testing.T, readers int) {
	t.Helper()
	perRcpt := map[string]int{}
	for _, m := range c.smtp.Messages() {
		for _, to := range m.To {
			perRcpt[to]++
		}
	}
	again := c.attemptsOver1(t, `SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.kind = 'digest' AND d.attempts > 1`)
	dups := 0
	for i := range readers {
		to := fmt.Sprintf("r%d@x.test", i)
		switch n := perRcpt[to]; {
		case n == 0:
			t.Errorf("%s got no digest", to)
		case n > 1 && !again[to]:
			t.Errorf("%s got %d digests but its delivery was claimed once", to, n)
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("email: %d messages to %d readers; %d duplicates, %d deliveries claimed more than once", c.smtp.Count(), readers, dups, len(again))
}

func (c *cluster) checkPush(t *testing.T, browsers int) {
	t.Helper()
	perEP := map[string]int{}
	for _, r := range c.push.Received() {
		perEP[r.Endpoint]++
	}
	if len(perEP) != browsers {
		t.Errorf("push reached %d endpoints, want %d", len(perEP), browsers)
	}
	// A window claimed again may send any of its browsers again.
	again := c.attemptsOver1(t, `SELECT ps.endpoint FROM push_deliveries d JOIN push_subscriptions ps ON ps.id = d.subscription_id WHERE d.attempts > 1`)
	for _, ep := range e2etest.Endpoints(t, c.db, e2etest.WindowSubs(t, c.db, "claims > 1", false)) {
		again[ep] = true
	}
	dups := 0
	for ep, n := range perEP {
		if n > 1 {
			if !again[ep] {
				t.Errorf("%s got %d pushes but its delivery was claimed once", ep, n)
			}
			dups += n - 1
		}
	}
	if errs := c.push.Errors(); len(errs) > 0 {
		t.Errorf("push service saw %d bad requests, first: %v", len(errs), errs[0])
	}
	t.Logf("push: %d messages to %d browsers; %d duplicates, %d claimed more than once", len(c.push.Received()), browsers, dups, len(again))
}

// TestMultiInstanceKill: three instances share a digest of a few thousand
// readers and an alert to a few thousand browsers; one is SIGKILLed midway.
// Nothing is lost, the only duplicates are messages in flight at the kill,
// and the work was shared.
func TestMultiInstanceKill(t *testing.T) {
	e2etest.Parallel(t)
	readers := sizeFromEnv("CRIEUR_MULTI_N", 3000)
	browsers := sizeFromEnv("CRIEUR_MULTI_PUSH_N", 2000)
	c := newCluster(t, 3)
	c.seedReaders(t, readers)
	c.seedBrowsers(t, browsers)

	var run runStatus
	if st := c.procs[0].Do(t, "POST", "/api/v1/digests/daily/run", c.token, nil, &run); st != http.StatusAccepted {
		t.Fatalf("run digest: %d", st)
	}
	var al alertStatus
	alert := map[string]any{"title": "Alerte", "body": "Séisme", "url": "https://n.test/alerte", "topics": []string{}}
	if st := c.procs[1].Do(t, "POST", "/api/v1/alerts", c.token, alert, &al); st != http.StatusAccepted {
		t.Fatalf("send alert: %d", st)
	}
	start := time.Now()
	e2etest.WaitFor(t, 60*time.Second, "a quarter of the digests", func() bool { return c.smtp.Count() >= readers/4 })
	c.procs[2].Kill()
	t.Logf("killed instance 3 after %s: %d emails, %d pushes out", time.Since(start).Round(time.Millisecond), c.smtp.Count(), c.push.Count())

	e2etest.WaitFor(t, 120*time.Second, "the digest run to finish", func() bool {
		c.procs[0].Do(t, "GET", "/api/v1/digests/runs/"+run.ID, c.token, nil, &run)
		return run.State == "done"
	})
	e2etest.WaitFor(t, 60*time.Second, "the alert to finish", func() bool {
		c.procs[1].Do(t, "GET", "/api/v1/alerts/"+al.ID, c.token, nil, &al)
		return al.State == "done"
	})
	t.Logf("digest and alert done in %s", time.Since(start).Round(time.Millisecond))
	if run.Recipients != int64(readers) || run.Recipients != run.Sent+run.Failed+run.SkippedEmpty {
		t.Errorf("run %+v: want recipients %d = sent + failed + skipped_empty", run, readers)
	}
	if al.Delivered != int64(browsers) || al.Targeted != int64(browsers) {
		t.Errorf("alert %+v: want %d targeted and delivered", al, browsers)
	}
	c.checkMail(t, readers)
	c.checkPush(t, browsers)
	for _, table := range []string{"deliveries", "push_windows"} {
		by := c.owners(t, table)
		t.Logf("%s sent per instance: %v", table, by)
		if len(by) < 2 {
			t.Errorf("%s: all sent by one instance: %v", table, by)
		}
	}
}

// TestMultiInstancePostgresRestart: PostgreSQL restarts (connections cut)
// in the middle of a digest run; the run is delayed, not broken, and every
// reader gets it.
func TestMultiInstancePostgresRestart(t *testing.T) {
	if os.Getenv(pgtest.EnvURL) != "" {
		t.Skip("needs the throwaway cluster to restart it")
	}
	readers := sizeFromEnv("CRIEUR_RESTART_N", 800)
	c := newCluster(t, 2)
	c.seedReaders(t, readers)
	var run runStatus
	if st := c.procs[0].Do(t, "POST", "/api/v1/digests/daily/run", c.token, nil, &run); st != http.StatusAccepted {
		t.Fatalf("run digest: %d", st)
	}
	e2etest.WaitFor(t, 60*time.Second, "a quarter of the digests", func() bool { return c.smtp.Count() >= readers/4 })
	pgtest.Restart(t)
	t.Logf("restarted PostgreSQL with %d of %d digests out", c.smtp.Count(), readers)
	e2etest.WaitFor(t, 120*time.Second, "the digest run to finish", func() bool {
		c.procs[1].Do(t, "GET", "/api/v1/digests/runs/"+run.ID, c.token, nil, &run)
		return run.State == "done"
	})
	if run.Recipients != int64(readers) || run.Sent != int64(readers) {
		t.Errorf("run %+v: want %d recipients, all sent", run, readers)
	}
	c.checkMail(t, readers)
	// Both instances are still up and serving.
	for i, p := range c.procs {
		var out map[string]any
		if st := p.Do(t, "GET", "/readyz", "", nil, &out); st != http.StatusOK {
			t.Errorf("instance %d not ready after the restart: %d", i+1, st)
		}
	}
}
