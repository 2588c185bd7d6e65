package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/e2e/e2etest"
)

// inNetNSQuiet marks the re-executed test binary of TestFirefoxQuietHours.
const inNetNSQuiet = "CRIEUR_E2E_FIREFOX_QUIET_NETNS"

// nightZones are zones far enough apart that it is night (22:00-06:00) in
// one of them whenever the test runs.
var nightZones = []string{"Pacific/Auckland", "Asia/Tokyo", "Asia/Bangkok", "Asia/Kathmandu", "Asia/Kolkata", "Asia/Dubai",
	"Europe/Moscow", "Europe/Paris", "Atlantic/Azores", "America/Sao_Paulo", "America/New_York", "America/Chicago",
	"America/Denver", "America/Los_Angeles", "Pacific/Honolulu"}

// TestFirefoxQuietHours: Firefox ESR runs in a zone where it is night (TZ),
// a reader ticks the widget's "Pas d'alerte entre 22:00 et HH:MM" and
// subscribes; crieur stores the browser's own zone. A breaking alert
// reaches Firefox at once; a normal one is held, and reaches it only when
// the quiet hours end, with what is left of its TTL.
//
// The clock: crieur runs on the real time, with no test hook. The quiet
// hours are the publisher's choice (data-quiet) and end at a minute
// boundary; the test picks them to start at 22:00 and end at the first
// minute boundary at least 45 s after the page loads, so the held alert
// waits 10 s to 1 min 45 s instead of a night. The same code path holds
// it as for 07:00 (TestQuietHoursAndCaps covers the arithmetic, with a
// controlled clock, across days and DST).
//
// It runs without a CPU slot (e2etest.ParallelWaiting): Firefox's start
// takes 5 to 25 s, then the held alert waits most of the test.
func TestFirefoxQuietHours(t *testing.T) {
	runInNetNS(t, e2etest.ParallelWaiting, inNetNSQuiet, "TestFirefoxQuietHours", 190*time.Second, firefoxQuiet)
}

// nightZone returns a zone where it is between 22:00 and 06:00 at now.
func nightZone(t *testing.T, now time.Time) (string, *time.Location) {
	t.Helper()
	for _, z := range nightZones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			continue
		}
		if h := now.In(loc).Hour(); h >= 22 || h < 6 {
			return z, loc
		}
	}
	t.Fatalf("no zone of %v is at night at %v", nightZones, now)
	return "", nil
}

