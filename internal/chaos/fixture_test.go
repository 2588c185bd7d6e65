package chaos_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	_ "modernc.org/sqlite"

	"github.com/crieur/crieur/internal/chaos"
	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
)

// fixture is one scenario's daemon: its data directory, environment, admin
// token and the running process (restartable on the same database).
type fixture struct {
	t      *testing.T
	dir    string // where the SQLite database lives
	logDir string
	env    e2etest.Env
	token  string
	p      *e2etest.Proc
}

// newFixture prepares a database (SQLite in dbDir, or t.TempDir() when
// empty; extra may set CRIEUR_DATABASE_URL) with the topic "monde" and an
// admin token, for a daemon that never runs a scheduled digest by itself.
// It does not start the daemon.
func newFixture(t *testing.T, dbDir string, extra map[string]string) *fixture {
	t.Helper()
	logDir := t.TempDir()
	if dbDir == "" {
		dbDir = logDir
	}
	env := e2etest.NewEnv(dbDir)
	env["CRIEUR_MAIL_OUTBOX"] = filepath.Join(logDir, "outbox")
	env["CRIEUR_DIGEST_DAILY"] = "0 3 1 1 *" // 03:00 on 1 January: out of the way
	env["CRIEUR_DIGEST_WEEKLY"] = "0 3 1 1 *"
	env["CRIEUR_MAIL_FROM"] = "La Gazette <newsletter@gazette.example>"
	env["CRIEUR_SITE_NAME"] = "La Gazette"
	env["CRIEUR_RETRY_BASE"] = "200ms"
	env["CRIEUR_LEASE"] = "3s"
	env["CRIEUR_SHUTDOWN_GRACE"] = "5s"
	env["CRIEUR_LOG_LEVEL"] = "info"
	for k, v := range extra {
		env[k] = v
	}
	f := &fixture{t: t, dir: dbDir, logDir: logDir, env: env}
	t.Cleanup(func() {
		// Runs after the verdict is in: show what the daemon said.
		if t.Failed() && f.p != nil {
			t.Logf("daemon log (end):\n%s", tail(f.p.Logs(), 4000))
		}
	})
	e2etest.CLI(t, env, "", "topic", "add", "monde", "Monde")
	f.token = e2etest.Token(t, env, "chaos", "admin")
	return f
}

// start starts (or restarts) the daemon.
func (f *fixture) start() *e2etest.Proc {
	f.t.Helper()
	f.p = e2etest.Start(f.t, f.env, f.logDir)
	return f.p
}

// do is Proc.Do with the admin token.
func (f *fixture) do(method, path string, body, out any) int {
	f.t.Helper()
	return f.p.Do(f.t, method, path, f.token, body, out)
}

// readers imports n confirmed daily readers of "monde" with the CLI (before
// the daemon starts) and returns their addresses.
func (f *fixture) readers(n int) []string {
	f.t.Helper()
	addrs := make([]string, n)
	var b strings.Builder
	b.WriteString("email,topics,frequency,lang,status\n")
	for i := range addrs {
		addrs[i] = readerAddr(i)
		b.WriteString(addrs[i] + ",monde,daily,fr,confirmed\n")
	}
	path := filepath.Join(f.logDir, "readers.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		f.t.Fatal(err)
	}
	rep := e2etest.CLI(f.t, f.env, "", "subscribers", "import", path)
	if !strings.Contains(rep, fmt.Sprintf("imported %d ", n)) {
		f.t.Fatalf("import: %s", rep)
	}
	return addrs
}

// readerAddr is the address of reader i.
func readerAddr(i int) string { return fmt.Sprintf("lecteur%06d@example.org", i) }

// articles posts three fresh articles on "monde" (the daemon must run).
func (f *fixture) articles() {
	f.t.Helper()
	now := time.Now()
	for i := range 3 {
		guid := fmt.Sprintf("chaos-%d", i)
		body := map[string]any{"guid": guid, "url": "https://gazette.example/" + guid, "title": fmt.Sprintf("Dépêche %d", i),
			"summary": "Résumé d’une dépêche.", "topics": []string{"monde"},
			"published_at": now.Add(-time.Duration(i+1) * time.Minute).UTC().Format(time.RFC3339)}
		if st := f.do("POST", "/api/v1/articles", body, nil); st != 201 {
			f.t.Fatalf("POST article: %d", st)
		}
	}
}

// runJSON is GET /api/v1/digests/runs/{id}.
type runJSON struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	Recipients   int64  `json:"recipients"`
	Sent         int64  `json:"sent"`
	Failed       int64  `json:"failed"`
	SkippedEmpty int64  `json:"skipped_empty"`
	Error        string `json:"error"`
}

// runDigest starts the daily digest and returns the run id.
func (f *fixture) runDigest() string {
	f.t.Helper()
	var out struct{ ID string }
	if st := f.do("POST", "/api/v1/digests/daily/run", nil, &out); st != 202 || out.ID == "" {
		f.t.Fatalf("POST digest run: %d %+v", st, out)
	}
	return out.ID
}

// run reads a digest run.
func (f *fixture) run(id string) runJSON {
	f.t.Helper()
	// A poll that lands while the database restarts gets a 500 with the
	// contract's error object: a client polls again, and so does the
	// caller (an empty state is "not finished yet").
	var raw json.RawMessage
	if st := f.do("GET", "/api/v1/digests/runs/"+id, nil, &raw); st != http.StatusOK {
		f.t.Logf("GET /api/v1/digests/runs/%s: %d %s (polling on)", id, st, raw)
		return runJSON{}
	}
	var r runJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		f.t.Fatalf("run %s: %v", id, err)
	}
	return r
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

