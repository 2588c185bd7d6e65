package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// zoneTests cover readers' time zones and the runs of local digests.
var zoneTests = []test{
	{"SubscriberTimezone", testSubscriberTimezone},
	{"ZonedRuns", testZonedRuns},
	{"ZonedRunsTakeAReaderOnce", testZonedRunsTakeAReaderOnce},
}

// zoned imports confirmed daily readers, one per zone given ("" for the
// default), and returns their ids in that order.
func zoned(t *testing.T, s *store.Store, prefix string, zones ...string) []int64 {
	t.Helper()
	rows := make([]store.ImportRow, len(zones))
	for i, z := range zones {
		e := fmt.Sprintf("%s%d@x.test", prefix, i)
		rows[i] = store.ImportRow{Line: i + 2, Email: e, Hash: "h-" + e, Status: news.Confirmed,
			Prefs: store.Prefs{Frequency: news.Daily, Lang: news.French, Timezone: z}}
	}
	_, err := s.ImportBatch(ctx, rows, now())
	check(t, err)
	ids := make([]int64, len(zones))
	for i, r := range rows {
		sub, err := s.SubscriberByEmail(ctx, r.Email)
		check(t, err)
		if sub.Timezone != zones[i] {
			t.Fatalf("imported %s with zone %q, reads %q", r.Email, zones[i], sub.Timezone)
		}
		ids[i] = sub.ID
	}
	return ids
}

