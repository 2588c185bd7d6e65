package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// bounceTests cover bounces and complaints: the soft-bounce window, hard
// bounces and complaints, the same report told twice, parked reports,
// health per run, and push subscriptions aging out.
var bounceTests = []test{
	{"SoftBounceWindow", testSoftBounceWindow},
	{"HardBounceAndComplaint", testHardBounceAndComplaint},
	{"BounceHealth", testBounceHealth},
	{"ParkedReports", testParkedReports},
	{"PushPrune", testPushPrune},
}

var softPolicy = store.SoftPolicy{Count: 3, Window: 15 * 24 * time.Hour}

// hashOf is the suppression hash confirmed() gives its readers.
func hashOf(email string) string { return "h-" + email }

func status(t *testing.T, s *store.Store, id int64) news.Status {
	t.Helper()
	sub, err := s.SubscriberByID(ctx, id)
	check(t, err)
	return sub.Status
}

func testSoftBounceWindow(t *testing.T, s *store.Store) {
	ids := confirmed(t, s, "soft", 2, news.Daily)
	spread, close := ids[0], ids[1]
	day := 24 * time.Hour
	t0 := now().Add(-60 * day)
	soft := func(id int64, at time.Time) store.BounceResult {
		t.Helper()
		r, err := s.RecordBounce(ctx, store.Bounce{SubscriberID: id, At: at, Kind: store.BounceSoft, Status: "4.2.2", Source: "test"}, hashOf, softPolicy)
		check(t, err)
		if !r.Recorded {
			t.Fatalf("soft bounce at %v not recorded", at)
		}
		return r
	}
	// Three soft bounces, but never three within 15 days: still confirmed.
	for _, d := range []int{0, 10, 20, 30} {
		if r := soft(spread, t0.Add(time.Duration(d)*day)); r.Became != "" {
			t.Fatalf("soft bounce on day %d made the reader %s", d, r.Became)
		}
	}
	if st := status(t, s, spread); st != news.Confirmed {
		t.Fatalf("reader with spread soft bounces is %s, want confirmed", st)
	}
	// Three within 15 days (days 0, 7, 14): bounced at the third.
	soft(close, t0)
	if r := soft(close, t0.Add(7*day)); r.Became != "" {
		t.Fatalf("second soft bounce made the reader %s", r.Became)
	}
	if r := soft(close, t0.Add(14*day)); r.Became != news.Bounced {
		t.Fatalf("third soft bounce within 15 days: became %q, want bounced", r.Became)
	}
	if st := status(t, s, close); st != news.Bounced {
		t.Fatalf("status %s, want bounced", st)
	}
	if hard, err := s.HardSuppressed(ctx, "h-soft1@x.test"); err != nil || !hard {
		t.Fatalf("bounced reader not hard-suppressed: %v %v", hard, err)
	}
	bs, err := s.Bounces(ctx, close, 10)
	check(t, err)
	if len(bs) != 3 || bs[0].Kind != store.BounceSoft || bs[0].Status != "4.2.2" || !bs[0].At.Equal(t0.Add(14*day)) {
		t.Fatalf("history %+v", bs)
	}
}

