package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	_ "modernc.org/sqlite"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// flow is one end-to-end fixture: a data directory, the daemon's
// environment, an admin API token and the running process (restartable).
type flow struct {
	t     *testing.T
	dir   string
	env   e2etest.Env
	token string
	p     *e2etest.Proc
}

// flowSetup prepares a database with topics and an admin token, and the
// environment of a daemon that never runs a scheduled digest by itself.
// extra overrides or adds variables. It does not start the daemon.
func flowSetup(t *testing.T, extra map[string]string, topics ...string) *flow {
	t.Helper()
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	// Keep the cron out of the way: 03:00 on 1 January.
	env["CRIEUR_DIGEST_DAILY"] = "0 3 1 1 *"
	env["CRIEUR_DIGEST_WEEKLY"] = "0 3 1 1 *"
	env["CRIEUR_MAIL_FROM"] = "La Gazette <newsletter@gazette.example>"
	env["CRIEUR_SITE_NAME"] = "La Gazette"
	env["CRIEUR_SHUTDOWN_GRACE"] = "5s"
	for k, v := range extra {
		env[k] = v
	}
	f := &flow{t: t, dir: dir, env: env}
	for _, slug := range topics {
		e2etest.CLI(t, env, "", "topic", "add", slug, strings.ToUpper(slug[:1])+slug[1:])
	}
	f.token = e2etest.Token(t, env, "e2e", "admin")
	return f
}

// start starts (or restarts) the daemon on the fixture's database.
func (f *flow) start() *e2etest.Proc {
	f.t.Helper()
	f.p = e2etest.Start(f.t, f.env, f.dir)
	return f.p
}

// do is Proc.Do with the admin token.
func (f *flow) do(method, path string, body, out any) int {
	f.t.Helper()
	return f.p.Do(f.t, method, path, f.token, body, out)
}

// importCSV writes rows (without header) to a file and imports it with the
// CLI; it returns the CLI's report.
func (f *flow) importCSV(name string, rows []string) string {
	f.t.Helper()
	path := filepath.Join(f.dir, name)
	data := "email,topics,frequency,lang,status\n" + strings.Join(rows, "\n") + "\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return e2etest.CLI(f.t, f.env, "", "subscribers", "import", path)
}

// article posts one article and returns its id.
func (f *flow) article(guid, title string, topics []string, published time.Time) string {
	f.t.Helper()
	var out struct{ ID string }
	body := map[string]any{"guid": guid, "url": "https://gazette.example/" + guid, "title": title,
		"summary": "Résumé de « " + title + " ».", "topics": topics, "published_at": published.UTC().Format(time.RFC3339)}
	if st := f.do("POST", "/api/v1/articles", body, &out); st != 201 {
		f.t.Fatalf("POST article %s: %d", guid, st)
	}
	return out.ID
}

// runJSON is GET /api/v1/digests/runs/{id}.
type runJSON struct {
	ID           string `json:"id"`
	Frequency    string `json:"frequency"`
	State        string `json:"state"`
	Recipients   int64  `json:"recipients"`
	Sent         int64  `json:"sent"`
	Failed       int64  `json:"failed"`
	SkippedEmpty int64  `json:"skipped_empty"`
	Error        string `json:"error"`
}

// runDigest starts a digest run and returns its id.
func (f *flow) runDigest(freq string) string {
	f.t.Helper()
	var out struct{ ID string }
	if st := f.do("POST", "/api/v1/digests/"+freq+"/run", nil, &out); st != 202 || out.ID == "" {
		f.t.Fatalf("POST digest run: %d %+v", st, out)
	}
	return out.ID
}

// waitRun polls a run until it leaves "running" and returns it.
func (f *flow) waitRun(id string, timeout time.Duration) runJSON {
	f.t.Helper()
	var r runJSON
	defer f.logOnFailure(func() string { return fmt.Sprintf("run %+v", r) })
	e2etest.WaitFor(f.t, timeout, "digest run "+id+" to end", func() bool {
		r = runJSON{}
		f.do("GET", "/api/v1/digests/runs/"+id, nil, &r)
		return r.State != "" && r.State != "running"
	})
	return r
}

// logOnFailure logs what and the end of the daemon's log when the test has
// failed (a wait timed out): the log says why.
func (f *flow) logOnFailure(what func() string) {
	if f.t.Failed() && f.p != nil {
		f.t.Logf("%s\ndaemon log:\n%s", what(), e2etest.Tail(f.p.Logs(), 6000))
	}
}

// alertJSON is GET /api/v1/alerts/{id}.
type alertJSON struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Targeted  int64  `json:"targeted"`
	Delivered int64  `json:"delivered"`
	Failed    int64  `json:"failed"`
	Expired   int64  `json:"expired"`
}

