package e2e_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/crieur/crieur/internal/e2e/e2etest"
	"github.com/crieur/crieur/internal/mail/mailtest"
	"github.com/crieur/crieur/internal/schedule"
)

// arrivals notes when each message first showed in the sink, polled
// every 100 ms.
type arrivals struct {
	sink *mailtest.Server
	seen int
	at   map[string][]time.Time // recipient → arrival of each digest
	bad  []string
}

func (a *arrivals) poll() {
	ms := a.sink.Messages()
	now := time.Now()
	for _, m := range ms[a.seen:] {
		if strings.Contains(m.Text(), "/confirm/") {
			continue // a confirmation
		}
		for _, to := range m.To {
			a.at[to] = append(a.at[to], now)
			if !strings.Contains(m.Text(), "Avant l") {
				a.bad = append(a.bad, to+": a digest without the article:\n"+m.Text())
			}
		}
	}
	a.seen = len(ms)
}

// until polls until t.
func (a *arrivals) until(t time.Time) {
	for time.Now().Before(t) {
		a.poll()
		time.Sleep(100 * time.Millisecond)
	}
	a.poll()
}

// TestLocalDigestsEndToEnd runs a real `crieur serve` with
// CRIEUR_DIGEST_LOCAL=true and a daily spec set to fire a minute or two
// ahead on the clocks of readers in Dakar, Paris, Montréal and Nouméa (all
// at one instant, each at its own local hour), Kolkata (a minute later,
// its :30 offset) and Kathmandu (a minute after that, :45), with a reader
// in a zone the spec does not reach then. Readers come in through the CSV
// import's timezone column and the JSON route; mail goes through the SMTP
// test server. Each reader gets exactly one digest, when their zone's
// firing comes, not before; the daemon is killed (SIGKILL) after the
// Kolkata slot and restarted after the Kathmandu one, which it catches up
// once, late, sending nobody a second digest.
//
// The spec is real time: a spec read on zones' clocks separates
// whole-hour zones by hours, so the minute-apart slots come from the 30-
// and 45-minute zones; the DST and zone-change rules, which need hours and
// days, are driven on a test clock in internal/digest
// (TestLocalDigestsSpringForward, TestLocalDigestsFallBack).
func TestLocalDigestsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for three real minutes")
	}
	e2etest.ParallelWaiting(t)
	sink := mailtest.NewServer(t)
	zones := map[string]string{
		"dakar@example.org": "Africa/Dakar", "paris@example.org": "Europe/Paris", "montreal@example.org": "America/Montreal",
		"noumea@example.org": "Pacific/Noumea", "kolkata@example.org": "Asia/Kolkata", "kathmandu@example.org": "Asia/Kathmandu",
	}
	loc := map[string]*time.Location{}
	for _, z := range zones {
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
	slot := map[string]time.Time{"Asia/Kolkata": T.Add(time.Minute), "Asia/Kathmandu": T.Add(2 * time.Minute)}
	for _, z := range []string{"Africa/Dakar", "Europe/Paris", "America/Montreal", "Pacific/Noumea"} {
		slot[z] = T
	}
	spec, sched := localSpec(t, slot, loc)
	from, to := time.Now(), T.Add(5*time.Minute)
	control := ""
	for _, z := range []string{"Asia/Tokyo", "America/Sao_Paulo", "Europe/Moscow", "Australia/Sydney", "Asia/Dubai"} {
		l, _ := time.LoadLocation(z)
		if len(schedule.Firings(sched, l, from, to)) == 0 {
			control = z
			break
		}
	}
	if control == "" {
		t.Fatalf("no control zone for %q", spec)
	}
	zones["control@example.org"] = control

	f := flowSetup(t, map[string]string{"CRIEUR_SMTP_URL": sink.URL(), "CRIEUR_DIGEST_LOCAL": "true", "CRIEUR_TIMEZONE": "Europe/Paris",
		"CRIEUR_DIGEST_DAILY": spec, "CRIEUR_DIGEST_WEEKLY": "0 3 1 1 *"}, "monde")
	// Everyone but Nouméa through the CSV import and its timezone column.
	var rows []string
	for email, z := range zones {
		if email != "noumea@example.org" {
			rows = append(rows, email+",monde,daily,fr,confirmed,"+z)
		}
	}
	path := filepath.Join(f.dir, "zones.csv")
	if err := os.WriteFile(path, []byte("email,topics,frequency,lang,status,timezone\n"+strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := e2etest.CLI(t, f.env, "", "subscribers", "import", path); !strings.Contains(out, "6") {
		t.Fatalf("import: %s", out)
	}
	f.start()
	defer f.logOnFailure(func() string { return "spec " + spec })

	// Nouméa through the JSON route; an unknown zone is refused there.
	var apiErr struct {
		Error struct{ Code, Message string }
	}
	if st := f.p.Do(t, "POST", "/api/v1/subscriptions", "", map[string]any{"email": "mars@example.org", "topics": []string{"monde"},
		"frequency": "daily", "lang": "fr", "timezone": "Mars/Olympus"}, &apiErr); st != 400 || apiErr.Error.Code != "invalid_input" ||
		!strings.Contains(apiErr.Error.Message, "time zone") {
		t.Fatalf("unknown zone: %d %+v", st, apiErr)
	}
	f.subscribeConfirmedZone(sink, "noumea@example.org", "Pacific/Noumea")
	for email, z := range zones {
		if s, st := f.subscriberZone(email); st != 200 || s != z {
			t.Fatalf("GET subscriber %s: %d zone %q, want %q", email, st, s, z)
		}
	}
	if exp := e2etest.CLI(t, f.env, "", "subscribers", "export"); !strings.Contains(exp, "noumea@example.org,monde,daily,fr,confirmed,Pacific/Noumea\n") {
		t.Fatalf("export:\n%s", exp)
	}
	f.article("avant", "Avant l'heure", []string{"monde"}, time.Now())

	if time.Now().After(T.Add(-2 * time.Second)) {
		t.Fatalf("setting up took %s, until %s: too close to the first slot, %s", time.Since(begin), time.Now().Format(time.TimeOnly), T.Format(time.TimeOnly))
	}
	t.Logf("set up in %s; the first slot is %s later", time.Since(begin).Round(time.Millisecond), time.Until(T).Round(time.Millisecond))
	a := &arrivals{sink: sink, at: map[string][]time.Time{}}
	a.poll() // the confirmation is not a digest
	a.until(T.Add(-2 * time.Second))
	if len(a.at) != 0 {
		t.Fatalf("digests before their hour: %v", a.at)
	}
	// The four whole-hour zones at T, each at its own hour.
	a.until(T.Add(40 * time.Second))
	// Kolkata at T+1 min; then the daemon is killed before Kathmandu's,
	// once the five digests sent are recorded: a message out but not yet
	// recorded at a SIGKILL is sent again after the restart (at least
	// once), which is not what this test is about.
	e2etest.WaitFor(t, 75*time.Second, "the Kolkata digest", func() bool { a.poll(); return len(a.at["kolkata@example.org"]) > 0 })
	e2etest.WaitFor(t, 10*time.Second, "the five digests recorded sent", func() bool { return f.digestsSent() >= 5 })
	f.p.Kill()
	// A few seconds past Kathmandu's slot: the restarted daemon must
	// catch it up, its minute's look having been missed.
	a.until(T.Add(2*time.Minute + 5*time.Second))
	if n := len(a.at["kathmandu@example.org"]); n != 0 {
		t.Fatalf("Kathmandu got %d digests with no daemon running", n)
	}
	restart := time.Now()
	f.start()
	// Until the catch-up is sent and recorded, then past one lease and
	// a janitor's look (rows taken back from a dead worker) while the
	// sink is watched for a second digest to anyone.
	e2etest.WaitFor(t, 20*time.Second, "the catch-up digest recorded sent", func() bool { a.poll(); return f.digestsSent() >= 6 })
	a.until(time.Now().Add(7 * time.Second))

	for email, z := range zones {
		got := a.at[email]
		switch {
		case z == control:
			if len(got) != 0 {
				t.Errorf("%s (%s) got %d digests, want none", email, z, len(got))
			}
		case z == "Asia/Kathmandu":
			if len(got) != 1 || got[0].Before(restart) {
				t.Errorf("%s got %v, want one, caught up after the restart at %s", email, got, restart)
			}
		default:
			at := slot[z]
			if len(got) != 1 || got[0].Before(at) || got[0].After(at.Add(30*time.Second)) {
				t.Errorf("%s (%s) got %v, want one between %s and 30 s later", email, z, got, at.Format(time.TimeOnly))
			}
		}
	}
	for _, b := range a.bad {
		t.Error(b)
	}
	var wall []string
	for email, z := range zones {
		if got := a.at[email]; len(got) > 0 {
			wall = append(wall, fmt.Sprintf("%s at %s UTC = %s in %s", email, got[0].UTC().Format(time.TimeOnly), got[0].In(loc[z]).Format("15:04:05"), z))
		}
	}
	sort.Strings(wall)
	t.Logf("spec %q:\n%s", spec, strings.Join(wall, "\n"))
}

// localSpec returns a daily spec that fires in each zone of slot at its
// instant and at no other instant of the next minutes there (checked).
func localSpec(t *testing.T, slot map[string]time.Time, loc map[string]*time.Location) (string, cron.Schedule) {
	t.Helper()
	minutes, hours := map[int]bool{}, map[int]bool{}
	var last time.Time
	for z, at := range slot {
		w := schedule.Wall(at, loc[z])
		minutes[w.Minute()], hours[w.Hour()] = true, true
		if at.After(last) {
			last = at
		}
	}
	spec := fmt.Sprintf("%s %s * * *", list(minutes), list(hours))
	sched, err := schedule.ParseLocal(spec)
	if err != nil {
		t.Fatal(err)
	}
	for z, at := range slot {
		if fs := schedule.Firings(sched, loc[z], time.Now(), last.Add(3*time.Minute)); len(fs) != 1 || !fs[0].At.Equal(at) {
			t.Fatalf("spec %q in %s fires %v, want once at %s", spec, z, fs, at)
		}
	}
	return spec, sched
}

// list writes a cron field of the numbers set.
func list(set map[int]bool) string {
	var ns []int
	for n := range set {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

// subscribeConfirmedZone subscribes email with a time zone through the
// public API and confirms it through its email's link.
func (f *flow) subscribeConfirmedZone(sink *mailtest.Server, email, zone string) {
	f.t.Helper()
	body := map[string]any{"email": email, "topics": []string{"monde"}, "frequency": "daily", "lang": "fr", "timezone": zone}
	if st := f.p.Do(f.t, "POST", "/api/v1/subscriptions", "", body, nil); st != 202 {
		f.t.Fatalf("subscribe %s: %d", email, st)
	}
	var link string
	e2etest.WaitFor(f.t, 10*time.Second, "confirmation email to "+email, func() bool {
		for _, m := range byRcpt(sink.Messages())[email] {
			link = confirmURL.FindString(m.Text())
		}
		return link != ""
	})
	resp, err := e2etest.HTTPClient().Post(link, "", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		f.t.Fatalf("POST confirm link: %d", resp.StatusCode)
	}
}

// digestsSent counts the digest deliveries recorded sent.
func (f *flow) digestsSent() int {
	f.t.Helper()
	return e2etest.Count(f.t, f.env, "SELECT COUNT(*) FROM deliveries WHERE kind = 'digest' AND state = 'sent'")
}

// subscriberZone is the timezone GET /api/v1/subscribers/{email} shows.
func (f *flow) subscriberZone(email string) (string, int) {
	f.t.Helper()
	var s struct {
		Timezone string `json:"timezone"`
	}
	st := f.do("GET", "/api/v1/subscribers/"+url.PathEscape(email), nil, &s)
	return s.Timezone, st
}