func testHardBounceAndComplaint(t *testing.T, s *store.Store) {
	ids := confirmed(t, s, "hard", 2, news.Daily)
	hard, plaint := ids[0], ids[1]
	t0 := now()
	// A digest queued for both: a bounce cancels what waits.
	id, _, err := s.CreateRun(ctx, news.Daily, t0, "test")
	check(t, err)
	claimed := store.Delivery{ID: queue(t, s, id, hard, news.DeliverySent, t0), SubscriberID: hard}
	queue(t, s, id, plaint, news.DeliveryPending, t0)

	// The claimed delivery bounces: its reader and run come from it.
	r, err := s.RecordBounce(ctx, store.Bounce{DeliveryID: claimed.ID, At: t0, Kind: store.BounceHard, Status: "5.1.1", Diagnostic: "no such user", Source: "smtp"}, hashOf, softPolicy)
	check(t, err)
	if !r.Recorded || r.Became != news.Bounced {
		t.Fatalf("hard bounce: %+v", r)
	}
	// Told again (a provider retrying): nothing more.
	r, err = s.RecordBounce(ctx, store.Bounce{DeliveryID: claimed.ID, At: t0.Add(time.Minute), Kind: store.BounceHard, Status: "5.1.1", Source: "smtp"}, hashOf, softPolicy)
	check(t, err)
	if r.Recorded || r.Became != "" {
		t.Fatalf("the same bounce twice: %+v", r)
	}
	bs, err := s.Bounces(ctx, claimed.SubscriberID, 10)
	check(t, err)
	if len(bs) != 1 || bs[0].RunID != id || bs[0].DeliveryID != claimed.ID || bs[0].Diagnostic != "no such user" {
		t.Fatalf("history %+v", bs)
	}
	other := plaint
	// A complaint by address (no delivery): complained, its digest cancelled.
	r, err = s.RecordBounce(ctx, store.Bounce{SubscriberID: other, At: t0, Kind: store.BounceComplaint, Source: "ses"}, hashOf, softPolicy)
	check(t, err)
	if r.Became != news.Complained || status(t, s, other) != news.Complained {
		t.Fatalf("complaint: %+v, status %s", r, status(t, s, other))
	}
	if n := countRows(t, s, fmt.Sprintf("SELECT COUNT(*) FROM deliveries WHERE subscriber_id = %d AND state = 'pending'", other)); n != 0 {
		t.Fatalf("%d emails still queued for a complained reader", n)
	}
	// A later hard bounce does not undo the complaint.
	r, err = s.RecordBounce(ctx, store.Bounce{SubscriberID: other, At: t0.Add(time.Hour), Kind: store.BounceHard, Source: "ses"}, hashOf, softPolicy)
	check(t, err)
	if !r.Recorded || r.Became != "" || status(t, s, other) != news.Complained {
		t.Fatalf("hard after complaint: %+v, status %s", r, status(t, s, other))
	}
	// An earlier unsubscribe's suppression becomes a hard one.
	u := confirmed(t, s, "unsub", 1, news.Daily)[0]
	check(t, s.Unsubscribe(ctx, u, "h-unsub0@x.test", "unsubscribed", t0))
	if h, err := s.HardSuppressed(ctx, "h-unsub0@x.test"); err != nil || h {
		t.Fatalf("an unsubscribe is a hard suppression (%v)", err)
	}
	_, err = s.RecordBounce(ctx, store.Bounce{SubscriberID: u, At: t0, Kind: store.BounceHard, Source: "imap"}, hashOf, softPolicy)
	check(t, err)
	if h, _ := s.HardSuppressed(ctx, "h-unsub0@x.test"); !h || status(t, s, u) != news.Bounced {
		t.Fatalf("bounce after unsubscribe: hard=%v status=%s", h, status(t, s, u))
	}
	if _, err := s.RecordBounce(ctx, store.Bounce{SubscriberID: 999999, At: t0, Kind: store.BounceHard, Source: "x"}, hashOf, softPolicy); err == nil {
		t.Fatal("a bounce for no reader was recorded")
	}
	// Erasing the reader erases their history.
	check(t, s.Erase(ctx, u, "h-unsub0@x.test", t0))
	if n := countRows(t, s, fmt.Sprintf("SELECT COUNT(*) FROM bounces WHERE subscriber_id = %d", u)); n != 0 {
		t.Fatalf("%d bounces left after erasure", n)
	}
	// An export's bounced row imported back: the reader is bounced, the
	// address suppressed for good; a complained reader stays complained.
	back := confirmed(t, s, "back", 1, news.Daily)[0]
	out, err := s.ImportBatch(ctx, []store.ImportRow{
		{Line: 2, Email: "back0@x.test", Hash: "h-back0@x.test", Status: news.Bounced, Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French}},
		{Line: 3, Email: "hard1@x.test", Hash: "h-hard1@x.test", Status: news.Bounced, Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French}},
	}, t0)
	check(t, err)
	if out[0] != store.ImportedUnsubscribed || status(t, s, back) != news.Bounced || status(t, s, other) != news.Complained {
		t.Fatalf("import of bounced rows: %v, back %s, complained reader %s", out, status(t, s, back), status(t, s, other))
	}
	if h, _ := s.HardSuppressed(ctx, "h-back0@x.test"); !h {
		t.Fatal("an imported bounced row is not a hard suppression")
	}
	days, err := s.BouncesByDay(ctx, t0.Add(-48*time.Hour))
	check(t, err)
	var h, c int64
	for _, d := range days {
		h, c = h+d.Hard, c+d.Complaints
	}
	if h != 2 || c != 1 {
		t.Fatalf("by day %+v: %d hard, %d complaints; want 2, 1", days, h, c)
	}
}

