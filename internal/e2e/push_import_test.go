package e2e_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/push"
	"github.com/crieur/crieur/internal/push/pushtest"
	"github.com/crieur/crieur/internal/store/pgtest"
)

// importFile is a generated JSON-lines export with bad lines mixed in, and
// what an import of it must report.
type importFile struct {
	path       string
	valid      int            // distinct good subscriptions
	withTopic  int            // of which on "afrique"
	duplicates int            // lines repeating line 1's endpoint
	bad        map[int]string // line -> what its refusal must say
}

// writeImportFile writes n lines: browsers at push services on the
// built-in list and at push.example.net (CRIEUR_PUSH_HOSTS), and every so
// often a line with bad keys, an endpoint at a private address or an
// unlisted host, an unknown topic, broken JSON or line 1's endpoint again.
func writeImportFile(t *testing.T, dir string, n int) importFile {
	t.Helper()
	keys := make([]*pushtest.Browser, 16)
	for i := range keys {
		keys[i] = pushtest.NewBrowser()
	}
	f := importFile{path: filepath.Join(dir, "export.jsonl"), bad: map[int]string{}}
	var b strings.Builder
	line := func(ep string, k *pushtest.Browser, p256dh string, topics []string, extra string) {
		topicsJSON, _ := json.Marshal(topics)
		fmt.Fprintf(&b, `{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q},"topics":%s%s}`+"\n", ep, p256dh, k.Auth, topicsJSON, extra)
	}
	for i := 1; i <= n; i++ {
		k := keys[i%len(keys)]
		ep := fmt.Sprintf("https://fcm.googleapis.com/fcm/send/imported-%d", i)
		switch {
		case i%97 == 0:
			line(ep, k, k.P256dh[:20], nil, "")
			f.bad[i] = "invalid keys"
		case i%89 == 0:
			private := []string{"https://10.1.2.3/push/%d", "http://127.0.0.1:8080/push/%d", "https://push.attacker.example/%d"}[i%3]
			line(fmt.Sprintf(private, i), k, k.P256dh, nil, "")
			f.bad[i] = "endpoint not allowed"
		case i%83 == 0:
			line("https://fcm.googleapis.com/fcm/send/imported-1", k, k.P256dh, nil, "")
			f.duplicates++
		case i%79 == 0:
			line(ep, k, k.P256dh, []string{"inconnu"}, "")
			f.bad[i] = `unknown topic "inconnu"`
		case i%73 == 0:
			fmt.Fprintf(&b, `{"endpoint":%q,"keys":{"p256dh":`+"\n", ep)
			f.bad[i] = "not a JSON object"
		default:
			if i%500 == 0 {
				ep = fmt.Sprintf("https://push.example.net/wpush/%d", i)
			} else if i%3 == 0 {
				ep = fmt.Sprintf("https://updates.push.services.mozilla.com/wpush/v2/imported-%d", i)
			}
			var topics []string
			if i%2 == 0 {
				topics = []string{"afrique"}
				f.withTopic++
			}
			extra := ""
			if i%5 == 0 {
				extra = `,"lang":"en","created_at":"2025-03-01T10:00:00Z","expirationTime":null`
			}
			line(ep, k, k.P256dh, topics, extra)
			f.valid++
		}
	}
	if err := os.WriteFile(f.path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkRefusals holds stderr to one line per refused line, naming it by
// number with its reason, and nothing else.
func checkRefusals(t *testing.T, stderr string, want map[int]string) {
	t.Helper()
	re := regexp.MustCompile(`^line (\d+): (.+)$`)
	got := map[int]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("stderr line %q is not \"line N: reason\"", l)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		reason, ok := want[n]
		switch {
		case !ok:
			t.Errorf("line %d refused (%s), but it is good", n, m[2])
		case !strings.Contains(m[2], reason):
			t.Errorf("line %d refused for %q, want %q", n, m[2], reason)
		}
		got[n] = true
	}
	for n, reason := range want {
		if !got[n] {
			t.Errorf("line %d (%s) was not reported", n, reason)
		}
	}
}

func testPushImport100k(t *testing.T, dbURL string) {
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	delete(env, "CRIEUR_PUSH_ALLOW_PRIVATE") // the production rule: listed push services only
	env["CRIEUR_PUSH_HOSTS"] = "push.example.net"
	if dbURL != "" {
		env["CRIEUR_DATABASE_URL"] = dbURL
	}
	e2etest.CLI(t, env, "", "topic", "add", "afrique", "Afrique")
	const n = 100_000
	f := writeImportFile(t, dir, n)

	start := time.Now()
	out, errOut, code := e2etest.RunCLI(t, env, "", "push", "import", f.path)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e2etest.Tail(errOut, 500))
	}
	t.Logf("imported %d lines in %v (%d good, %d refused, %d duplicates)", n, took, f.valid, len(f.bad), f.duplicates)
	want := fmt.Sprintf("%d lines (JSON lines): %d browsers imported, 0 already known and updated, %d duplicates, %d refused, 0 skipped\n",
		n, f.valid, f.duplicates, len(f.bad))
	if !strings.HasPrefix(out, want) {
		t.Errorf("report:\n%s\nwant it to start:\n%s", out, want)
	}
	if !strings.Contains(out, "VAPID: a subscription only takes alerts signed with the key it was made with") {
		t.Errorf("the report does not say what applies about the VAPID key:\n%s", out)
	}
	checkRefusals(t, errOut, f.bad)
	if got := e2etest.Count(t, env, "SELECT COUNT(*) FROM push_subscriptions"); got != f.valid {
		t.Errorf("%d browsers stored, want %d", got, f.valid)
	}
	if got := e2etest.Count(t, env, "SELECT COUNT(*) FROM push_subscription_topics"); got != f.withTopic {
		t.Errorf("%d browsers on a topic, want %d", got, f.withTopic)
	}
	// Seconds, not minutes, even on a loaded machine (it takes 2-4 s alone).
	if took > time.Minute {
		t.Errorf("importing %d lines took %v", n, took)
	}

	// The same file again: every browser updated, none doubled.
	out, _, code = e2etest.RunCLI(t, env, "", "push", "import", f.path)
	want = fmt.Sprintf("%d lines (JSON lines): 0 browsers imported, %d already known and updated, %d duplicates, %d refused, 0 skipped\n",
		n, f.valid, f.duplicates, len(f.bad))
	if code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("second import: exit %d\n%s\nwant it to start:\n%s", code, out, want)
	}
	if got := e2etest.Count(t, env, "SELECT COUNT(*) FROM push_subscriptions"); got != f.valid {
		t.Errorf("%d browsers after importing twice, want %d", got, f.valid)
	}
}