// sendAlert posts an alert to every push subscriber and returns its id.
func (f *fixture) sendAlert(title string) string {
	f.t.Helper()
	var out struct{ ID string }
	body := map[string]any{"title": title, "body": "Dernière minute.", "url": "https://gazette.example/alerte"}
	if st := f.do("POST", "/api/v1/alerts", body, &out); st != 202 || out.ID == "" {
		f.t.Fatalf("POST alert: %d %+v", st, out)
	}
	return out.ID
}

// alert reads an alert.
func (f *fixture) alert(id string) alertJSON {
	f.t.Helper()
	var a alertJSON
	f.do("GET", "/api/v1/alerts/"+id, nil, &a)
	return a
}

// subscriberStatus is a reader's status as stored. Read from the database,
// not through GET /api/v1/subscribers/{email}: the API holds a token to a
// few reader lookups at a time, and a scenario checks hundreds.
func (f *fixture) subscriberStatus(email string) string {
	f.t.Helper()
	st := e2etest.Column(f.t, f.env, "SELECT status FROM subscribers WHERE email = '"+strings.ReplaceAll(email, "'", "''")+"'")
	if len(st) != 1 {
		return fmt.Sprintf("%d rows", len(st))
	}
	return st[0]
}

// openDB opens a separate connection to the daemon's database.
func (f *fixture) openDB() *sql.DB {
	f.t.Helper()
	return e2etest.OpenDB(f.t, f.env)
}

// count runs a COUNT query on the daemon's database.
func (f *fixture) count(query string) int {
	f.t.Helper()
	return e2etest.Count(f.t, f.env, query)
}

// column runs a query returning one text column.
func (f *fixture) column(query string) []string {
	f.t.Helper()
	return e2etest.Column(f.t, f.env, query)
}

// sink is an SMTP sink that remembers the recipient and time of every
// message it accepted (the bytes are discarded), with scripted faults.
type sink struct {
	*mailtest.Server
	mu    sync.Mutex
	rcpts []string
	times []time.Time
}

// sinkFaults scripts a sink: rcpt and data answer RCPT and end of DATA (nil
// accepts), delay slows every accepted message down.
type sinkFaults struct {
	rcpt, data mailtest.Hook
	delay      time.Duration
}

func newSink(t *testing.T, fl sinkFaults, opts ...mailtest.Option) *sink {
	t.Helper()
	s := &sink{}
	opts = append(opts, mailtest.WithDiscard(), mailtest.WithDataHook(func(rcpt string, n int) *smtp.SMTPError {
		if fl.data != nil {
			if e := fl.data(rcpt, n); e != nil {
				return e
			}
		}
		if fl.delay > 0 {
			time.Sleep(fl.delay)
		}
		s.mu.Lock()
		s.rcpts = append(s.rcpts, rcpt)
		s.times = append(s.times, time.Now())
		s.mu.Unlock()
		return nil
	}))
	if fl.rcpt != nil {
		opts = append(opts, mailtest.WithRcptHook(fl.rcpt))
	}
	s.Server = mailtest.NewServer(t, opts...)
	return s
}

// accepted returns the recipients accepted so far.
func (s *sink) accepted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rcpts...)
}

// n returns how many messages were accepted.
func (s *sink) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rcpts)
}

// firstAfter returns the time of the first message accepted after t, or
// the zero time.
func (s *sink) firstAfter(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.times {
		if at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// last returns the time of the last message accepted.
func (s *sink) last() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.times) == 0 {
		return time.Time{}
	}
	return s.times[len(s.times)-1]
}

// timeOf returns when rcpt was first accepted, or the zero time.
func (s *sink) timeOf(rcpt string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.rcpts {
		if r == rcpt {
			return s.times[i]
		}
	}
	return time.Time{}
}

// pushFixture is a daemon with VAPID keys and a push service stub, and n
// endpoints subscribed through the public API.
type pushFixture struct {
	*fixture
	ps        *pushtest.Server
	endpoints []string
}

func newPushFixture(t *testing.T, n, concurrency int, extra map[string]string) *pushFixture {
	t.Helper()
	priv, pub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	ps := pushtest.NewServer(t, pub)
	env := map[string]string{
		"CRIEUR_VAPID_PRIVATE_KEY": priv,
		"CRIEUR_VAPID_PUBLIC_KEY":  pub,
		"CRIEUR_PUSH_CONCURRENCY":  fmt.Sprint(concurrency),
	}
	for k, v := range extra {
		env[k] = v
	}
	f := newFixture(t, "", env)
	f.start()
	b := pushtest.NewBrowser()
	pf := &pushFixture{fixture: f, ps: ps, endpoints: make([]string, n)}
	for i := range pf.endpoints {
		pf.endpoints[i] = ps.Endpoint(b)
	}
	e2etest.SubscribePush(t, f.p, f.token, b.P256dh, b.Auth, pf.endpoints, nil)
	return pf
}

// receivedFor lists the endpoints that received alert id.
func receivedFor(ps *pushtest.Server, id string) []string {
	var out []string
	for _, r := range ps.Received() {
		var p struct {
			AlertID string `json:"alert_id"`
		}
		if json.Unmarshal(r.Payload, &p) == nil && p.AlertID == id {
			out = append(out, r.Endpoint)
		}
	}
	return out
}

// waitUntil polls cond every 50 ms until it holds (true) or timeout passes
// (false). Unlike e2etest.WaitFor it does not fail the test: a scenario
// reports what it saw.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tally is chaos.Tally.
var tally = chaos.Tally

// Shared with the durability tests.
var (
	settle  = e2etest.Settle
	overlap = e2etest.Overlap
	tail    = e2etest.Tail
)
