package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push/pushtest"
	"github.com/crieur/crieur/internal/testenv"
)

// inNetNS marks the re-executed test binary running inside the network
// namespace.
const inNetNS = "CRIEUR_E2E_FIREFOX_NETNS"

// TestFirefoxPush runs the whole web push path with a real browser: a
// reader opts in through widget.js on a publisher's page in headless
// Firefox ESR, crieur stores the subscription, an editor sends an alert,
// crieur encrypts and posts it to a push service (pushtest.Autopush) which
// hands it to Firefox over Mozilla's WebSocket protocol, Firefox decrypts it
// and the service worker (sw.js, imported by the publisher's /crieur-sw.js)
// shows it and tells the page; then a reload keeps alerts on, and turning
// them off unsubscribes everywhere.
//
// Isolation: Firefox must reach nothing but the test's servers, so it runs
// in a fresh network namespace whose only interface is loopback. A process
// in that namespace cannot reach the host's 127.0.0.1, so everything must
// live in it: this test re-executes its own binary under `unshare --net`
// (root), and the child (inNetNS set) brings lo up and starts the push
// service, the publisher's page server, crieur and Firefox, all on the
// namespace's 127.0.0.1. The parent only relays the child's log and
// verdict.
func TestFirefoxPush(t *testing.T) {
	runInNetNS(t, e2etest.Parallel, inNetNS, "TestFirefoxPush", 90*time.Second, firefoxPush)
}

// runInNetNS runs child, the test proper of the test named name, in a
// fresh network namespace with only loopback, given the Firefox to drive.
// Called in the test itself, it re-executes the test binary there (marker
// set) and relays the child's log and verdict, giving the child timeout;
// called in that child, it brings lo up and runs child. parallel is
// e2etest.Parallel or, for a test that mostly waits, ParallelWaiting.
func runInNetNS(t *testing.T, parallel func(*testing.T), marker, name string, timeout time.Duration, child func(t *testing.T, firefox string)) {
	if os.Getenv(marker) == "1" {
		firefox := testenv.LookPath(t, "firefox-esr")
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("ip link set lo up: %v: %s", err, out)
		}
		child(t, firefox)
		return
	}
	parallel(t)
	testenv.LookPath(t, "firefox-esr")
	unshare := testenv.LookPath(t, "unshare")
	testenv.LookPath(t, "ip")
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (unshare --net)")
	}
	// Build crieur here, outside the child's time budget; the child's own
	// build is then a cache hit.
	e2etest.Binary(t)

	ctx, cancel := context.WithTimeout(t.Context(), timeout+10*time.Second)
	defer cancel()
	// --pid --fork --kill-child: the child is PID 1 of its own PID
	// namespace, so when it ends, even by a panic, the kernel kills
	// everything it started (crieur, Firefox): nothing outlives the test.
	cmd := exec.CommandContext(ctx, unshare, "--net", "--pid", "--fork", "--kill-child", "--", os.Args[0],
		"-test.run=^"+name+"$", "-test.v", "-test.count=1", "-test.timeout="+timeout.String())
	cmd.Env = append(os.Environ(), marker+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("in the network namespace: %v after %v\n%s", err, time.Since(start).Round(time.Millisecond), out)
	case bytes.Contains(out, []byte("--- SKIP")):
		t.Skipf("skipped in the network namespace:\n%s", out)
	}
	t.Logf("passed in the network namespace in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
}

// ffSetup starts what a Firefox test drives, inside its network
// namespace: the push service, the publisher's page server (pointed at
// crieur), and crieur allowing the publisher's origin and retrying
// fast, with topics and an editor's token. dir holds crieur's files;
// Firefox's profile goes there too.
func ffSetup(t *testing.T, topics ...string) (dir string, ap *pushtest.Autopush, pub *ffPublisher, crieur *e2etest.Proc, token string) {
	t.Helper()
	dir = t.TempDir()
	ap = pushtest.NewAutopush(t)
	pub = newFFPublisher(t)
	env := e2etest.NewEnv(dir)
	env["CRIEUR_ALLOWED_ORIGINS"] = pub.srv.URL
	env["CRIEUR_RETRY_BASE"] = "100ms"
	crieur = e2etest.Start(t, env, dir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("crieur log:\n%s", e2etest.Tail(crieur.Logs(), 8000))
		}
	})
	for _, slug := range topics {
		e2etest.CLI(t, crieur.Env, "", "topic", "add", slug, strings.ToUpper(slug[:1])+slug[1:])
	}
	token = e2etest.Token(t, crieur.Env, "e2e-firefox", "editor")
	pub.crieur.Store(crieur.URL)
	return dir, ap, pub, crieur, token
}