// TestPushImport100k: 100,000 subscriptions with bad keys, private and
// unlisted endpoints, unknown topics, broken lines and duplicates mixed in,
// through the real `crieur push import` on SQLite: each bad line reported
// by number, the rest stored once, in seconds; importing again updates.
func TestPushImport100k(t *testing.T) {
	e2etest.Parallel(t)
	testPushImport100k(t, "")
}

// TestPushImport100kPostgres is TestPushImport100k on PostgreSQL.
func TestPushImport100kPostgres(t *testing.T) {
	e2etest.Parallel(t)
	testPushImport100k(t, pgtest.URL(t))
}

// TestPushImportReachesBrowsers: browsers moved in from a JSON-lines
// export and from OneSignal's CSV export get the next alert, encrypted for
// their own keys (the push service stub decrypts each), once crieur holds
// the key pair they subscribed with.
func TestPushImportReachesBrowsers(t *testing.T) {
	e2etest.Parallel(t)
	f, ps := pushFixture(t, nil, "afrique", "sport")
	pub := f.env["CRIEUR_VAPID_PUBLIC_KEY"]
	onTopic, everything, sport, fromOneSignal := pushtest.NewBrowser(), pushtest.NewBrowser(), pushtest.NewBrowser(), pushtest.NewBrowser()
	ep := map[*pushtest.Browser]string{} // the stub gives a new endpoint per call
	for _, b := range []*pushtest.Browser{onTopic, everything, sport, fromOneSignal} {
		ep[b] = ps.Endpoint(b)
	}

	jsonl := filepath.Join(f.dir, "export.jsonl")
	lines := fmt.Sprintf(`{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q},"topics":["afrique"],"lang":"fr","created_at":"2025-01-02T03:04:05Z"}
{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q}}

{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q},"topics":["sport"],"lang":"en"}
`, ep[onTopic], onTopic.P256dh, onTopic.Auth, ep[everything], everything.P256dh, everything.Auth,
		ep[sport], sport.P256dh, sport.Auth)
	if err := os.WriteFile(jsonl, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e2etest.CLI(t, f.env, "", "push", "import", jsonl, "--vapid-public-key", pub)
	if !strings.HasPrefix(out, "3 lines (JSON lines): 3 browsers imported, 0 already known and updated, 0 duplicates, 0 refused, 0 skipped\n") ||
		!strings.Contains(out, "made with crieur's own public key: alerts will reach them") {
		t.Errorf("JSON lines report:\n%s", out)
	}

	// OneSignal's export with the web_auth and web_p256 extra columns: a
	// phone and an unsubscribed browser are passed over, not refused.
	csvPath := filepath.Join(f.dir, "onesignal.csv")
	csv := "id,identifier,session_count,language,timezone,game_version,device_os,device_type,device_model,ad_id,tags,last_active,playtime,amount_spent,created_at,invalid_identifier,badge_count,web_auth,web_p256\n" +
		fmt.Sprintf(`"a1",%s,3,en-US,3600,,120,5,"Linux x86_64",,"{""rubrique"":""monde""}",2026-11-30 10:00:00,0,0,2024-01-02 03:04:05,f,0,%s,%s`+"\n", ep[fromOneSignal], fromOneSignal.Auth, fromOneSignal.P256dh) +
		`"a2",7abcd558f29d0b1f048083e2834ad8ea4b3d87d8ad9c088b33c132706ff445f0,9,fr,3600,1.2,17,0,iPhone12,,{},2026-11-30 10:00:00,0,0,2024-01-02 03:04:05,f,0,,` + "\n" +
		fmt.Sprintf(`"a3",%s,1,fr,3600,,120,5,,,{},2025-11-30 10:00:00,0,0,2024-01-02 03:04:05,t,0,%s,%s`+"\n", ps.Endpoint(pushtest.NewBrowser()), sport.Auth, sport.P256dh)
	if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	out = e2etest.CLI(t, f.env, "", "push", "import", csvPath, "--topic", "afrique")
	if !strings.HasPrefix(out, "3 lines (OneSignal CSV): 1 browsers imported, 0 already known and updated, 0 duplicates, 0 refused, 2 skipped\n") ||
		!strings.Contains(out, "OneSignal's export does not say which key they were made with") || !strings.Contains(out, "CRIEUR_VAPID_PRIVATE_KEY") {
		t.Errorf("OneSignal report:\n%s", out)
	}
	_, otherPub, err := push.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	out = e2etest.CLI(t, f.env, "", "push", "import", csvPath, "--topic", "afrique", "--vapid-public-key", otherPub)
	if !strings.Contains(out, "1 already known and updated") || !strings.Contains(out, "not with crieur's") || !strings.Contains(out, "opt in again") {
		t.Errorf("import with another service's key:\n%s", out)
	}

	f.start()
	id := f.sendAlert(map[string]any{"title": "Élection au Sénégal", "body": "Les premiers résultats", "url": "https://gazette.example/senegal", "topics": []string{"afrique"}})
	a := f.waitAlert(id, 30*time.Second, "done", func(a alertJSON) bool { return a.State == "done" })
	if a.Targeted != 3 || a.Delivered != 3 {
		t.Errorf("alert %+v, want 3 targeted and delivered (afrique, no topics, OneSignal's on --topic afrique)", a)
	}
	got := map[string]string{}
	for _, r := range ps.Received() {
		var p pushPayload
		if err := json.Unmarshal(r.Payload, &p); err != nil {
			t.Fatalf("payload %q: %v", r.Payload, err)
		}
		got[r.Endpoint] = p.Title
	}
	for name, b := range map[string]*pushtest.Browser{"on afrique": onTopic, "no topics": everything, "from OneSignal": fromOneSignal} {
		if got[ep[b]] != "Élection au Sénégal" {
			t.Errorf("the browser %s got %q", name, got[ep[b]])
		}
	}
	if _, ok := got[ep[sport]]; ok || len(got) != 3 {
		t.Errorf("%d browsers reached, the one on sport among them: %v", len(got), ok)
	}
}

// gzipBomb writes a gzipped OneSignal CSV whose last row opens a quote
// and goes on for 64 MiB.
func gzipBomb(t *testing.T, dir string) string {
	t.Helper()
	var buf bytes.Buffer
	// BestSpeed: 81 KiB instead of BestCompression's 64, made in a
	// seventh of the time (BestCompression took 20 s in this race-built
	// test binary on a busy machine).
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write([]byte("identifier,web_auth,web_p256\nhttps://fcm.googleapis.com/fcm/send/x,A,P\n\""))
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for range 64 {
		zw.Write(chunk)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "bomb.csv.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPushImportExitStatus: a file that cannot be read, is of no known
// kind or whose every line is refused fails with one line on stderr; bad
// usage is 2.
func TestPushImportExitStatus(t *testing.T) {
	e2etest.Parallel(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"missing file", []string{filepath.Join(dir, "nope.jsonl")}, 1, "no such file"},
		{"empty file", []string{write("empty", "\n\n")}, 1, "holds no subscription"},
		{"subscribers CSV", []string{write("subs.csv", "email,topics\na@example.org,x\n")}, 1, "neither JSON lines"},
		{"OneSignal without keys", []string{write("os.csv", "id,identifier,language\n1,https://fcm.googleapis.com/fcm/send/x,fr\n")}, 1, "web_auth and web_p256"},
		{"every line refused", []string{write("bad.jsonl", "{\"endpoint\":\"https://fcm.googleapis.com/x\",\"keys\":{\"p256dh\":\"x\",\"auth\":\"y\"}}\n")}, 1, "no browser imported"},
		{"unknown --topic", []string{write("one.jsonl", "{}\n"), "--topic", "nope"}, 1, "--topic nope"},
		{"no file", nil, 2, "push import needs FILE"},
		// 64 MiB behind an open quote, in 81 KiB of gzip: held whole as
		// one CSV row before, exit 0 with the row "skipped".
		{"gzip bomb in a CSV row", []string{gzipBomb(t, dir)}, 1, "longer than"},
	} {
		_, errOut, code := e2etest.RunCLI(t, env, "", append([]string{"push", "import"}, c.args...)...)
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code != c.code || !strings.Contains(lines[len(lines)-1], c.says) {
			t.Errorf("%s: exit %d, stderr %q; want %d saying %q", c.name, code, errOut, c.code, c.says)
		}
	}
}