// firefoxQuiet is the test proper, run inside the network namespace.
func firefoxQuiet(t *testing.T, firefox string) {
	ctx, cancel := context.WithTimeout(t.Context(), 180*time.Second)
	defer cancel()
	dir, ap, pub, crieur, token := ffSetup(t, "politique")

	now := time.Now()
	zone, loc := nightZone(t, now)
	end := now.Add(45 * time.Second).Truncate(time.Minute).Add(time.Minute)
	to := end.In(loc).Format("15:04")
	pub.attrs.Store(fmt.Sprintf(`data-quiet="22:00-%s"`, to))
	t.Logf("Firefox in %s, where it is %s; quiet hours 22:00-%s", zone, now.In(loc).Format("15:04:05"), to)
	startFirefox(t, firefox, filepath.Join(dir, "profile"), ap.WebSocketURL(), pub.srv.URL+"/", "TZ="+zone)

	var v ffView
	ffDecode(t, pub.next(ctx, t, "loaded").Result, &v)
	if want := "Pas d’alerte entre 22:00 et " + to + ", sauf urgence"; v.Quiet != want || v.State.Timezone != zone {
		t.Fatalf("widget offers %q in zone %q, want %q in %s", v.Quiet, v.State.Timezone, want, zone)
	}
	v = pub.do(ctx, t, "ui-enable-quiet")
	if !v.State.Enabled || !v.State.Quiet {
		t.Fatalf("after opting in with quiet hours: %+v", v)
	}
	db := e2etest.OpenDB(t, crieur.Env)
	var storedZone string
	var from, until int
	if err := db.QueryRow("SELECT timezone, quiet_from, quiet_to FROM push_subscriptions").Scan(&storedZone, &from, &until); err != nil {
		t.Fatal(err)
	}
	if endLocal := end.In(loc); storedZone != zone || from != 22*60 || until != endLocal.Hour()*60+endLocal.Minute() {
		t.Fatalf("crieur stored zone %q quiet %d-%d, want %s 1320-%s", storedZone, from, until, zone, to)
	}
	if time.Now().After(end.Add(-10 * time.Second)) {
		t.Fatalf("subscribing took until %v, too close to the end of the quiet hours (%v)", time.Now(), end)
	}

	send := func(priority, title string) string {
		t.Helper()
		var created struct{ ID string }
		body := map[string]any{"title": title, "body": "…", "url": "https://journal.example/" + priority, "priority": priority}
		if st := crieur.Do(t, "POST", "/api/v1/alerts", token, body, &created); st != 202 {
			t.Fatalf("POST alert: %d", st)
		}
		return created.ID
	}
	breaking := send("breaking", "Séisme au large de Dakar")
	if got := pub.next(ctx, t, "push"); got.Payload["alert_id"] != breaking || !got.Shown {
		t.Fatalf("breaking alert in quiet hours: got %+v", got)
	}
	if time.Now().After(end) {
		t.Fatal("the breaking alert arrived after the quiet hours ended: proves nothing")
	}
	normal := send("normal", "Le budget adopté en commission")
	sentAt := time.Now()
	// Held: the alert is sending with nothing delivered, until the end.
	e2etest.WaitFor(t, 5*time.Second, "the normal alert held", func() bool {
		var a e2eAlert
		crieur.Do(t, "GET", "/api/v1/alerts/"+normal, token, nil, &a)
		return a.Targeted == 1 && a.Delivered == 0 && a.State == "sending" && e2etest.Count(t, crieur.Env,
			"SELECT COUNT(*) FROM push_deliveries WHERE state = 'pending' AND last_error LIKE 'held: quiet hours until%'") == 1
	})
	got := pub.next(ctx, t, "push")
	arrived := time.Now()
	if got.Payload["alert_id"] != normal || !got.Shown || !strings.Contains(strings.Join(got.Notifications, "|"), "Le budget adopté") {
		t.Fatalf("after the quiet hours: got %+v", got)
	}
	if arrived.Before(end) {
		t.Fatalf("the normal alert arrived at %v, before the quiet hours ended at %v", arrived, end)
	}
	t.Logf("normal alert held %v, arrived %v after the quiet hours ended", end.Sub(sentAt).Round(time.Millisecond), arrived.Sub(end).Round(time.Millisecond))
	msgs := ap.Sent()
	if len(msgs) != 2 || msgs[1].TTL > time.Hour-end.Sub(sentAt)+time.Second {
		t.Fatalf("push service got %d messages, the held one with TTL %v: want what is left of the hour", len(msgs), msgs[len(msgs)-1].TTL)
	}
	ffWaitAlert(ctx, t, crieur, token, normal, 1, 1)

	// crieur loses the subscription (as after a 410, or a database
	// restored from a backup); the next page load, a day later, sends it
	// again with its zone and quiet hours.
	endpoint := v.State.Endpoint
	if st := crieur.Do(t, "DELETE", "/api/v1/push/subscriptions", "", map[string]string{"endpoint": endpoint}, nil); st != 204 {
		t.Fatalf("DELETE subscription: %d", st)
	}
	pub.do(ctx, t, "age-prefs")
	pub.do(ctx, t, "reload")
	pub.next(ctx, t, "loaded")
	e2etest.WaitFor(t, 20*time.Second, "the widget sending its subscription again", func() bool {
		var ep, tz string
		var qf int
		err := db.QueryRow("SELECT endpoint, timezone, quiet_from FROM push_subscriptions").Scan(&ep, &tz, &qf)
		return err == nil && ep == endpoint && tz == zone && qf == 22*60
	})
}