// firefoxPush is the test proper, run inside the network namespace.
func firefoxPush(t *testing.T, firefox string) {
	ctx, cancel := context.WithTimeout(t.Context(), 75*time.Second)
	defer cancel()
	dir, ap, pub, crieur, token := ffSetup(t, "politique", "afrique")

	began := time.Now()
	step := func(what string) { t.Logf("%-28s at %v", what, time.Since(began).Round(time.Millisecond)) }
	startFirefox(t, firefox, filepath.Join(dir, "profile"), ap.WebSocketURL(), pub.srv.URL+"/")

	// The widget is drawn, off, with data-topics ticked.
	loaded := pub.next(ctx, t, "loaded")
	var v ffView
	ffDecode(t, loaded.Result, &v)
	if v.State.Enabled || v.Pressed != "false" || !slices.Equal(v.Checked, []string{"politique"}) || v.Boxes != 2 || v.Label != "Recevoir les alertes" {
		t.Fatalf("widget at first load: %+v", v)
	}

	step("page loaded")

	// The reader clicks "Activer les alertes".
	v = pub.do(ctx, t, "ui-enable")
	if v.Status != "Alertes activées." || !v.State.Enabled || v.Pressed != "true" ||
		!strings.HasPrefix(v.State.Endpoint, ap.URL()+"/") || !slices.Equal(v.State.Topics, []string{"politique"}) {
		t.Fatalf("after opting in: %+v", v)
	}
	endpoint := v.State.Endpoint
	step("subscribed")
	if !slices.Contains(ap.Endpoints(), endpoint) {
		t.Fatalf("endpoint %s not registered with the push service (%v)", endpoint, ap.Endpoints())
	}

	// An editor sends an alert on that topic.
	sent := map[string]any{"title": "Démission du Premier ministre", "body": "Il a remis sa démission ce soir à l'Élysée.",
		"url": "https://journal.example/politique/demission", "topics": []string{"politique"}}
	var created struct{ ID string }
	if st := crieur.Do(t, "POST", "/api/v1/alerts", token, sent, &created); st != 202 || created.ID == "" {
		t.Fatalf("POST /api/v1/alerts: %d %+v", st, created)
	}
	sentAt := time.Now()
	got := pub.next(ctx, t, "push")
	t.Logf("alert POST to service worker: %v", time.Since(sentAt).Round(time.Millisecond))
	for _, k := range []string{"title", "body", "url"} {
		if got.Payload[k] != sent[k] {
			t.Errorf("payload %s = %q, want %q", k, got.Payload[k], sent[k])
		}
	}
	if got.Payload["alert_id"] != created.ID {
		t.Errorf("payload alert_id = %v, want %s", got.Payload["alert_id"], created.ID)
	}
	if !got.Shown || !slices.Contains(got.Notifications, sent["title"].(string)) {
		t.Errorf("notification not shown: shown=%v, notifications %q", got.Shown, got.Notifications)
	}
	// TTL: the default hour, less the time the alert waited in the queue.
	msgs := ap.Sent()
	if len(msgs) != 1 || msgs[0].Endpoint != endpoint || msgs[0].Urgency != "high" ||
		msgs[0].TTL > time.Hour || msgs[0].TTL < 59*time.Minute {
		for _, m := range msgs {
			t.Logf("push service got %s TTL %v Urgency %q Topic %q", m.Endpoint, m.TTL, m.Urgency, m.Topic)
		}
		t.Fatalf("push service got %d messages, want 1 to %s with urgency high and TTL about 1h", len(msgs), endpoint)
	}
	ack, err := ap.WaitAck(ctx, msgs[0].Version)
	if err != nil || ack.Code != pushtest.AckDelivered {
		t.Fatalf("browser ack %+v (%v), want code %d", ack, err, pushtest.AckDelivered)
	}
	ffWaitAlert(ctx, t, crieur, token, created.ID, 1, 1)
	step("alert delivered and acked")
	// sw.js reported the notification shown; a click on it, simulated in
	// the service worker, is reported as opened.
	ffWaitEngagement(ctx, t, crieur, token, created.ID, 1, 0)
	pub.do(ctx, t, "sw-click")
	ffWaitEngagement(ctx, t, crieur, token, created.ID, 1, 1)
	step("shown and clicked reported")

	// The push service loses its state: Firefox reconnects, gets a new
	// uaid, drops the subscription and fires pushsubscriptionchange; sw.js
	// subscribes again and gives crieur the new endpoint with the reader's
	// topics (stored by the widget), and removes the old one.
	ap.Reset()
	if err := ap.Wait(ctx, func() bool { return len(ap.Endpoints()) == 1 }); err != nil {
		t.Fatalf("no new subscription after the push service reset: %v", err)
	}
	newEndpoint := ap.Endpoints()[0]
	step("re-subscribed by sw.js")
	var second struct{ ID string }
	for {
		// Until sw.js has posted the new endpoint the alert targets the old
		// one (410, removed) or nobody.
		if st := crieur.Do(t, "POST", "/api/v1/alerts", token, sent, &second); st != 202 {
			t.Fatalf("POST /api/v1/alerts: %d", st)
		}
		a := ffWaitDone(ctx, t, crieur, token, second.ID)
		if a.Delivered == 1 && a.Targeted == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("crieur never learnt the new endpoint %s: last alert %+v", newEndpoint, a)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if got := pub.next(ctx, t, "push"); got.Payload["alert_id"] != second.ID {
		t.Fatalf("after re-subscription the page got %v, want alert %s", got.Payload, second.ID)
	}
	step("alert to the new endpoint")

	// Alerts stay on across a reload.
	pub.do(ctx, t, "reload")
	ffDecode(t, pub.next(ctx, t, "loaded").Result, &v)
	if !v.State.Enabled || v.Pressed != "true" || v.State.Endpoint != newEndpoint || !slices.Equal(v.Checked, []string{"politique"}) {
		t.Fatalf("after a reload: %+v", v)
	}
	endpoint = newEndpoint

	step("reloaded")

	// The reader turns them off: unsubscribed in the browser, the push
	// service and crieur (the next alert targets nobody).
	v = pub.do(ctx, t, "ui-disable")
	if v.Status != "Alertes désactivées." || v.State.Enabled || v.Pressed != "false" {
		t.Fatalf("after opting out: %+v", v)
	}
	if err := ap.Wait(ctx, func() bool { return !slices.Contains(ap.Endpoints(), endpoint) }); err != nil {
		t.Fatalf("browser did not unregister %s: %v", endpoint, err)
	}
	if st := crieur.Do(t, "POST", "/api/v1/alerts", token, sent, &created); st != 202 {
		t.Fatalf("second alert: %d", st)
	}
	ffWaitAlert(ctx, t, crieur, token, created.ID, 0, 0)
	step("unsubscribed")
	if errs := ap.Errors(); len(errs) > 0 {
		t.Errorf("push service refused requests: %v", errs)
	}
}

// ffView is what the page reports of the widget.
type ffView struct {
	State struct {
		Enabled    bool
		Permission string
		Endpoint   string
		Topics     []string
		Timezone   string
		Quiet      bool
	}
	Pressed, Label, Status string
	Quiet                  string // the quiet-hours choice's label
	Checked                []string
	Boxes                  int
}

// ffReport is what the page posts to /report.
type ffReport struct {
	Kind          string          `json:"kind"`
	ID            int64           `json:"id"`
	Result        json.RawMessage `json:"result"`
	Error         string          `json:"error"`
	Message       string          `json:"message"`
	Payload       map[string]any  `json:"payload"`
	Shown         bool            `json:"shown"`
	Notifications []string        `json:"notifications"`
}

// publisher is the publisher's site: the page embedding the widget, the
// service worker file, and the test driver's /cmd and /report.
type ffPublisher struct {
	srv     *httptest.Server
	crieur  atomic.Value // crieur's URL, known once it runs
	attrs   atomic.Value // more attributes of the widget's script tag (string)
	cmds    chan ffCommand
	reports chan ffReport
	nextID  atomic.Int64
	mu      sync.Mutex
	backlog []ffReport // reports read while waiting for another kind
	logf    func(string, ...any)
}

type ffCommand struct {
	ID int64  `json:"id"`
	Op string `json:"op"`
}

func newFFPublisher(t *testing.T) *ffPublisher {
	t.Helper()
	page, err := os.ReadFile(filepath.Join("testdata", "firefox", "page.html"))
	if err != nil {
		t.Fatal(err)
	}
	p := &ffPublisher{cmds: make(chan ffCommand, 1), reports: make(chan ffReport, 64), logf: t.Logf}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		out := bytes.ReplaceAll(page, []byte("{{CRIEUR}}"), []byte(p.crieur.Load().(string)))
		if a, _ := p.attrs.Load().(string); a != "" {
			out = bytes.Replace(out, []byte(`data-lang="fr"`), []byte(`data-lang="fr" `+a), 1)
		}
		w.Write(out)
	})
	// The one-line service worker of the README.
	mux.HandleFunc("GET /crieur-sw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, "importScripts(%q);\n%s", p.crieur.Load().(string)+"/push/sw.js", ffClickHook)
	})
	mux.HandleFunc("GET /cmd", func(w http.ResponseWriter, r *http.Request) {
		select {
		case c := <-p.cmds:
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(c)
		case <-time.After(20 * time.Second):
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var rep ffReport
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if rep.Kind == "log" {
			p.logf("page: %s", rep.Message)
		} else {
			p.reports <- rep
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /favicon.ico", http.NotFound)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// next waits for the page's next report of this kind (a result with this
// id when id is not 0).
func (p *ffPublisher) next(ctx context.Context, t *testing.T, kind string, id ...int64) ffReport {
	t.Helper()
	match := func(r ffReport) bool { return r.Kind == kind && (len(id) == 0 || r.ID == id[0]) }
	p.mu.Lock()
	for i, r := range p.backlog {
		if match(r) {
			p.backlog = slices.Delete(p.backlog, i, i+1)
			p.mu.Unlock()
			return r
		}
	}
	p.mu.Unlock()
	for {
		select {
		case r := <-p.reports:
			if match(r) {
				return r
			}
			p.mu.Lock()
			p.backlog = append(p.backlog, r)
			p.mu.Unlock()
		case <-ctx.Done():
			t.Fatalf("no %q report from the page: %v", kind, ctx.Err())
		}
	}
}

// do runs one driver operation in the page and returns the widget it shows.
func (p *ffPublisher) do(ctx context.Context, t *testing.T, op string) ffView {
	t.Helper()
	c := ffCommand{ID: p.nextID.Add(1), Op: op}
	select {
	case p.cmds <- c:
	case <-ctx.Done():
		t.Fatalf("page never asked for %s: %v", op, ctx.Err())
	}
	r := p.next(ctx, t, "result", c.ID)
	if r.Error != "" {
		t.Fatalf("%s failed in the page: %s", op, r.Error)
	}
	var v ffView
	if op != "reload" {
		ffDecode(t, r.Result, &v)
	}
	return v
}

func ffDecode(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

// ffAlert is GET /api/v1/alerts/{id}.
type ffAlert struct {
	State                                string
	Targeted, Delivered, Failed, Expired int
}

// ffWaitDone waits until the alert is no longer sending and returns it.
func ffWaitDone(ctx context.Context, t *testing.T, p *e2etest.Proc, token, id string) ffAlert {
	t.Helper()
	for {
		var a ffAlert
		if st := p.Do(t, "GET", "/api/v1/alerts/"+id, token, nil, &a); st != 200 {
			t.Fatalf("GET alert %s: %d", id, st)
		}
		if a.State != "sending" {
			return a
		}
		select {
		case <-ctx.Done():
			t.Fatalf("alert %s still %+v: %v", id, a, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ffWaitAlert waits until the alert is done with these counts.
func ffWaitAlert(ctx context.Context, t *testing.T, p *e2etest.Proc, token, id string, targeted, delivered int) {
	t.Helper()
	if a := ffWaitDone(ctx, t, p, token, id); a.State != "done" || a.Targeted != targeted || a.Delivered != delivered || a.Failed != 0 {
		t.Fatalf("alert %s: %+v, want done with targeted=%d delivered=%d", id, a, targeted, delivered)
	}
}

// firefoxPrefs make a headless Firefox a push client of the test's push
// service that shows notifications, allows them without asking, and calls
// no outside service (see /work/shared/notes/webpush.md).
var firefoxPrefs = map[string]any{
	"dom.push.enabled":                                  true,
	"dom.push.connection.enabled":                       true,
	"dom.push.testing.allowInsecureServerURL":           true,
	"dom.push.testing.ignorePermission":                 true,
	"dom.push.maxQuotaPerSubscription":                  100000,
	"dom.push.loglevel":                                 "Debug",
	"permissions.default.desktop-notification":          1,
	"dom.serviceWorkers.enabled":                        true,
	"dom.serviceWorkers.testing.enabled":                true,
	"alerts.useSystemBackend":                           false,
	"network.manage-offline-status":                     false,
	"devtools.console.stdout.chrome":                    true,
	"devtools.console.stdout.content":                   true,
	"browser.dom.window.dump.enabled":                   true,
	"app.update.disabledForTesting":                     true,
	"app.update.auto":                                   false,
	"browser.shell.checkDefaultBrowser":                 false,
	"browser.startup.homepage_override.mstone":          "ignore",
	"browser.aboutwelcome.enabled":                      false,
	"startup.homepage_welcome_url":                      "",
	"datareporting.policy.dataSubmissionEnabled":        false,
	"datareporting.healthreport.uploadEnabled":          false,
	"toolkit.telemetry.enabled":                         false,
	"toolkit.telemetry.reportingpolicy.firstRun":        false,
	"browser.safebrowsing.malware.enabled":              false,
	"browser.safebrowsing.phishing.enabled":             false,
	"browser.safebrowsing.downloads.enabled":            false,
	"services.settings.server":                          "http://127.0.0.1:9/",
	"extensions.update.enabled":                         false,
	"network.captive-portal-service.enabled":            false,
	"network.connectivity-service.enabled":              false,
	"browser.newtabpage.enabled":                        false,
	"media.gmp-manager.url":                             "",
	"browser.tabs.warnOnClose":                          false,
	"browser.sessionstore.resume_from_crash":            false,
	"toolkit.startup.max_resumed_crashes":               -1,
	"browser.region.update.enabled":                     false,
	"dom.webnotifications.requireuserinteraction":       false,
	"network.proxy.type":                                0,
	"browser.places.importBookmarksHTML":                false,
	"browser.contentblocking.introCount":                99,
	"trailhead.firstrun.didSeeAboutWelcome":             true,
	"browser.discovery.enabled":                         false,
	"extensions.getAddons.cache.enabled":                false,
	"browser.search.geoip.url":                          "",
	"geo.provider.network.url":                          "",
	"browser.newtabpage.activity-stream.feeds.snippets": false,
}

// startFirefox runs headless Firefox on url with a fresh profile pointed
// at the push service wsURL (env: more of its environment, such as TZ);
// it is killed (its whole process group) when
// the test ends, and its output is logged if the test failed.
func startFirefox(t *testing.T, bin, profile, wsURL, url string, env ...string) {
	t.Helper()
	if err := os.MkdirAll(profile, 0o755); err != nil {
		t.Fatal(err)
	}
	var prefs strings.Builder
	prefs.WriteString(ffUserPref("dom.push.serverURL", wsURL))
	for k, v := range firefoxPrefs {
		prefs.WriteString(ffUserPref(k, v))
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(prefs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(profile, "..", "firefox.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-remote", "--profile", profile, url)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(profile), "MOZ_HEADLESS=1",
		"MOZ_CRASHREPORTER_DISABLE=1", "TMPDIR=" + filepath.Dir(profile)}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start firefox: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // Firefox and its content processes
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("firefox output:\n%s", b)
		}
	})
}

func ffUserPref(name string, v any) string {
	b, _ := json.Marshal(v)
	return fmt.Sprintf("user_pref(%q, %s);\n", name, b)
}
