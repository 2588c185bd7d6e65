package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/store/pgtest"
)

// TestLocalDigestsInstances runs three `crieur serve` on one PostgreSQL
// database with CRIEUR_DIGEST_LOCAL=true, 1,000 readers in Dakar, Paris,
// Montréal, Nouméa (one slot, each at its own local hour) and Kolkata
// (the next minute's slot): every instance looks for the slots, one run is
// made per slot, and each reader gets exactly one digest through the
// SMTP test server.
func TestLocalDigestsInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for two real minutes")
	}
	e2etest.ParallelWaiting(t)
	zoneNames := []string{"Africa/Dakar", "Europe/Paris", "America/Montreal", "Pacific/Noumea", "Asia/Kolkata"}
	loc := map[string]*time.Location{}
	for _, z := range zoneNames {
		l, err := time.LoadLocation(z)
		if err != nil {
			t.Fatal(err)
		}
		loc[z] = l
	}
	// T is the next whole minute at least 40 s away: time to set up (a
	// few seconds; checked below), once crieur is built (a minute on a
	// busy machine with a cold build cache).
	e2etest.Binary(t)
	begin := time.Now()
	T := begin.Add(40 * time.Second).Truncate(time.Minute).Add(time.Minute)
	slot := map[string]time.Time{"Asia/Kolkata": T.Add(time.Minute)}
	for _, z := range zoneNames[:4] {
		slot[z] = T
	}
	spec, _ := localSpec(t, slot, loc)

	sink := mailtest.NewServer(t)
	dir := t.TempDir()
	env := e2etest.NewEnv(dir)
	for k, v := range map[string]string{
		"CRIEUR_DATABASE_URL": pgtest.URL(t), "CRIEUR_SECRET_KEY": "local-digests-test-secret-key-0123456789",
		"CRIEUR_SMTP_URL": sink.URL(), "CRIEUR_LOG_LEVEL": "info", "CRIEUR_DIGEST_LOCAL": "true",
		"CRIEUR_DIGEST_DAILY": spec, "CRIEUR_DIGEST_WEEKLY": "0 3 1 1 *",
	} {
		env[k] = v
	}
	e2etest.CLI(t, env, "", "migrate")
	token := e2etest.Token(t, env, "e2e", "admin")
	e2etest.CLI(t, env, "", "topic", "add", "monde", "Monde")
	const readers = 1000
	var b strings.Builder
	b.WriteString("email,topics,frequency,lang,status,timezone\n")
	zoneOf := map[string]string{}
	for i := range readers {
		e, z := fmt.Sprintf("r%d@x.test", i), zoneNames[i%len(zoneNames)]
		zoneOf[e] = z
		fmt.Fprintf(&b, "%s,monde,daily,fr,confirmed,%s\n", e, z)
	}
	csv := filepath.Join(dir, "readers.csv")
	if err := os.WriteFile(csv, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	e2etest.CLI(t, env, "", "subscribers", "import", csv)
	var procs []*e2etest.Proc
	for range 3 {
		procs = append(procs, e2etest.Start(t, env, dir))
	}
	body := map[string]any{"guid": "g", "url": "https://n.test/g", "title": "Avant l'heure", "summary": "Résumé",
		"topics": []string{"monde"}, "published_at": time.Now().Add(-time.Minute).Format(time.RFC3339)}
	if st := procs[1].Do(t, "POST", "/api/v1/articles", token, body, nil); st != 201 {
		t.Fatalf("POST article: %d", st)
	}

	if time.Now().After(T.Add(-2 * time.Second)) {
		t.Fatalf("setting up took %s: too close to the first slot, %s", time.Since(begin), T.Format(time.TimeOnly))
	}
	t.Logf("set up in %s; the first slot is %s later", time.Since(begin).Round(time.Millisecond), time.Until(T).Round(time.Millisecond))
	e2etest.WaitFor(t, time.Until(T.Add(90*time.Second)), "every reader's digest", func() bool { return sink.Count() >= readers })
	time.Sleep(5 * time.Second) // a second digest would come now
	got := byRcpt(sink.Messages())
	late := 0
	for e, z := range zoneOf {
		ms := got[e]
		if len(ms) != 1 {
			t.Errorf("%s (%s): %d digests, want 1", e, z, len(ms))
			continue
		}
		if d, err := time.Parse(time.RFC1123Z, ms[0].Header("Date")); err != nil || d.Before(slot[z].Add(-time.Second)) {
			t.Errorf("%s (%s): dated %q, before its slot %s", e, z, ms[0].Header("Date"), slot[z])
		}
		if !strings.Contains(ms[0].Text(), "Avant l") {
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d digests without the article", late)
	}
	if n := e2etest.Count(t, env, "SELECT COUNT(*) FROM digest_runs WHERE zoned = 1"); n != 2 {
		t.Errorf("%d zoned runs, want one per slot: 2", n)
	}
	if n := e2etest.Count(t, env, "SELECT COUNT(*) FROM deliveries WHERE kind = 'digest'"); n != readers {
		t.Errorf("%d digests queued, want %d", n, readers)
	}
	if t.Failed() {
		for _, p := range procs {
			t.Logf("log:\n%s", e2etest.Tail(p.Logs(), 3000))
		}
	}
}