// waitAlert polls an alert until cond holds and returns it.
func (f *flow) waitAlert(id string, timeout time.Duration, what string, cond func(alertJSON) bool) alertJSON {
	f.t.Helper()
	var a alertJSON
	defer f.logOnFailure(func() string { return fmt.Sprintf("alert %+v", a) })
	e2etest.WaitFor(f.t, timeout, "alert "+id+": "+what, func() bool {
		a = alertJSON{}
		f.do("GET", "/api/v1/alerts/"+id, nil, &a)
		return cond(a)
	})
	return a
}

// durabilityN is the number of readers (and push subscriptions) of the
// durability scenarios: 3,000 unless CRIEUR_DURABILITY_N says otherwise.
func durabilityN(t *testing.T) int {
	t.Helper()
	if v := os.Getenv("CRIEUR_DURABILITY_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			t.Fatalf("CRIEUR_DURABILITY_N=%q: want an integer ≥ 10", v)
		}
		return n
	}
	return 3000
}

// tallyKeys counts deliveries per recipient.
func tallyKeys(keys []string, expected []string) (delivered, duplicated, lost int) {
	seen := make(map[string]int, len(keys))
	for _, k := range keys {
		seen[k]++
	}
	for _, k := range expected {
		switch c := seen[k]; {
		case c == 0:
			lost++
		default:
			delivered++
			duplicated += c - 1
		}
	}
	return delivered, duplicated, lost
}

// crash describes one interruption of a durability scenario.
type crash struct {
	atSink     int           // messages the sink had accepted once the process was dead
	unrecorded int           // of those, not recorded as sent in the database
	recovery   time.Duration // from the kill to the first new message after the restart
}

const (
	durConns     = 4                    // CRIEUR_SMTP_CONNECTIONS
	durPushConc  = 8                    // CRIEUR_PUSH_CONCURRENCY
	durSinkDelay = 3 * time.Millisecond // per message at the sink
	durKills     = 3
	// durResults bounds the outcomes a pipeline may hold sent but not yet
	// committed besides those on the wire: the recorder's group (64).
	durResults = 64
)

// digestFixture prepares n confirmed readers on one topic, three articles,
// and a slow SMTP sink. It returns the fixture, the sink and the addresses.
func digestFixture(t *testing.T, n int) (*flow, *mailtest.Server, []string) {
	t.Helper()
	sink := mailtest.NewServer(t, mailtest.WithDataHook(func(string, int) *smtp.SMTPError {
		time.Sleep(durSinkDelay)
		return nil
	}))
	f := flowSetup(t, map[string]string{
		"CRIEUR_SMTP_URL":         sink.URL(),
		"CRIEUR_SMTP_CONNECTIONS": strconv.Itoa(durConns),
	}, "monde")
	rows := make([]string, n)
	addrs := make([]string, n)
	for i := range n {
		addrs[i] = fmt.Sprintf("lecteur%05d@example.org", i)
		rows[i] = addrs[i] + ",monde,daily,fr,confirmed"
	}
	rep := f.importCSV("readers.csv", rows)
	if !strings.Contains(rep, fmt.Sprintf("imported %d ", n)) {
		t.Fatalf("import: %s", rep)
	}
	f.start()
	now := time.Now()
	for i := range 3 {
		f.article(fmt.Sprintf("dur-%d", i), fmt.Sprintf("Dépêche %d", i), []string{"monde"}, now.Add(-time.Duration(i+1)*time.Minute))
	}
	return f, sink, addrs
}

// sinkRecipients lists the envelope recipient of every message at the sink.
func sinkRecipients(sink *mailtest.Server) []string {
	msgs := sink.Messages()
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, strings.Join(m.To, ","))
	}
	return out
}

// logScenario prints and logs one scenario's figures.
func logScenario(t *testing.T, name string, expected, delivered, duplicated, lost int, crashes []crash, total time.Duration) {
	t.Helper()
	var rec []string
	for _, c := range crashes {
		rec = append(rec, fmt.Sprintf("%v (at %d, %d unrecorded)", c.recovery.Round(time.Millisecond), c.atSink, c.unrecorded))
	}
	t.Logf("%s: expected %d / delivered %d / duplicated %d / lost %d; recovery %s; total %v",
		name, expected, delivered, duplicated, lost, strings.Join(rec, ", "), total.Round(time.Millisecond))
}