func testBounceHealth(t *testing.T, s *store.Store) {
	readers := confirmed(t, s, "hl", 5, news.Daily)
	t0 := now()
	id, _, err := s.CreateRun(ctx, news.Daily, t0, "test")
	check(t, err)
	var dels []int64
	for _, r := range readers[:4] {
		dels = append(dels, queue(t, s, id, r, news.DeliverySent, t0))
	}
	queue(t, s, id, readers[4], news.DeliveryFailed, t0) // not sent: not counted
	// One hard bounce and a soft one for the same email count once; one complaint.
	for _, b := range []store.Bounce{
		{DeliveryID: dels[0], Kind: store.BounceSoft},
		{DeliveryID: dels[0], Kind: store.BounceHard},
		{DeliveryID: dels[1], Kind: store.BounceComplaint},
	} {
		b.At, b.Source = t0, "test"
		_, err := s.RecordBounce(ctx, b, nil, softPolicy)
		check(t, err)
	}
	hs, err := s.RunHealth(ctx, 5)
	check(t, err)
	if len(hs) != 1 || hs[0].ID != id || hs[0].Sent != 4 || hs[0].Bounced != 1 || hs[0].Complaints != 1 || hs[0].BounceRate() != 0.25 {
		t.Fatalf("run health %+v", hs)
	}
	as, err := s.AlertEmailHealth(ctx, 5)
	check(t, err)
	if len(as) != 0 {
		t.Fatalf("alert health with no alert: %+v", as)
	}
}

func testParkedReports(t *testing.T, s *store.Store) {
	t0 := now()
	raw := []byte("From: mailer-daemon\r\n\r\n\xff\xfe not UTF-8")
	check(t, s.Park(ctx, store.Parked{At: t0, Source: "smtp", Reason: "unparsable", Size: 9000, Raw: raw}))
	ps, total, err := s.ParkedReports(ctx, 10)
	check(t, err)
	if total != 1 || len(ps) != 1 || ps[0].Source != "smtp" || ps[0].Size != 9000 || ps[0].Raw != nil {
		t.Fatalf("parked %+v (%d)", ps, total)
	}
	p, err := s.ParkedReport(ctx, ps[0].ID)
	check(t, err)
	if string(p.Raw) != string(raw) || !p.At.Equal(t0) {
		t.Fatalf("parked report %+v", p)
	}
	if _, err := s.ParkedReport(ctx, ps[0].ID+100); err == nil {
		t.Fatal("an unknown parked report was found")
	}
}

