package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// emailTests cover a reader's address as one identity whatever its case.
var emailTests = []test{
	{"EmailCase", testEmailCase},
	{"EmailCaseMigration", testEmailCaseMigration},
}

// testEmailCase checks that a subscriber's address is one identity
// whatever its case: subscribing, looking up, importing and searching.
func testEmailCase(t *testing.T, s *store.Store) {
	t0 := now()
	p := store.Prefs{Frequency: news.Daily, Lang: news.French}
	id, out, err := s.Subscribe(ctx, "Lectrice@Example.COM", p, t0)
	check(t, err)
	if out != store.SubscribeNew {
		t.Fatalf("first subscribe: outcome %d", out)
	}
	again, out, err := s.Subscribe(ctx, "lectrice@example.com", p, t0)
	check(t, err)
	if again != id || out != store.SubscribeResent {
		t.Fatalf("subscribe in another case: id %d outcome %d, want %d resent", again, out, id)
	}
	for _, e := range []string{"lectrice@example.com", "Lectrice@Example.COM", "LECTRICE@EXAMPLE.COM"} {
		sub, err := s.SubscriberByEmail(ctx, e)
		check(t, err)
		if sub.ID != id || sub.Email != "lectrice@example.com" {
			t.Fatalf("lookup %s: %d %q, want %d stored lower-cased", e, sub.ID, sub.Email, id)
		}
	}
	if n := countEmails(t, s, "lectrice@example.com"); n != 1 {
		t.Fatalf("%d rows for one mailbox", n)
	}

	rows := []store.ImportRow{
		{Email: "LECTRICE@example.com", Hash: "h-l", Status: news.Confirmed, Prefs: p},
		{Email: "Nouveau@X.test", Hash: "h-n1", Status: news.Confirmed, Prefs: p},
		{Email: "nouveau@x.test", Hash: "h-n2", Status: news.Confirmed, Prefs: p},
	}
	outs, err := s.ImportBatch(ctx, rows, t0)
	check(t, err)
	if want := []store.ImportOutcome{store.SkippedExisting, store.Imported, store.SkippedExisting}; !slices.Equal(outs, want) {
		t.Fatalf("import outcomes %v, want %v", outs, want)
	}
	n, err := s.SubscriberByEmail(ctx, "NOUVEAU@x.test")
	check(t, err)
	if n.Email != "nouveau@x.test" {
		t.Fatalf("imported as %q, want lower-cased", n.Email)
	}

	found, err := s.SearchSubscribers(ctx, "LECTRICE@", 10)
	check(t, err)
	if len(found) != 1 || found[0].ID != id {
		t.Fatalf("search LECTRICE@: %+v", found)
	}
}

// testEmailCaseMigration replays migration 0005 over addresses stored
// before it: it lower-cases those that collide with no other row, leaves
// colliding ones as they are, and lookups then answer with one row per
// mailbox (the lower-cased one, else the oldest).
func testEmailCaseMigration(t *testing.T, s *store.Store) {
	db := s.DB()
	legacy := []string{"Mixed@x.test", "Dup@x.test", "dup@x.test", "Two@x.test", "TWO@x.test", "plain@x.test"}
	ids := map[string]int64{}
	for _, e := range legacy {
		var id int64
		err := db.QueryRowContext(ctx, fmt.Sprintf(`INSERT INTO subscribers (email, status, frequency, lang, alerts, paused, created_at, confirmed_at, updated_at)
			VALUES ('%s', 'confirmed', 'daily', 'fr', 0, 0, 1, 1, 1) RETURNING id`, e)).Scan(&id)
		check(t, err)
		ids[e] = id
	}
	_, err := db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = 5`)
	check(t, err)
	applied, err := s.Migrate(ctx)
	check(t, err)
	if applied != 1 {
		t.Fatalf("re-applying 0005: %d migrations applied", applied)
	}
	stored := map[int64]string{}
	check(t, s.EachSubscriber(ctx, func(sub news.Subscriber) error {
		stored[sub.ID] = sub.Email
		return nil
	}))
	want := map[string]string{
		"Mixed@x.test": "mixed@x.test", // no collision: lower-cased
		"Dup@x.test":   "Dup@x.test",   // collides with dup@x.test: kept
		"dup@x.test":   "dup@x.test",
		"Two@x.test":   "Two@x.test", // collides with TWO@x.test: both kept
		"TWO@x.test":   "TWO@x.test",
		"plain@x.test": "plain@x.test",
	}
	for before, after := range want {
		if got := stored[ids[before]]; got != after {
			t.Errorf("%s became %q, want %q", before, got, after)
		}
	}
	lookups := map[string]string{"MIXED@x.test": "Mixed@x.test", "DUP@x.test": "dup@x.test", "two@x.test": "Two@x.test"}
	for e, owner := range lookups {
		sub, err := s.SubscriberByEmail(ctx, e)
		check(t, err)
		if sub.ID != ids[owner] {
			t.Errorf("lookup %s: subscriber %d (%s), want %d (%s)", e, sub.ID, sub.Email, ids[owner], owner)
		}
	}
	// Subscribing again lands on an existing row, never a third one.
	id, out, err := s.Subscribe(ctx, "two@X.test", store.Prefs{Frequency: news.Daily, Lang: news.French}, now())
	check(t, err)
	if id != ids["Two@x.test"] || out != store.SubscribeAlreadyConfirmed {
		t.Fatalf("subscribe two@X.test: %d outcome %d, want %d already confirmed", id, out, ids["Two@x.test"])
	}
	if n := countEmails(t, s, "two@x.test"); n != 2 {
		t.Fatalf("%d rows for two@x.test, want the 2 legacy ones", n)
	}
}

// countEmails counts the rows whose address is e in any case.
func countEmails(t *testing.T, s *store.Store, e string) int {
	t.Helper()
	var n int
	check(t, s.DB().QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM subscribers WHERE lower(email) = '%s'`, e)).Scan(&n))
	return n
}