// TestDurabilityDigestKill kills the daemon with SIGKILL three times in the
// middle of a digest run, restarts it on the same database each time, and
// checks that every reader got the digest, and at most the messages that
// were on the wire at each kill twice.
func TestDurabilityDigestKill(t *testing.T) {
	e2etest.Parallel(t)
	n := durabilityN(t)
	f, sink, addrs := digestFixture(t, n)
	begin := time.Now()
	id := f.runDigest("daily")

	var crashes []crash
	for k := range durKills {
		// Kill somewhere in the next 5–20% of the list.
		target := sink.Count() + n/20 + rand.IntN(n*15/100+1)
		if target >= n {
			break
		}
		sink.Wait(target, 60*time.Second)
		f.p.Kill()
		killed := time.Now()
		at := e2etest.Settle(sink.Count)
		sent := e2etest.Count(f.t, f.env, "SELECT COUNT(*) FROM deliveries WHERE kind = 'digest' AND state = 'sent'")
		sending := e2etest.Column(f.t, f.env, "SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.state = 'sending'")
		c := crash{atSink: at, unrecorded: e2etest.Overlap(sinkRecipients(sink), sending)}
		t.Logf("kill %d: %d at the sink, %d recorded sent, %d claimed (sending), %d of them at the sink", k+1, at, sent, len(sending), c.unrecorded)
		if sent > at {
			t.Errorf("kill %d: %d recorded sent but only %d at the sink", k+1, sent, at)
		}
		f.start()
		e2etest.WaitFor(t, 30*time.Second, "delivery to resume", func() bool { return sink.Count() > at })
		c.recovery = time.Since(killed)
		crashes = append(crashes, c)
	}
	r := f.waitRun(id, 90*time.Second)
	total := time.Since(begin)
	delivered, duplicated, lost := tallyKeys(sinkRecipients(sink), addrs)
	logScenario(t, "digest kill -9", n, delivered, duplicated, lost, crashes, total)

	if r.State != "done" || r.Recipients != int64(n) || r.Sent != int64(n) || r.Sent+r.Failed+r.SkippedEmpty != r.Recipients {
		t.Errorf("run = %+v, want done with %d recipients all sent", r, n)
	}
	if lost != 0 {
		t.Errorf("%d readers lost their digest", lost)
	}
	unrecorded := 0
	for _, c := range crashes {
		unrecorded += c.unrecorded
		if c.unrecorded > durConns+durResults {
			t.Errorf("%d messages sent but unrecorded at a kill, bound %d", c.unrecorded, durConns+durResults)
		}
	}
	if duplicated > unrecorded {
		t.Errorf("%d duplicates, more than the %d messages in flight at the kills", duplicated, unrecorded)
	}
}

// TestDurabilitySecondServe starts a second `crieur serve` on the same
// SQLite file in the middle of a digest, as an overlapping deploy or a
// stray manual start does: the newcomer must not take back the messages the
// running daemon holds (that sent them twice), and the two finish the run
// with every reader served once.
func TestDurabilitySecondServe(t *testing.T) {
	e2etest.Parallel(t)
	n := durabilityN(t)
	f, sink, addrs := digestFixture(t, n)
	id := f.runDigest("daily")
	sink.Wait(n/10, 60*time.Second)
	sending := e2etest.Count(t, f.env, "SELECT COUNT(*) FROM deliveries WHERE state = 'sending'")
	second := e2etest.Start(t, f.env, f.dir)
	r := f.waitRun(id, 90*time.Second)
	delivered, duplicated, lost := tallyKeys(sinkRecipients(sink), addrs)
	t.Logf("%d claimed when the second serve started; %d delivered, %d duplicated, %d lost", sending, delivered, duplicated, lost)
	if strings.Contains(second.Logs(), "returned interrupted deliveries") {
		t.Errorf("the second serve took back the running daemon's messages:\n%s", e2etest.Tail(second.Logs(), 2000))
	}
	if r.State != "done" || r.Sent != int64(n) {
		t.Errorf("run = %+v, want done with %d sent", r, n)
	}
	if duplicated != 0 || lost != 0 {
		t.Errorf("%d readers got the digest twice, %d none", duplicated, lost)
	}
}

// TestDurabilityDigestTerm stops the daemon with SIGTERM mid-run: it must
// exit 0, and after a restart the run finishes with no reader getting the
// digest twice.
func TestDurabilityDigestTerm(t *testing.T) {
	e2etest.Parallel(t)
	n := durabilityN(t)
	f, sink, addrs := digestFixture(t, n)
	begin := time.Now()
	id := f.runDigest("daily")
	sink.Wait(n/4+rand.IntN(n/4), 60*time.Second)
	err, took := f.p.Term(15 * time.Second)
	if err != nil {
		t.Fatalf("SIGTERM mid-run: %v after %v\n%s", err, took, e2etest.Tail(f.p.Logs(), 3000))
	}
	stopped := time.Now()
	at := sink.Count()
	sent := e2etest.Count(f.t, f.env, "SELECT COUNT(*) FROM deliveries WHERE kind = 'digest' AND state = 'sent'")
	sending := e2etest.Count(f.t, f.env, "SELECT COUNT(*) FROM deliveries WHERE state = 'sending'")
	if at != sent || sending != 0 {
		t.Errorf("after SIGTERM: %d at the sink, %d recorded sent, %d left sending; want equal and 0", at, sent, sending)
	}
	f.start()
	e2etest.WaitFor(t, 30*time.Second, "delivery to resume", func() bool { return sink.Count() > at })
	recovery := time.Since(stopped)
	r := f.waitRun(id, 90*time.Second)
	delivered, duplicated, lost := tallyKeys(sinkRecipients(sink), addrs)
	logScenario(t, "digest SIGTERM", n, delivered, duplicated, lost,
		[]crash{{atSink: at, recovery: recovery}}, time.Since(begin))
	t.Logf("SIGTERM exit took %v", took.Round(time.Millisecond))
	if r.State != "done" || r.Sent != int64(n) {
		t.Errorf("run = %+v, want done with %d sent", r, n)
	}
	if lost != 0 || duplicated != 0 {
		t.Errorf("lost %d, duplicated %d; want 0 and 0", lost, duplicated)
	}
}