func testPushPrune(t *testing.T, s *store.Store) {
	day := 24 * time.Hour
	t0 := now().Add(-200 * day)
	at := func(d int) time.Time { return t0.Add(time.Duration(d) * day) }
	sub := func(name string) int64 {
		id, _, err := s.SavePushSubscription(ctx, news.PushSubscription{Endpoint: "https://push.test/" + name, P256dh: "p", Auth: "a", Lang: news.French}, nil, t0)
		check(t, err)
		return id
	}
	failing, recovered, stale90, quiet, fresh := sub("failing"), sub("recovered"), sub("stale"), sub("quiet"), sub("fresh")
	alerts := map[int]int64{}
	msg := func(id int64, d int, state news.DeliveryState) {
		t.Helper()
		a, ok := alerts[d]
		if !ok {
			var err error
			a, err = s.CreateAlert(ctx, newAlert(at(d)), nil)
			check(t, err)
			alerts[d] = a
		}
		_, err := s.DB().ExecContext(ctx, fmt.Sprintf("INSERT INTO push_deliveries (alert_id, subscription_id, state, next_attempt_at, created_at) VALUES (%d, %d, '%s', %d, %d)",
			a, id, state, at(d).UnixMilli(), at(d).UnixMilli()))
		check(t, err)
	}
	// failing: delivered on day 100, then every message failed from day 150.
	msg(failing, 100, news.DeliverySent)
	msg(failing, 150, news.DeliveryFailed)
	msg(failing, 190, news.DeliveryFailed)
	// recovered: failed on day 150, delivered on day 190.
	msg(recovered, 150, news.DeliveryFailed)
	msg(recovered, 190, news.DeliverySent)
	// stale90: a delivery on day 100 (over 90 days ago), then failures
	// on days 175 and 195, none of them 30 days old.
	msg(stale90, 100, news.DeliverySent)
	msg(stale90, 175, news.DeliveryFailed)
	msg(stale90, 195, news.DeliveryFailed)
	// quiet: no message for 150 days (no alert on its topics): kept.
	msg(quiet, 10, news.DeliverySent)
	// fresh: delivered on day 150, failing for 19 days only.
	msg(fresh, 150, news.DeliverySent)
	msg(fresh, 180, news.DeliveryFailed)

	// On day 199 the windows are 30 and 90 days.
	got, err := s.PrunePush(ctx, at(199), 30*day, 90*day)
	check(t, err)
	if got[store.PruneFailing] != 1 || got[store.PruneStale] != 1 {
		t.Fatalf("pruned %v, want 1 failing, 1 stale", got)
	}
	left := map[int64]bool{}
	rows, err := s.DB().QueryContext(ctx, "SELECT id FROM push_subscriptions")
	check(t, err)
	defer rows.Close()
	for rows.Next() {
		var id int64
		check(t, rows.Scan(&id))
		left[id] = true
	}
	check(t, rows.Err())
	if left[failing] || left[stale90] || !left[recovered] || !left[quiet] || !left[fresh] {
		t.Fatalf("left %v; failing=%d recovered=%d stale=%d quiet=%d fresh=%d", left, failing, recovered, stale90, quiet, fresh)
	}
	// Again at once: nothing more.
	got, err = s.PrunePush(ctx, at(199), 30*day, 90*day)
	check(t, err)
	if len(got) != 0 {
		t.Fatalf("second prune %v", got)
	}
	counts, err := s.PushPrunes(ctx, at(190))
	check(t, err)
	if counts[store.PruneFailing] != 1 || counts[store.PruneStale] != 1 {
		t.Fatalf("prune counts %v", counts)
	}
}

// queue stores one digest email of run for a reader in state, queued at
// at, and returns its id.
func queue(t *testing.T, s *store.Store, run, sub int64, state news.DeliveryState, at time.Time) int64 {
	t.Helper()
	_, err := s.DB().ExecContext(ctx, fmt.Sprintf("INSERT INTO deliveries (kind, run_id, subscriber_id, state, next_attempt_at, created_at) VALUES ('%s', %d, %d, '%s', %d, %d)",
		news.MailDigest, run, sub, state, at.UnixMilli(), at.UnixMilli()))
	check(t, err)
	var id int64
	check(t, s.DB().QueryRowContext(ctx, fmt.Sprintf("SELECT MAX(id) FROM deliveries WHERE subscriber_id = %d", sub)).Scan(&id))
	return id
}