// testSubscriberTimezone: a reader's zone is kept by sign-up, a new
// request, preferences and import, and read back by every way a
// subscriber is read.
func testSubscriberTimezone(t *testing.T, s *store.Store) {
	t0 := now()
	id, _, err := s.Subscribe(ctx, "z@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French, Timezone: "America/Montreal"}, t0)
	check(t, err)
	zoneOf := func() string {
		t.Helper()
		a, err := s.SubscriberByEmail(ctx, "z@x.test")
		check(t, err)
		b, err := s.SubscriberByID(ctx, id)
		check(t, err)
		if a.Timezone != b.Timezone {
			t.Fatalf("by email %q, by id %q", a.Timezone, b.Timezone)
		}
		return a.Timezone
	}
	if z := zoneOf(); z != "America/Montreal" {
		t.Fatalf("after sign-up: %q", z)
	}
	_, _, err = s.Subscribe(ctx, "z@x.test", store.Prefs{Frequency: news.Daily, Lang: news.French, Timezone: "Pacific/Noumea"}, t0)
	check(t, err)
	if z := zoneOf(); z != "Pacific/Noumea" {
		t.Fatalf("after a new request: %q", z)
	}
	check(t, s.UpdatePrefs(ctx, id, store.Prefs{Frequency: news.Weekly, Lang: news.English, Timezone: "Asia/Kathmandu"}, t0))
	if z := zoneOf(); z != "Asia/Kathmandu" {
		t.Fatalf("after preferences: %q", z)
	}
	found, err := s.SearchSubscribers(ctx, "z@x", 5)
	check(t, err)
	if len(found) != 1 || found[0].Timezone != "Asia/Kathmandu" {
		t.Fatalf("search: %+v", found)
	}
	var exported string
	check(t, s.EachSubscriber(ctx, func(sub news.Subscriber) error {
		if sub.ID == id {
			exported = sub.Timezone
		}
		return nil
	}))
	if exported != "Asia/Kathmandu" {
		t.Fatalf("export: %q", exported)
	}
	zoned(t, s, "imp", "Africa/Dakar", "")
}

// testZonedRuns: the zones in use; one run per slot however many
// instances fire it; zoned runs open side by side (and beside a run of
// the fixed schedule); a run takes the readers of its zones whose ledger
// is below its key, and a reader's next firing of the same wall time
// (their zone changed) finds them served.
func testZonedRuns(t *testing.T, s *store.Store) {
	t0 := now()
	ids := zoned(t, s, "r", "Europe/Paris", "America/Montreal", "", "Europe/Paris")
	zones, err := s.DigestZones(ctx, news.Daily)
	check(t, err)
	if !slices.Equal(zones, []string{"", "America/Montreal", "Europe/Paris"}) {
		t.Fatalf("zones %q", zones)
	}
	art, _, err := s.SaveArticle(ctx, news.Article{GUID: "a", URL: "https://n.test/a", Title: "A", PublishedAt: t0, CreatedAt: t0})
	check(t, err)

	seven := time.Date(2026, 12, 8, 7, 0, 0, 0, time.UTC).UnixMilli() // 07:00 on the 8th, on any clock
	slot := time.Date(2026, 12, 8, 6, 0, 0, 0, time.UTC)              // 07:00 in Paris
	open, _, err := s.CreateRun(ctx, news.Daily, t0, "editor")
	check(t, err)
	id, created, err := s.CreateZonedRun(ctx, news.Daily, slot, map[string]int64{"Europe/Paris": seven}, "schedule")
	check(t, err)
	again, created2, err := s.CreateZonedRun(ctx, news.Daily, slot, map[string]int64{"Europe/Paris": seven}, "schedule")
	check(t, err)
	if !created || created2 || again != id || id == open {
		t.Fatalf("slot run %d (%v), again %d (%v), fixed run %d", id, created, again, created2, open)
	}
	run, err := s.Run(ctx, id)
	check(t, err)
	if !run.Zoned {
		t.Fatalf("run %+v not zoned", run)
	}
	batch, err := s.EligibleZonedBatch(ctx, run, 0, 10)
	check(t, err)
	if len(batch) != 2 || batch[0].ID != ids[0] || batch[1].ID != ids[3] || batch[0].Key != seven {
		t.Fatalf("Paris slot takes %+v, want readers %d and %d", batch, ids[0], ids[3])
	}
	items := []store.DigestItem{{SubscriberID: ids[0], Articles: []int64{art}}} // ids[3] has nothing new
	ok, err := s.EnqueueZonedBatch(ctx, run, 0, ids[3], items, batch, t0)
	check(t, err)
	check(t, s.FinishEnqueue(ctx, id))
	run, err = s.Run(ctx, id)
	check(t, err)
	if !ok || run.Recipients != 2 || run.SkippedEmpty != 1 {
		t.Fatalf("enqueued %v: %+v", ok, run)
	}

	// The Montréal slot, five hours later, while the Paris run still
	// sends: a run of its own. The Paris reader who moved to Montréal
	// meanwhile already had this wall time's digest.
	check(t, s.UpdatePrefs(ctx, ids[0], store.Prefs{Frequency: news.Daily, Lang: news.French, Timezone: "America/Montreal"}, t0))
	id2, created, err := s.CreateZonedRun(ctx, news.Daily, slot.Add(6*time.Hour), map[string]int64{"America/Montreal": seven}, "schedule")
	check(t, err)
	run2, err := s.Run(ctx, id2)
	check(t, err)
	batch, err = s.EligibleZonedBatch(ctx, run2, 0, 10)
	check(t, err)
	if !created || id2 == id || len(batch) != 1 || batch[0].ID != ids[1] {
		t.Fatalf("Montréal slot %d (%v) takes %+v, want reader %d alone", id2, created, batch, ids[1])
	}

	// A run now while digests follow readers' zones takes everyone and
	// leaves their ledger as it is.
	id3, _, err := s.CreateZonedRun(ctx, news.Daily, t0.Add(time.Second), map[string]int64{store.AllZones: 0}, "editor")
	check(t, err)
	run3, err := s.Run(ctx, id3)
	check(t, err)
	batch, err = s.EligibleZonedBatch(ctx, run3, 0, 10)
	check(t, err)
	if len(batch) != 4 {
		t.Fatalf("run now takes %+v, want the 4 readers", batch)
	}
	ok, err = s.EnqueueZonedBatch(ctx, run3, 0, ids[3], nil, batch, t0)
	check(t, err)
	if !ok || countRows(t, s, fmt.Sprintf("SELECT COUNT(*) FROM subscribers WHERE digest_key = %d", seven)) != 2 {
		t.Fatalf("run now moved the ledger")
	}
}

// testZonedRunsTakeAReaderOnce: two zoned runs that read the same reader
// before either wrote (two slots' runs enqueuing at once on two
// instances, a run now beside a slot) give them one digest: the second
// finds the cursor moved and drops theirs.
func testZonedRunsTakeAReaderOnce(t *testing.T, s *store.Store) {
	t0 := now()
	ids := zoned(t, s, "o", "Asia/Kolkata", "Asia/Kathmandu")
	art, _, err := s.SaveArticle(ctx, news.Article{GUID: "a", URL: "https://n.test/a", Title: "A", PublishedAt: t0, CreatedAt: t0})
	check(t, err)
	seven := time.Date(2026, 12, 8, 7, 0, 0, 0, time.UTC).UnixMilli()
	a, _, err := s.CreateZonedRun(ctx, news.Daily, time.Date(2026, 12, 8, 1, 15, 0, 0, time.UTC), map[string]int64{"Asia/Kathmandu": seven}, "schedule")
	check(t, err)
	b, _, err := s.CreateZonedRun(ctx, news.Daily, t0, map[string]int64{store.AllZones: 0}, "editor")
	check(t, err)
	runA, err := s.Run(ctx, a)
	check(t, err)
	runB, err := s.Run(ctx, b)
	check(t, err)
	batchA, err := s.EligibleZonedBatch(ctx, runA, 0, 10)
	check(t, err)
	batchB, err := s.EligibleZonedBatch(ctx, runB, 0, 10)
	check(t, err)
	if len(batchA) != 1 || len(batchB) != 2 {
		t.Fatalf("batches %+v %+v", batchA, batchB)
	}
	item := func(id int64) store.DigestItem { return store.DigestItem{SubscriberID: id, Articles: []int64{art}} }
	okB, err := s.EnqueueZonedBatch(ctx, runB, 0, ids[1], []store.DigestItem{item(ids[0]), item(ids[1])}, batchB, t0)
	check(t, err)
	okA, err := s.EnqueueZonedBatch(ctx, runA, 0, ids[1], []store.DigestItem{item(ids[1])}, batchA, t0)
	check(t, err)
	if !okA || !okB {
		t.Fatalf("batches refused: %v %v", okA, okB)
	}
	if n := countRows(t, s, fmt.Sprintf("SELECT COUNT(*) FROM deliveries WHERE kind = 'digest' AND subscriber_id = %d", ids[1])); n != 1 {
		t.Fatalf("the Kathmandu reader has %d digests, want 1", n)
	}
	runA, err = s.Run(ctx, a)
	check(t, err)
	if runA.Recipients != 0 {
		t.Fatalf("the slot counts %d recipients for a reader it did not take", runA.Recipients)
	}
	// Their ledger still lacks the 07:00 firing (the run now does not
	// count): the next slot of that wall time would take them.
	runA2, _, err := s.CreateZonedRun(ctx, news.Daily, time.Date(2026, 12, 8, 1, 16, 0, 0, time.UTC), map[string]int64{"Asia/Kathmandu": seven}, "schedule")
	check(t, err)
	ri, err := s.Run(ctx, runA2)
	check(t, err)
	if batch, err := s.EligibleZonedBatch(ctx, ri, 0, 10); err != nil || len(batch) != 1 {
		t.Fatalf("after a run now: %+v %v", batch, err)
	}
}