// TestDurabilityAlertKill kills the daemon three times while an alert fans
// out to n push subscriptions.
func TestDurabilityAlertKill(t *testing.T) {
	e2etest.Parallel(t)
	n := durabilityN(t)
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	ps := pushtest.NewServer(t, pub)
	ps.SetGlobalFault(func(int, *http.Request) (int, http.Header, time.Duration) { return 0, nil, 2 * durSinkDelay })
	f := flowSetup(t, map[string]string{
		"CRIEUR_VAPID_PRIVATE_KEY": priv,
		"CRIEUR_VAPID_PUBLIC_KEY":  pub,
		"CRIEUR_PUSH_CONCURRENCY":  strconv.Itoa(durPushConc),
	}, "monde")
	f.start()
	b := pushtest.NewBrowser()
	endpoints := make([]string, n)
	for i := range endpoints {
		endpoints[i] = ps.Endpoint(b)
	}
	e2etest.SubscribePush(t, f.p, f.token, b.P256dh, b.Auth, endpoints, nil)

	begin := time.Now()
	var out struct{ ID string }
	if st := f.do("POST", "/api/v1/alerts", map[string]any{"title": "Urgent", "body": "Séisme", "url": "https://gazette.example/a"}, &out); st != 202 {
		t.Fatalf("POST alert: %d", st)
	}
	var crashes []crash
	for k := range durKills {
		target := ps.Count() + n/20 + rand.IntN(n*15/100+1)
		if target >= n {
			break
		}
		if _, err := ps.Wait(target, 60*time.Second); err != nil {
			t.Fatal(err)
		}
		f.p.Kill()
		killed := time.Now()
		at := e2etest.Settle(ps.Count)
		sent := e2etest.Count(f.t, f.env, "SELECT COALESCE(SUM(delivered), 0) FROM alerts")
		sending := e2etest.PushClaimed(f.t, f.env)
		c := crash{atSink: at, unrecorded: e2etest.Overlap(receivedEndpoints(ps), sending)}
		t.Logf("kill %d: %d at the push service, %d recorded sent, %d claimed (sending), %d of them delivered", k+1, at, sent, len(sending), c.unrecorded)
		if sent > at {
			t.Errorf("kill %d: %d recorded sent but only %d at the push service", k+1, sent, at)
		}
		f.start()
		e2etest.WaitFor(t, 30*time.Second, "push to resume", func() bool { return ps.Count() > at })
		c.recovery = time.Since(killed)
		crashes = append(crashes, c)
	}
	a := f.waitAlert(out.ID, 90*time.Second, "done", func(a alertJSON) bool { return a.State == "done" })
	total := time.Since(begin)
	delivered, duplicated, lost := tallyKeys(receivedEndpoints(ps), endpoints)
	logScenario(t, "alert kill -9", n, delivered, duplicated, lost, crashes, total)
	if errs := ps.Errors(); len(errs) > 0 {
		t.Errorf("push service refused %d requests, first: %v", len(errs), errs[0])
	}
	if a.Targeted != int64(n) || a.Delivered != int64(n) {
		t.Errorf("alert = %+v, want %d targeted and delivered", a, n)
	}
	if lost != 0 {
		t.Errorf("%d subscriptions lost the alert", lost)
	}
	unrecorded := 0
	for _, c := range crashes {
		unrecorded += c.unrecorded
		if c.unrecorded > durPushConc+durResults {
			t.Errorf("%d pushes sent but unrecorded at a kill, bound %d", c.unrecorded, durPushConc+durResults)
		}
	}
	if duplicated > unrecorded {
		t.Errorf("%d duplicates, more than the %d pushes in flight at the kills", duplicated, unrecorded)
	}
}

// receivedEndpoints lists the endpoint of every message the push service
// accepted.
func receivedEndpoints(ps *pushtest.Server) []string {
	var out []string
	for _, r := range ps.Received() {
		out = append(out, r.Endpoint)
	}
	return out
}
